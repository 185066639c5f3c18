"""The wire format: plain values and raw arrays of plain dtypes only, never pickle."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from cnncourse.grading import protocol


@pytest.mark.parametrize(
    "value",
    [None, True, 3, -(10**30), 2.5, 1 + 2j, "héllo", b"\x00", (1, [2.0, {"k": None}]),
     {"stride": 1, "pad": 0}, np.arange(6.0).reshape(2, 3), np.float32(1.5)],
)  # fmt: skip
def test_allowed_values_round_trip(value):
    decoded = protocol.decode(protocol.encode(value))
    if isinstance(value, np.ndarray):
        np.testing.assert_array_equal(decoded, value)
        assert decoded.dtype == value.dtype
    else:
        assert decoded == value and type(decoded) is type(value)


def test_other_objects_are_refused_so_the_child_sends_a_handle():
    class Cache:
        pass

    with pytest.raises(protocol.Unencodable):
        protocol.encode(Cache())


def test_subclasses_of_allowed_types_are_refused():
    class Sneaky(np.ndarray):
        pass

    with pytest.raises(protocol.Unencodable):
        protocol.encode(np.zeros(2).view(Sneaky))


def test_object_arrays_are_refused():
    with pytest.raises(protocol.Unencodable):
        protocol.encode(np.array([object()]))


ARRAYS = {
    "float64 matrix": np.arange(6.0).reshape(2, 3),
    "float32": np.linspace(-1, 1, 5, dtype=np.float32),
    "int64 3-d": np.arange(24).reshape(2, 3, 4),
    "uint8": np.array([0, 255], dtype=np.uint8),
    "bool": np.array([[True, False]]),
    "complex128": np.array([1 + 2j, -3j]),
    "big-endian float": np.arange(3.0).astype(">f8"),
    "0-d": np.array(2.5),
    "empty": np.zeros((0, 3)),
    "Fortran order": np.asfortranarray(np.arange(12.0).reshape(3, 4)),
    "transposed view": np.arange(12.0).reshape(3, 4).T,
    "strided view": np.arange(20.0).reshape(4, 5)[::2, 1::2],
    "datetime64": np.array(["2026-12-04"], dtype="datetime64[D]"),
    "unicode": np.array(["conv", "pool"]),
    "bytes": np.array([b"ab", b"c"]),
}


@pytest.mark.parametrize("name", ARRAYS)
def test_arrays_round_trip_with_dtype_shape_and_values(name):
    value = ARRAYS[name]
    decoded = protocol.decode(protocol.encode(value))
    assert type(decoded) is np.ndarray
    assert (decoded.dtype, decoded.shape) == (value.dtype, value.shape), (
        f"{name}: sent {value.dtype} {value.shape}, got {decoded.dtype} {decoded.shape}"
    )
    np.testing.assert_array_equal(decoded, value, err_msg=name)


def test_decoded_arrays_are_writable_so_in_place_code_works():
    decoded = protocol.decode(protocol.encode(np.zeros(3)))
    decoded += 1.0
    np.testing.assert_array_equal(decoded, np.ones(3))


def test_numpy_scalars_keep_their_type():
    for value in (np.float32(1.5), np.int64(-7), np.bool_(True), np.complex64(1j)):
        decoded = protocol.decode(protocol.encode(value))
        assert type(decoded) is type(value) and decoded == value, (value, decoded)


def test_structured_arrays_are_refused_so_the_child_sends_a_handle():
    with pytest.raises(protocol.Unencodable):
        protocol.encode(np.zeros(2, dtype=[("a", "f8"), ("b", "i4")]))


def _array_message(dtype: bytes, order: bytes, shape: tuple, data: bytes) -> bytes:
    body = bytes([len(dtype)]) + dtype + order + bytes([len(shape)])
    body += b"".join(n.to_bytes(8, "big") for n in shape) + data
    return b"a" + len(body).to_bytes(4, "big") + body


@pytest.mark.parametrize(
    "message, why",
    [
        (_array_message(b"|O", b"C", (1,), bytes(8)), "object dtype"),
        (_array_message(b"f8,i4", b"C", (1,), bytes(12)), "structured dtype"),
        (_array_message(b"not a dtype", b"C", (1,), bytes(8)), "unknown dtype"),
        (_array_message(b"<f8", b"X", (1,), bytes(8)), "unknown order"),
        (_array_message(b"<f8", b"C", (2, 3), bytes(40)), "too few bytes for the shape"),
        (_array_message(b"<f8", b"C", (2,), bytes(24)), "too many bytes for the shape"),
        (_array_message(b"<f8", b"C", (2**62, 2**62), bytes(8)), "a huge shape"),
        (b"a\x00\x00\x00\x02\x03<f", "truncated header"),
    ],
)
def test_malformed_arrays_are_protocol_errors(message, why):
    with pytest.raises(protocol.ProtocolError):
        protocol.decode(message)
        pytest.fail(f"decoded an array with {why}")


def test_a_pickled_array_payload_is_rejected_not_unpickled():
    import io

    buffer = io.BytesIO()
    np.save(buffer, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    blob = buffer.getvalue()
    message = b"a" + len(blob).to_bytes(4, "big") + blob
    with pytest.raises(protocol.ProtocolError):
        protocol.decode(message)


def test_a_raw_pickle_is_not_a_message():
    with pytest.raises(protocol.ProtocolError):
        protocol.decode(pickle.dumps([1, 2]))


def test_truncated_and_trailing_bytes_are_errors():
    data = protocol.encode([1, 2, 3])
    with pytest.raises(protocol.ProtocolError):
        protocol.decode(data[:-1])
    with pytest.raises(protocol.ProtocolError):
        protocol.decode(data + b"N")


def test_nesting_depth_is_bounded():
    data = b"l\x00\x00\x00\x01" * (protocol.MAX_DEPTH + 2) + b"N"
    with pytest.raises(protocol.ProtocolError):
        protocol.decode(data)


def test_handles_keep_only_id_and_type_name():
    handle = protocol.decode(protocol.encode(protocol.Handle(7, "Cache", "<Cache>")))
    assert (handle.id, handle.type_name) == (7, "Cache")
