"""The wire format between the grader and the child that runs a submission.

A message is a 4-byte big-endian length followed by a tagged encoding of one value.
Allowed values: None, bool, int, float, complex, str, bytes, tuple, list, dict (keys of
those kinds), numpy arrays (sent as ``.npy`` bytes, ``allow_pickle=False``), numpy scalars
and opaque :class:`Handle` references. Anything else is refused by :func:`encode`; the child
keeps such objects and sends a handle instead. Nothing is ever unpickled, and the decoder
bounds size and nesting, so a hostile child can send wrong values but never code.

This module is imported by the child too, so it depends on the standard library and numpy
only.
"""

from __future__ import annotations

import io
import os
import struct

import numpy as np

MAX_MESSAGE = 1 << 30  # 1 GiB: far above any course array, far below the grader's memory
MAX_DEPTH = 32
LENGTH = struct.Struct(">I")  # the 4-byte big-endian length before every frame
_F64 = struct.Struct(">d")
_C128 = struct.Struct(">dd")


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


def encode(value: object) -> bytes:
    out = io.BytesIO()
    _encode(value, out, 0)
    return out.getvalue()


def _put_blob(tag: bytes, data: bytes, out: io.BytesIO) -> None:
    out.write(tag)
    out.write(LENGTH.pack(len(data)))
    out.write(data)


def _encode(value: object, out: io.BytesIO, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise Unencodable("nested too deeply")
    # Exact types only (a subclass may override anything); `type(value) is T` also narrows
    # value to T in its branch for the type checker.
    kind = type(value)
    if value is None:
        out.write(b"N")
    elif type(value) is bool:
        out.write(b"T" if value else b"F")
    elif type(value) is int:
        _put_blob(b"i", str(value).encode("ascii"), out)
    elif type(value) is float:
        out.write(b"f" + _F64.pack(value))
    elif type(value) is complex:
        out.write(b"c" + _C128.pack(value.real, value.imag))
    elif type(value) is str:
        _put_blob(b"s", value.encode("utf-8", "surrogatepass"), out)
    elif type(value) is bytes:
        _put_blob(b"b", value, out)
    elif type(value) is np.ndarray:
        _put_blob(b"a", _npy_bytes(value), out)
    elif isinstance(value, np.generic) and kind.__module__ == "numpy":
        _put_blob(b"g", _npy_bytes(np.asarray(value)), out)
    elif type(value) is Handle:
        _put_blob(b"h", f"{value.id}:{value.type_name}:{value.text}".encode(), out)
    elif type(value) is tuple or type(value) is list:
        out.write(b"t" if kind is tuple else b"l")
        out.write(LENGTH.pack(len(value)))
        for item in value:
            _encode(item, out, depth + 1)
    elif type(value) is dict:
        out.write(b"d")
        out.write(LENGTH.pack(len(value)))
        for key, item in value.items():
            if type(key) not in (str, int, float, bool, tuple) and key is not None:
                raise Unencodable(f"dict key of type {type(key).__name__}")
            _encode(key, out, depth + 1)
            _encode(item, out, depth + 1)
    else:
        raise Unencodable(f"values of type {kind.__name__} are not sent")


def _npy_bytes(array: np.ndarray) -> bytes:
    if array.dtype.hasobject:
        raise Unencodable("arrays of Python objects are not sent")
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def decode(data: bytes) -> object:
    reader = _Reader(data)
    value = reader.value(0)
    if reader.pos != len(data):
        raise ProtocolError("trailing bytes after the value")
    return value


class _Reader:
    def __init__(self, data: bytes):
        self.data = memoryview(data)
        self.pos = 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ProtocolError("truncated message")
        chunk = bytes(self.data[self.pos : self.pos + n])
        self.pos += n
        return chunk

    def length(self) -> int:
        return LENGTH.unpack(self.take(4))[0]

    def blob(self) -> bytes:
        return self.take(self.length())

    def value(self, depth: int) -> object:
        if depth > MAX_DEPTH:
            raise ProtocolError("nested too deeply")
        tag = self.take(1)
        simple = {b"N": None, b"T": True, b"F": False}
        if tag in simple:
            return simple[tag]
        if tag == b"i":
            text = self.blob()
            if len(text) > 4300 or not text.lstrip(b"-").isdigit():
                raise ProtocolError("malformed integer")
            return int(text)
        if tag == b"f":
            return _F64.unpack(self.take(8))[0]
        if tag == b"c":
            real, imag = _C128.unpack(self.take(16))
            return complex(real, imag)
        if tag == b"s":
            return self.blob().decode("utf-8", "surrogatepass")
        if tag == b"b":
            return self.blob()
        if tag in (b"a", b"g"):
            array = _load_npy(self.blob())
            return array if tag == b"a" else array[()]
        if tag == b"h":
            return _parse_handle(self.blob())
        if tag in (b"t", b"l"):
            items = [self.value(depth + 1) for _ in range(self.length())]
            return tuple(items) if tag == b"t" else items
        if tag == b"d":
            result = {}
            for _ in range(self.length()):
                key = self.value(depth + 1)
                try:
                    result[key] = self.value(depth + 1)
                except TypeError as exc:  # an unhashable key (a list inside a tuple)
                    raise ProtocolError("unhashable dict key") from exc
            return result
        raise ProtocolError(f"unknown tag {tag!r}")


def _load_npy(blob: bytes) -> np.ndarray:
    try:
        array = np.load(io.BytesIO(blob), allow_pickle=False)
    except Exception as exc:  # np.load raises many kinds on bad input
        raise ProtocolError(f"malformed array: {exc}") from None
    if not isinstance(array, np.ndarray) or array.dtype.hasobject:
        raise ProtocolError("malformed array")
    return array


def _parse_handle(blob: bytes) -> Handle:
    try:
        ident, type_name, text = blob.decode("utf-8").split(":", 2)
        return Handle(int(ident), type_name[:200], text[:500])
    except ValueError:
        raise ProtocolError("malformed handle") from None


# framing over raw file descriptors (blocking); the parent adds its own timeouts


def write_message(fd: int, value: object) -> None:
    payload = encode(value)
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
