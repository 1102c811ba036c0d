"""How one (view, entity) record is packed into bytes: shared by every online store.

A record is a view's feature values, in the view's feature order, plus the event timestamp
they were observed at. It is stored as ONE blob per (view, entity), never one field per
feature, so a read is one lookup per key and one C-level decode per record:

    offset  size  content
    0       8     event timestamp, int64 microseconds UTC, stored as ``ts + 2**63`` big-endian
    8       1     format version (``1``)
    9       ...   msgpack array of the values

The timestamp comes first and is "offset binary" (the sign bit flipped) so that comparing the
first 8 bytes as unsigned strings orders records by time, negative timestamps included. The
Redis store relies on that to decide, server-side in Lua, whether a write is fresher than what
is stored, without decoding anything.

msgpack rather than JSON or pickle: it round-trips ints to 64 bits, floats bit-exactly
(NaN and infinities included), bytes, str, bool and None natively, it is a single C call per
record, and it cannot execute code on load (pickle never appears here: an online store is
shared infrastructure and must not be a code-injection path).
"""

from __future__ import annotations

import functools
import struct
import threading
from collections.abc import Sequence
from typing import Any

import msgpack

from griffin.errors import InvalidArgument

__all__ = [
    "FORMAT_VERSION",
    "TS_BYTES",
    "pack_record",
    "pack_ts",
    "pack_values",
    "unpack_many_values",
    "unpack_record",
    "unpack_records",
    "unpack_ts",
    "unpack_values",
]

FORMAT_VERSION = 1
TS_BYTES = 8
_OFFSET = 1 << 63
_TS = struct.Struct(">Q")
_HEADER = TS_BYTES + 1
_VERSION_BYTE = bytes([FORMAT_VERSION])
# Batch decoding (see unpack_records): a msgpack array32 header, and the bin8 header that turns
# each record's 9-byte header into a msgpack bytes value.
_ARRAY32 = struct.Struct(">BI")
_BIN_HEADER = bytes([0xC4, _HEADER])
_DECODE_ERRORS = (ValueError, TypeError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError)


def _default(value: Any) -> Any:
    # Called by msgpack only for types it does not know, so plain Python values pay nothing.
    # Materialization hands over numpy scalars (np.int64 is not an int) and arrays
    # (embeddings); both have ``tolist``, which yields plain Python values.
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return tolist()
    raise TypeError(f"cannot store a value of type {type(value).__name__} in the online store")


class _Packers(threading.local):
    # A Packer keeps an internal buffer, and the ``default`` hook runs Python code (so the GIL
    # can switch threads mid-pack): one Packer per thread, reused across calls.
    def __init__(self) -> None:
        self.packer = msgpack.Packer(default=_default, use_bin_type=True, datetime=True)


_packers = _Packers()


def pack_ts(event_ts_us: int) -> bytes:
    """The 8-byte, order-preserving encoding of an int64 microsecond timestamp."""
    try:
        return _TS.pack(event_ts_us + _OFFSET)
    except struct.error:
        raise InvalidArgument(
            f"event timestamp {event_ts_us!r} is not an int64 number of microseconds"
        ) from None


def unpack_ts(payload: bytes) -> int:
    """The event timestamp at the start of a packed record."""
    ts: int = _TS.unpack_from(payload)[0]
    return ts - _OFFSET


def pack_values(values: Sequence[object]) -> bytes:
    """The msgpack encoding of one record's values (no header)."""
    packer = _packers.packer
    try:
        # msgpack packs lists and tuples as arrays; anything else (a pandas row) is listed once.
        packed: bytes = packer.pack(values if isinstance(values, list | tuple) else list(values))
    except (TypeError, ValueError, OverflowError) as exc:
        # A failed pack can leave the packer's buffer dirty; start the next one clean.
        packer.reset()
        raise InvalidArgument(f"feature values cannot be stored: {exc}") from None
    return packed


