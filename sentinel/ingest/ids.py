"""Derived external ids: what an event without an `external_id` is stored
under, so that ingesting the same input twice stores nothing twice.

The id is a hash of the event's content (source, stream, kind, instant,
payload) and, for identical events, their order in the input: the n-th copy
gets `<hash>.n`. The hash input must never change across versions, or an
input ingested again after an upgrade would be stored twice.

Numbering copies means remembering every distinct id-less event of an input.
Up to IN_MEMORY of them are counted in a dict; then the counts move to sorted
runs in temporary files behind a Bloom filter (about ten bits an event), so a
long id-less input costs little memory and stays fast.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import IO, Any

import orjson

# Distinct id-less events counted in memory (about 300 bytes each, with the
# sort when they move) before the counts move to disk (20 bytes each, TMPDIR).
IN_MEMORY = 100_000


class Occurrences:
    """Counts identical id-less events within one input, so that the n-th copy
    of an event gets the n-th derived id."""

    __slots__ = ("_disk", "_limit", "_seen")

    def __init__(self, in_memory: int = IN_MEMORY) -> None:
        self._seen: dict[bytes, int] = {}
        self._limit = in_memory
        self._disk: _Spilled | None = None

    def derive_id(
        self, source: str, stream: str, kind: str, occurred_at: datetime, payload: dict[str, Any]
    ) -> str:
        canonical = canonical_json(
            {
                "source": source,
                "stream": stream,
                "kind": kind,
                "occurred_at": occurred_at.astimezone(UTC).isoformat(),
                "payload": payload,
            }
        )
        digest = hashlib.sha256(canonical).digest()[:16]
        count = self._count(digest)
        return digest.hex() if count == 1 else f"{digest.hex()}.{count}"

    def _count(self, digest: bytes) -> int:
        """How many times `digest` has now been seen, this time included."""
        seen = self._seen
        count = seen.get(digest)
        if count is None:
            count = self._disk.get(digest) if self._disk is not None else 0
        seen[digest] = count + 1
        if len(seen) >= self._limit:
            if self._disk is None:
                self._disk = _Spilled()
            self._disk.put(seen)
            self._seen = {}
        return count + 1


class _Spilled:
    """Counts moved out of memory: sorted runs of (digest, count) records in
    temporary files, newest last, and one Bloom filter over all of them
    (about ten bits a digest) so that a digest never seen before, the usual
    case, reads no file."""

    __slots__ = ("_bits", "_mask", "_runs", "_stored")

    RECORD = 20  # 16 bytes of digest, 4 of count

    def __init__(self) -> None:
        self._runs: list[tuple[IO[bytes], int]] = []  # (file, records)
        self._stored = 0
        self._bits = bytearray(1 << 16)
        self._mask = (len(self._bits) << 3) - 1

    def get(self, digest: bytes) -> int:
        bits = self._bits
        for position in _positions(digest, self._mask):
            if not bits[position >> 3] & (1 << (position & 7)):
                return 0
        for handle, records in reversed(self._runs):  # the newest count wins
            count = _search(handle, records, digest)
            if count:
                return count
        return 0

    def put(self, counts: dict[bytes, int]) -> None:
        # Kept open for lookups; the file is gone once closed (or the process ends).
        handle = tempfile.TemporaryFile(prefix="sentinel-ingest-")  # noqa: SIM115
        handle.write(b"".join(d + n.to_bytes(4, "little") for d, n in sorted(counts.items())))
        handle.flush()
        self._runs.append((handle, len(counts)))
        self._stored += len(counts)
        if self._stored * 10 > len(self._bits) * 8:  # grow, keeping ~10 bits a digest
            self._bits = bytearray(len(self._bits) * 4)
            self._mask = (len(self._bits) << 3) - 1
            for run, _ in self._runs:
                self._mark(_digests(run))
        else:
            self._mark(counts)

    def _mark(self, digests: Iterable[bytes]) -> None:
        bits, mask = self._bits, self._mask
        for digest in digests:
            for position in _positions(digest, mask):
                bits[position >> 3] |= 1 << (position & 7)


def _digests(handle: IO[bytes]) -> Iterator[bytes]:
    """The digests of a run, read in blocks."""
    size = _Spilled.RECORD
    handle.seek(0)
    while block := handle.read(size * 4096):
        for start in range(0, len(block), size):
            yield block[start : start + 16]


def _search(handle: IO[bytes], records: int, digest: bytes) -> int:
    """The count stored for `digest` in a sorted run, or 0."""
    size = _Spilled.RECORD
    fd = handle.fileno()
    lo, hi = 0, records
    while lo < hi:
        mid = (lo + hi) // 2
        record = os.pread(fd, size, mid * size)
        key = record[:16]
        if key < digest:
            lo = mid + 1
        elif key > digest:
            hi = mid
        else:
            return int.from_bytes(record[16:], "little")
    return 0


def _positions(digest: bytes, mask: int) -> tuple[int, int, int]:
    """Three Bloom filter positions: slices of the digest, already uniform."""
    h = int.from_bytes(digest, "little")
    return h & mask, (h >> 40) & mask, (h >> 80) & mask


def canonical_json(value: dict[str, Any]) -> bytes:
    """The text a derived id hashes: the UTF-8 of `json.dumps(value,
    sort_keys=True, separators=(",", ":"), ensure_ascii=False,
    allow_nan=False)`.

    orjson writes exactly that, several times faster, except for floats that
    json writes with an exponent (|x| < 1e-4 or >= 1e16: json `1e-05`,
    orjson `1e-5`), non-finite floats, and what orjson refuses (integers
    beyond 64 bits, lone surrogates, keys that are not strings): those, and
    any type but JSON's own, go to json."""
    try:
        plain = _plain(value.values())
    except RecursionError:
        plain = False
    if plain:
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:
            pass
    text = json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8", "surrogatepass")


def _plain(values: Iterable[Any]) -> bool:
    """Whether orjson writes these values as json does (see canonical_json)."""
    for value in values:
        kind = type(value)
        if kind is str or kind is int or kind is bool or value is None:
            continue
        if kind is float:
            if not (value == 0 or 1e-4 <= abs(value) < 1e16):
                return False
        elif kind is dict:
            if not _plain(value.values()):
                return False
        elif kind is not list or not _plain(value):
            return False
    return True
