"""Wire format between the grader (parent) and the process running student code (child).

This file is imported by both sides and is bind-mounted into the sandbox, so it depends on the
standard library and torch only. Nothing here uses pickle.

A frame is ``len(header) | header | len(blob) | blob`` with 8-byte big-endian lengths. The
header is JSON; tensors travel as raw bytes in the blob and are referenced from the header as
``{"$tensor": i}`` with ``tensors[i] = {"dtype", "shape", "offset", "nbytes"}``. Containers are
tagged (``$tuple``, ``$list``, ``$dict``) so no student value can pose as a tag. A child-side
object that is not plain data travels as ``{"$handle": id, "type": name}``; a torch dtype
as ``{"$dtype": name}``.
"""

from __future__ import annotations

import json
import math
import os
import struct
from dataclasses import dataclass
from typing import Any

import torch

_LENGTH = struct.Struct(">Q")
#: Largest frame either side accepts; a bigger one is a protocol violation.
MAX_FRAME_BYTES = 256 * 1024 * 1024
#: Largest JSON header accepted. Tensors travel in the blob, so headers are small; parsing JSON
#: costs ~20x its size in Python objects, so a 256 MB header could take gigabytes and minutes.
MAX_HEADER_BYTES = 16 * 1024 * 1024
#: Deepest container nesting accepted.
MAX_DEPTH = 32
#: Longest string accepted inside a value.
MAX_STRING = 1 << 20
#: Most values (containers, numbers, strings, tensors ...) in one decoded value.
MAX_VALUES = 1 << 21
#: Most tensors in one decoded value (each costs ~200 bytes of bookkeeping even when empty).
MAX_TENSORS = 100_000
# The tensors of a decoded value hold at most as many bytes as its frame's blob: the encoder
# names every tensor once, so only a forged frame asks for more (one tensor named 400 times).

DTYPES: dict[str, torch.dtype] = {
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "float32": torch.float32,
    "float64": torch.float64,
    "uint8": torch.uint8,
    "int8": torch.int8,
    "int16": torch.int16,
    "int32": torch.int32,
    "int64": torch.int64,
    "bool": torch.bool,
}
_DTYPE_NAMES = {dtype: name for name, dtype in DTYPES.items()}


class ProtocolError(Exception):
    """The other side sent something that is not a well-formed frame of plain data."""


@dataclass(frozen=True)
class Handle:
    """An object that lives on the child side; only its id and type name travel."""

    id: int
    type: str