def pack_record(event_ts_us: int, values: Sequence[object]) -> bytes:
    """Header plus values: the blob stored per (view, entity)."""
    return pack_ts(event_ts_us) + _VERSION_BYTE + pack_values(values)


def unpack_values(packed: bytes) -> tuple[Any, ...]:
    """The values of a record, as a tuple in the order they were written."""
    values: tuple[Any, ...] = msgpack.unpackb(packed, use_list=False, timestamp=3)
    return values


def unpack_record(payload: bytes) -> tuple[int, tuple[Any, ...]]:
    """``(event_ts_us, values)`` from a blob made by :func:`pack_record`.

    Raises:
        InvalidArgument: the blob is not in a format this version of Griffin can read (it was
            written by a newer Griffin, or by something else under the same key).
    """
    # The hot path of every Redis read: a plain bytes slice is cheaper than a memoryview for
    # records this small, and the version check is one index.
    if payload[TS_BYTES : TS_BYTES + 1] != _VERSION_BYTE:
        raise InvalidArgument(
            "online store record is not in Griffin's format version "
            f"{FORMAT_VERSION}; was it written by a newer Griffin?"
        )
    values: tuple[Any, ...] = msgpack.unpackb(payload[_HEADER:], use_list=False, timestamp=3)
    return _TS.unpack_from(payload)[0] - _OFFSET, values


@functools.lru_cache(maxsize=64)
def _headers(n: int) -> struct.Struct:
    # n record headers back to back: the timestamp of each, skipping its version byte.
    return struct.Struct(">" + "Qx" * n)


def _unpack_stream(blobs: Sequence[bytes]) -> tuple[list[int], tuple[Any, ...]] | None:
    """Every record's timestamp and values with ONE msgpack call, or None if one is malformed.

    Each blob becomes ``bin8(header) + values`` inside one array, so the C decoder walks all
    of them in a single pass: a read of 100 records costs one call instead of 100 slices,
    calls and tuple builds (about 4x faster on the serving path).
    """
    n = len(blobs)
    data = _ARRAY32.pack(0xDD, 2 * n) + _BIN_HEADER + _BIN_HEADER.join(blobs)
    try:
        items = msgpack.unpackb(data, use_list=False, timestamp=3)
    except _DECODE_ERRORS:
        return None
    headers = b"".join(items[0::2])
    if len(headers) != _HEADER * n or headers[TS_BYTES::_HEADER] != _VERSION_BYTE * n:
        return None
    values: tuple[Any, ...] = items[1::2]
    return [ts - _OFFSET for ts in _headers(n).unpack(headers)], values


def unpack_records(blobs: Sequence[bytes]) -> tuple[list[int], Sequence[tuple[Any, ...]]]:
    """``(timestamps, values)`` of many blobs made by :func:`pack_record`, in order.

    Raises:
        InvalidArgument: a blob is not in this format (as :func:`unpack_record`).
    """
    if not blobs:
        return [], ()
    if len(blobs) == 1:
        ts, values = unpack_record(blobs[0])
        return [ts], (values,)
    found = _unpack_stream(blobs)
    if found is not None and all(type(v) is tuple for v in found[1]):
        return found
    # Something is off: decode one by one, so the error names the problem precisely.
    pairs = [unpack_record(blob) for blob in blobs]
    return [ts for ts, _ in pairs], [values for _, values in pairs]


def unpack_many_values(payloads: Sequence[bytes]) -> Sequence[tuple[Any, ...]]:
    """The values of many :func:`pack_values` payloads (no header), with one msgpack call."""
    if not payloads:
        return ()
    data = _ARRAY32.pack(0xDD, len(payloads)) + b"".join(payloads)
    try:
        values: tuple[tuple[Any, ...], ...] = msgpack.unpackb(data, use_list=False, timestamp=3)
        return values
    except _DECODE_ERRORS:
        return [unpack_values(p) for p in payloads]
