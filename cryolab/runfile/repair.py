"""Repairing a run file a killed writer left behind: the superblock's write flag, the length check.

A process killed while writing leaves HDF5's "open for writing" flag in the superblock; the file
still opens the SWMR way, and :func:`clear_write_flag` (what ``h5clear -s`` does) makes it open
everywhere again — ``cryolab resume`` does that before appending.
"""

from __future__ import annotations

import struct
from pathlib import Path

from cryolab.runfile.schema import RunFileError

_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _rot(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & 0xFFFFFFFF


def lookup3(data: bytes, initval: int = 0) -> int:
    """Bob Jenkins' lookup3 hashlittle, as HDF5 uses it for metadata checksums."""
    M = 0xFFFFFFFF
    length = len(data)
    a = b = c = (0xDEADBEEF + length + initval) & M
    k = 0
    while length > 12:
        a = (a + int.from_bytes(data[k:k + 4], "little")) & M
        b = (b + int.from_bytes(data[k + 4:k + 8], "little")) & M
        c = (c + int.from_bytes(data[k + 8:k + 12], "little")) & M
        a = (a - c) & M; a ^= _rot(c, 4); c = (c + b) & M  # noqa: E702 - the reference's mix
        b = (b - a) & M; b ^= _rot(a, 6); a = (a + c) & M  # noqa: E702
        c = (c - b) & M; c ^= _rot(b, 8); b = (b + a) & M  # noqa: E702
        a = (a - c) & M; a ^= _rot(c, 16); c = (c + b) & M  # noqa: E702
        b = (b - a) & M; b ^= _rot(a, 19); a = (a + c) & M  # noqa: E702
        c = (c - b) & M; c ^= _rot(b, 4); b = (b + a) & M  # noqa: E702
        length -= 12
        k += 12
    if length == 0:
        return c
    tail = data[k:k + length] + bytes(12 - length)
    a = (a + int.from_bytes(tail[0:4], "little")) & M
    b = (b + int.from_bytes(tail[4:8], "little")) & M
    c = (c + int.from_bytes(tail[8:12], "little")) & M
    c ^= b; c = (c - _rot(b, 14)) & M  # noqa: E702 - the reference's final
    a ^= c; a = (a - _rot(c, 11)) & M  # noqa: E702
    b ^= a; b = (b - _rot(a, 25)) & M  # noqa: E702
    c ^= b; c = (c - _rot(b, 16)) & M  # noqa: E702
    a ^= c; a = (a - _rot(c, 4)) & M  # noqa: E702
    b ^= a; b = (b - _rot(a, 14)) & M  # noqa: E702
    c ^= b; c = (c - _rot(b, 24)) & M  # noqa: E702
    return c


def _read_superblock(f) -> tuple[bytearray, int]:
    """The superblock (v2/v3) bytes including the checksum, and the length it covers."""
    head = f.read(12)
    if len(head) < 12 or head[:8] != _SIGNATURE:
        raise RunFileError(f"{f.name}: not an HDF5 file (no superblock at offset 0)")
    version, size_offsets = head[8], head[9]
    if version not in (2, 3):
        return bytearray(head), 0
    body_len = 12 + 4 * size_offsets
    f.seek(0)
    block = bytearray(f.read(body_len + 4))
    if len(block) < body_len + 4:
        raise RunFileError(f"{f.name}: truncated superblock")
    stored = struct.unpack("<I", block[body_len:body_len + 4])[0]
    if lookup3(bytes(block[:body_len])) != stored:
        raise RunFileError(f"{f.name}: superblock checksum mismatch; the file is damaged")
    return block, body_len


def _check_length(path: str | Path) -> None:
    """A file shorter than its superblock's end-of-file address lost its end (copy, disk)."""
    with open(path, "rb") as f:
        block, body_len = _read_superblock(f)
        if body_len:
            size_offsets = block[9]
            eof = int.from_bytes(block[12 + 2 * size_offsets:12 + 3 * size_offsets], "little")
            size = Path(path).stat().st_size
            if size < eof:
                raise RunFileError(f"{path}: truncated ({size} of {eof} bytes); the file was "
                                   "cut short after it was written")


def clear_write_flag(path: str | Path) -> bool:
    """Clear the superblock's file-consistency flags left by a killed writer (``h5clear -s``).

    Superblock versions 2 and 3 (HDF5 format spec §II.A): signature, version, sizes of offsets
    and lengths, the consistency-flags byte at offset 11, four addresses, then a lookup3
    checksum of everything before it. Returns True if a flag was cleared.
    """
    _check_length(path)
    with open(path, "r+b") as f:
        block, body_len = _read_superblock(f)
        if not body_len or block[11] == 0:  # older superblocks keep no such flag
            return False
        block[11] = 0
        block[body_len:body_len + 4] = struct.pack("<I", lookup3(bytes(block[:body_len])))
        f.seek(0)
        f.write(block)
    return True
