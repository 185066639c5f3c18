"""The wire format between the grader and the child that runs a submission.

A message is a 4-byte big-endian length followed by a tagged encoding of one value.
Allowed values: None, bool, int, float, complex, str, bytes, tuple, list, dict (keys of
those kinds), numpy arrays of plain dtypes (booleans, numbers, dates, strings: see
:func:`_array_bytes`), numpy scalars and opaque :class:`Handle` references. Anything else
is refused by :func:`encode`; the child keeps such objects and sends a handle instead.
Nothing is ever unpickled, and the decoder bounds size and nesting, so a hostile child can
send wrong values but never code.

This module is imported by the child too, so it depends on the standard library and numpy
only.
"""

from __future__ import annotations

import math
import os
import struct
from collections.abc import Callable

import numpy as np

MAX_MESSAGE = 1 << 30  # 1 GiB: far above any course array, far below the grader's memory
MAX_DEPTH = 32
LENGTH = struct.Struct(">I")  # the 4-byte big-endian length before every frame
_F64 = struct.Struct(">d")
_C128 = struct.Struct(">dd")
_ARRAY_KINDS = "biufcmMSU"  # dtypes without Python objects or fields; others are not sent


class ProtocolError(Exception):
    """A message that does not follow the format (truncated, oversized, unknown tag...)."""


class Handle:
    """An object that stayed in the child; only its id, type name and repr travel."""

    __slots__ = ("id", "text", "type_name")

    def __init__(self, id: int, type_name: str, text: str = ""):
        self.id = id
        self.type_name = type_name
        self.text = text

    def __repr__(self) -> str:
        return f"<handle to a {self.type_name} object in the student's process>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Handle) and other.id == self.id

    def __hash__(self) -> int:
        return hash(("Handle", self.id))


class Unencodable(TypeError):
    """Raised by :func:`encode` for a value the format does not carry (the child sends a handle)."""


# The child encodes and decodes under its guard's profile function, which runs on every call:
# the codec below makes few calls per value (each costs the child about a microsecond there).


def encode(value: object) -> bytes:
    out: list[bytes] = []
    _encode(value, out.append, 0)
    return b"".join(out)


def _encode(value: object, put: Callable[[bytes], None], depth: int) -> None:
    if depth > MAX_DEPTH:
        raise Unencodable("nested too deeply")
    # Exact types only (a subclass may override anything); `type(value) is T` also narrows
    # value to T in its branch for the type checker.
    kind = type(value)
    if value is None:
        put(b"N")
    elif type(value) is bool:
        put(b"T" if value else b"F")
    elif type(value) is float:
        put(b"f" + _F64.pack(value))
    elif type(value) is int:
        text = b"%d" % value
        put(b"i" + LENGTH.pack(len(text)) + text)
    elif type(value) is str:
        data = value.encode("utf-8", "surrogatepass")
        put(b"s" + LENGTH.pack(len(data)) + data)
    elif type(value) is np.ndarray:
        put(_array_bytes(b"a", value))
    elif type(value) is tuple or type(value) is list:
        put((b"t" if kind is tuple else b"l") + LENGTH.pack(len(value)))
        for item in value:
            _encode(item, put, depth + 1)
    elif type(value) is dict:
        put(b"d" + LENGTH.pack(len(value)))
        for key, item in value.items():
            if type(key) not in _KEY_TYPES:
                raise Unencodable(f"dict key of type {type(key).__name__}")
            _encode(key, put, depth + 1)
            _encode(item, put, depth + 1)
    elif type(value) is complex:
        put(b"c" + _C128.pack(value.real, value.imag))
    elif type(value) is bytes:
        put(b"b" + LENGTH.pack(len(value)) + value)
    elif isinstance(value, np.generic) and kind.__module__ == "numpy":
        put(_array_bytes(b"g", np.asarray(value)))
    elif type(value) is Handle:
        data = f"{value.id}:{value.type_name}:{value.text}".encode()
        put(b"h" + LENGTH.pack(len(data)) + data)
    else:
        raise Unencodable(f"values of type {kind.__name__} are not sent")


_KEY_TYPES = (str, int, float, bool, tuple, type(None))


def _array_bytes(tag: bytes, array: np.ndarray) -> bytes:
    """An array as: dtype string (1-byte length first), order (C or F), ndim, each dimension
    as 8 bytes, then the raw elements. Far cheaper than ``.npy`` (no header to parse), which
    matters on small arrays sent thousands of times per submission."""
    dtype = array.dtype
    if dtype.hasobject:
        raise Unencodable("arrays of Python objects are not sent")
    if dtype.kind not in _ARRAY_KINDS or dtype.fields is not None or dtype.itemsize == 0:
        raise Unencodable(f"arrays of dtype {dtype} are not sent")
    fortran = array.flags.f_contiguous and not array.flags.c_contiguous
    name = dtype.str.encode("ascii")
    header = bytes((len(name),)) + name + (b"F" if fortran else b"C") + bytes((array.ndim,))
    body = header + struct.pack(f">{array.ndim}Q", *array.shape) + array.tobytes("A")
    return tag + LENGTH.pack(len(body)) + body


def decode(data: bytes) -> object:
    reader = _Reader(data)
    value = reader.value(0)
    if reader.pos != len(data):
        raise ProtocolError("trailing bytes after the value")
    return value


