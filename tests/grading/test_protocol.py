"""The wire format: plain values and .npy arrays only, never pickle."""

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