class _Encoder:
    def __init__(self, store_object: Any) -> None:
        self.tensors: list[dict[str, Any]] = []
        self.chunks: list[bytes] = []
        self.offset = 0
        self.store_object = store_object

    def tensor(self, value: torch.Tensor) -> dict[str, int]:
        value = value.detach().cpu().contiguous()
        name = _DTYPE_NAMES.get(value.dtype)
        if name is None:
            return self.other(value)
        raw = value.view(torch.int16) if value.dtype == torch.bfloat16 else value
        data = raw.numpy().tobytes()
        self.tensors.append(
            {"dtype": name, "shape": list(value.shape), "offset": self.offset, "nbytes": len(data)}
        )
        self.chunks.append(data)
        self.offset += len(data)
        return {"$tensor": len(self.tensors) - 1}

    def other(self, value: Any) -> dict[str, Any]:
        if self.store_object is None:
            raise ProtocolError(f"cannot send an object of type {type(value).__name__}")
        return {"$handle": self.store_object(value), "type": type(value).__qualname__}

    def encode(self, value: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise ProtocolError("value nested too deeply")
        kind = type(value)
        if value is None or kind in (bool, int, str):
            return value
        if kind is float:
            return value if math.isfinite(value) else {"$float": repr(value)}
        if kind is Handle:
            return {"$handle": value.id, "type": value.type}
        if kind is torch.Tensor:
            return self.tensor(value)
        if kind is torch.dtype and value in _DTYPE_NAMES:
            return {"$dtype": _DTYPE_NAMES[value]}
        if kind in (tuple, list):
            tag = "$tuple" if kind is tuple else "$list"
            return {tag: [self.encode(item, depth + 1) for item in value]}
        if kind is dict and all(type(key) is str for key in value):
            return {"$dict": [[key, self.encode(item, depth + 1)] for key, item in value.items()]}
        return self.other(value)


def encode(value: Any, store_object: Any = None) -> tuple[Any, list[dict[str, Any]], bytes]:
    """Encode ``value`` as (JSON tree, tensor table, blob).

    Only exact built-in types and exact ``torch.Tensor`` are sent as data; everything else
    (subclasses, numpy arrays, custom objects) becomes a handle via ``store_object(obj) -> id``,
    or raises ProtocolError when ``store_object`` is None.
    """
    encoder = _Encoder(store_object)
    tree = encoder.encode(value)
    return tree, encoder.tensors, b"".join(encoder.chunks)


def _decode_tensor(spec: Any, blob: bytes) -> torch.Tensor:
    if not isinstance(spec, dict) or set(spec) != {"dtype", "shape", "offset", "nbytes"}:
        raise ProtocolError("malformed tensor description")
    dtype = DTYPES.get(spec["dtype"]) if isinstance(spec["dtype"], str) else None
    shape, offset, nbytes = spec["shape"], spec["offset"], spec["nbytes"]
    if dtype is None or not isinstance(shape, list) or len(shape) > MAX_DEPTH:
        raise ProtocolError("malformed tensor description")
    if not all(type(n) is int and n >= 0 for n in [*shape, offset, nbytes]):
        raise ProtocolError("malformed tensor description")
    itemsize = torch.empty((), dtype=dtype).element_size()
    if math.prod(shape) * itemsize != nbytes or offset + nbytes > len(blob):
        raise ProtocolError("tensor size does not match its data")
    storage_dtype = torch.int16 if dtype == torch.bfloat16 else dtype
    with memoryview(blob) as view:
        data = bytearray(view[offset : offset + nbytes])
    flat = torch.frombuffer(data, dtype=storage_dtype) if nbytes else torch.empty(0, dtype=storage_dtype)
    flat = flat.view(torch.bfloat16) if dtype == torch.bfloat16 else flat
    try:  # a shape torch cannot represent (dims beyond int64, e.g. (0, 2**70)) is not plain data
        return flat.reshape(shape)
    except (RuntimeError, ValueError, TypeError, OverflowError):
        raise ProtocolError("malformed tensor shape") from None


class _Decoder:
    """Decodes one value, counting what it produces against the bounds above."""

    def __init__(self, tensors: Any, blob: bytes) -> None:
        self.tensors, self.blob = tensors, blob
        self.values = self.tensor_count = self.tensor_bytes = 0

    def tensor(self, index: Any) -> torch.Tensor:
        tensors = self.tensors
        if type(index) is not int or not isinstance(tensors, list) or not 0 <= index < len(tensors):
            raise ProtocolError("bad tensor reference")
        self.tensor_count += 1
        if self.tensor_count > MAX_TENSORS:
            raise ProtocolError(f"value with more than {MAX_TENSORS} tensors")
        spec = tensors[index]
        nbytes = spec.get("nbytes") if isinstance(spec, dict) else None
        self.tensor_bytes += nbytes if type(nbytes) is int and nbytes > 0 else 0
        if self.tensor_bytes > len(self.blob):
            raise ProtocolError(
                f"value whose tensors hold more than the {len(self.blob)} bytes its frame carries "
                "(aliases count: each reference to a tensor is a copy)"
            )
        return _decode_tensor(spec, self.blob)

    def decode(self, tree: Any, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise ProtocolError(f"value nested more than {MAX_DEPTH} deep")
        self.values += 1
        if self.values > MAX_VALUES:
            raise ProtocolError(f"value made of more than {MAX_VALUES} values")
        if tree is None or type(tree) in (bool, int, float):
            return tree
        if type(tree) is str:
            if len(tree) > MAX_STRING:
                raise ProtocolError(f"string longer than {MAX_STRING}")
            return tree
        if type(tree) is not dict or len(tree) not in (1, 2):
            raise ProtocolError("unexpected value in frame")
        if "$tensor" in tree:
            return self.tensor(tree["$tensor"])
        if "$dtype" in tree:
            if tree["$dtype"] not in DTYPES:
                raise ProtocolError("bad dtype")
            return DTYPES[tree["$dtype"]]
        if "$float" in tree:
            if tree["$float"] not in ("nan", "inf", "-inf"):
                raise ProtocolError("bad float")
            return float(tree["$float"])
        if "$handle" in tree:
            if type(tree["$handle"]) is not int or type(tree.get("type")) is not str:
                raise ProtocolError("bad handle")
            return Handle(tree["$handle"], tree["type"][:200])
        for tag, kind in (("$tuple", tuple), ("$list", list)):
            if tag in tree and type(tree[tag]) is list:
                return kind(self.decode(item, depth + 1) for item in tree[tag])
        if "$dict" in tree and type(tree["$dict"]) is list:
            result = {}
            for pair in tree["$dict"]:
                if type(pair) is not list or len(pair) != 2 or type(pair[0]) is not str:
                    raise ProtocolError("bad dict entry")
                result[pair[0]] = self.decode(pair[1], depth + 1)
            return result
        raise ProtocolError("unknown tag in frame")


def decode(tree: Any, tensors: Any, blob: bytes) -> Any:
    """Inverse of :func:`encode`; rejects anything that is not exactly that format, and any value
    bigger than its frame: more than :data:`MAX_VALUES` values, :data:`MAX_TENSORS` tensors,
    :data:`MAX_DEPTH` levels, or tensor bytes beyond the blob's (aliases count)."""
    return _Decoder(tensors, blob).decode(tree, 0)


def _read_exactly(fd: int, size: int) -> bytes:
    parts, remaining = [], size
    while remaining:
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            raise EOFError("the other side closed the channel")
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def split_frame(buffer: bytearray, limit: int = MAX_FRAME_BYTES) -> tuple[bytes, bytes] | None:
    """Remove one complete frame from the front of ``buffer``: (header, blob), or None if incomplete."""
    if len(buffer) < _LENGTH.size:
        return None
    (size,) = _LENGTH.unpack_from(buffer)
    if size > min(limit, MAX_HEADER_BYTES):
        raise ProtocolError(f"frame header of more than {min(limit, MAX_HEADER_BYTES)} bytes")
    if len(buffer) < 2 * _LENGTH.size + size:
        return None
    (blob_size,) = _LENGTH.unpack_from(buffer, _LENGTH.size + size)
    if size + blob_size > limit:
        raise ProtocolError(f"frame of {size + blob_size} bytes exceeds the limit of {limit}")
    end = 2 * _LENGTH.size + size + blob_size
    if len(buffer) < end:
        return None
    with memoryview(buffer) as view:  # one copy of each part, not two
        header = bytes(view[_LENGTH.size : _LENGTH.size + size])
        blob = bytes(view[2 * _LENGTH.size + size : end])
    del buffer[:end]
    return header, blob


def parse_frame(header: bytes, blob: bytes) -> tuple[dict[str, Any], Any]:
    """Decode a frame's header and blob into (message without value, value)."""
    try:
        message = json.loads(header)
    except (ValueError, RecursionError) as error:
        raise ProtocolError(f"frame header is not valid JSON: {error}") from None
    if type(message) is not dict or "value" not in message:
        raise ProtocolError("frame header is not a message")
    try:
        value = decode(message.pop("value"), message.pop("tensors", None), blob)
    except RecursionError:
        raise ProtocolError("value nested too deeply") from None
    return message, value


def frame_bytes(message: dict[str, Any], value: Any = None, store_object: Any = None) -> bytes:
    """Serialise one frame."""
    tree, tensors, blob = encode(value, store_object)
    header = json.dumps({**message, "value": tree, "tensors": tensors}).encode()
    return _LENGTH.pack(len(header)) + header + _LENGTH.pack(len(blob)) + blob


def send(fd: int, message: dict[str, Any], value: Any = None, store_object: Any = None) -> None:
    """Send a JSON ``message``; ``value`` (any plain data) travels as ``message['value']``."""
    _write_all(fd, frame_bytes(message, value, store_object))


def receive(fd: int, limit: int = MAX_FRAME_BYTES) -> tuple[dict[str, Any], Any]:
    """Blocking read of one frame (the child's side). Raises ProtocolError or EOFError."""
    first = _read_exactly(fd, _LENGTH.size)
    (size,) = _LENGTH.unpack(first)
    if size > min(limit, MAX_HEADER_BYTES):
        raise ProtocolError(f"frame header of more than {min(limit, MAX_HEADER_BYTES)} bytes")
    header = _read_exactly(fd, size)
    second = _read_exactly(fd, _LENGTH.size)
    (blob_size,) = _LENGTH.unpack(second)
    if size + blob_size > limit:
        raise ProtocolError(f"frame of {size + blob_size} bytes exceeds the limit of {limit}")
    return parse_frame(header, _read_exactly(fd, blob_size))