class _Reader:
    def __init__(self, data: bytes | memoryview):
        self.data = memoryview(data)
        self.size = len(self.data)
        self.pos = 0

    def take(self, n: int) -> memoryview:
        end = self.pos + n
        if n < 0 or end > self.size:
            raise ProtocolError("truncated message")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def unpack(self, layout: struct.Struct) -> tuple:
        if self.pos + layout.size > self.size:
            raise ProtocolError("truncated message")
        values = layout.unpack_from(self.data, self.pos)
        self.pos += layout.size
        return values

    def blob(self) -> memoryview:
        return self.take(self.unpack(LENGTH)[0])

    def value(self, depth: int) -> object:
        if depth > MAX_DEPTH:
            raise ProtocolError("nested too deeply")
        if self.pos >= self.size:
            raise ProtocolError("truncated message")
        tag = self.data[self.pos]
        self.pos += 1
        if tag in _CONSTANTS:
            return _CONSTANTS[tag]
        if tag == _TAG_FLOAT:
            return self.unpack(_F64)[0]
        if tag == _TAG_INT:
            text = bytes(self.blob())
            if len(text) > 4300 or not text.lstrip(b"-").isdigit():
                raise ProtocolError("malformed integer")
            return int(text)
        if tag == _TAG_STR:
            try:
                return str(self.blob(), "utf-8", "surrogatepass")
            except UnicodeDecodeError:
                raise ProtocolError("malformed string") from None
        if tag in _TAG_ARRAYS:
            array = _load_array(_Reader(self.blob()))
            return array if tag == _TAG_ARRAYS[0] else array[()]
        if tag in _TAG_SEQUENCES:
            items = [self.value(depth + 1) for _ in range(self.unpack(LENGTH)[0])]
            return tuple(items) if tag == _TAG_SEQUENCES[0] else items
        if tag == _TAG_DICT:
            result = {}
            for _ in range(self.unpack(LENGTH)[0]):
                key = self.value(depth + 1)
                try:
                    result[key] = self.value(depth + 1)
                except TypeError as exc:  # an unhashable key (a list inside a tuple)
                    raise ProtocolError("unhashable dict key") from exc
            return result
        if tag == _TAG_COMPLEX:
            real, imag = self.unpack(_C128)
            return complex(real, imag)
        if tag == _TAG_BYTES:
            return bytes(self.blob())
        if tag == _TAG_HANDLE:
            return _parse_handle(bytes(self.blob()))
        raise ProtocolError(f"unknown tag {bytes((tag,))!r}")


_CONSTANTS = {ord("N"): None, ord("T"): True, ord("F"): False}
_TAG_FLOAT, _TAG_INT, _TAG_STR, _TAG_DICT = b"f"[0], b"i"[0], b"s"[0], b"d"[0]
_TAG_COMPLEX, _TAG_BYTES, _TAG_HANDLE = b"c"[0], b"b"[0], b"h"[0]
_TAG_ARRAYS = (b"a"[0], b"g"[0])  # array, numpy scalar
_TAG_SEQUENCES = (b"t"[0], b"l"[0])  # tuple, list


def _load_array(reader: _Reader) -> np.ndarray:
    """The array :func:`_array_bytes` wrote, as a fresh writable array; checks every field."""
    try:
        dtype = np.dtype(str(reader.take(reader.take(1)[0]), "ascii"))
    except (TypeError, ValueError, UnicodeDecodeError):
        raise ProtocolError("malformed array dtype") from None
    if dtype.kind not in _ARRAY_KINDS or dtype.fields is not None or dtype.itemsize == 0:
        raise ProtocolError(f"arrays of dtype {dtype} are not accepted")
    order, ndim = bytes(reader.take(1)), reader.take(1)[0]
    if order not in (b"C", b"F") or ndim > MAX_DEPTH:
        raise ProtocolError("malformed array header")
    shape = reader.unpack(struct.Struct(f">{ndim}Q"))
    data = reader.take(reader.size - reader.pos)
    if math.prod(shape) * dtype.itemsize != len(data):
        raise ProtocolError(f"array data of {len(data)} bytes does not fill the shape {shape}")
    flat = np.frombuffer(bytearray(data), dtype=dtype)
    return flat.reshape(shape, order="F" if order == b"F" else "C")


def _parse_handle(blob: bytes) -> Handle:
    try:
        ident, type_name, text = blob.decode("utf-8").split(":", 2)
        return Handle(int(ident), type_name[:200], text[:500])
    except ValueError:
        raise ProtocolError("malformed handle") from None


# framing over raw file descriptors (blocking); the parent adds its own timeouts


def write_message(fd: int, value: object) -> None:
    write_payload(fd, encode(value))


def write_payload(fd: int, payload: bytes) -> None:
    """One message whose value :func:`encode` already turned into ``payload``."""
    _write_all(fd, LENGTH.pack(len(payload)) + payload)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def read_exact(fd: int, n: int) -> bytes:
    chunks = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            raise EOFError("the other side closed the pipe")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def read_message(fd: int) -> object:
    size = LENGTH.unpack(read_exact(fd, 4))[0]
    if size > MAX_MESSAGE:
        raise ProtocolError(f"message of {size} bytes is over the {MAX_MESSAGE}-byte limit")
    return decode(read_exact(fd, size))
