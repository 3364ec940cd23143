"""The IDX file format of the MNIST files: reading and validating it.

An IDX file starts with a magic number whose third byte is the element type
(0x08, unsigned byte) and whose fourth byte is the number of dimensions, then
one big-endian 32-bit size per dimension, then the elements in row-major
order. MNIST's labels are 1-D (magic 0x00000801), its images 3-D (magic
0x00000803). Files may be gzip-compressed, recognised by their magic bytes.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from typing import BinaryIO

import numpy as np

from numpy_dec.validation import counted, existing_file

GZIP_MAGIC = b"\x1f\x8b"
IDX_UBYTE = 0x08
IDX_LABELS_MAGIC = 0x00000801
IDX_IMAGES_MAGIC = 0x00000803
_EXPECTED_MAGIC = "0x00000801 (labels, 1-D) or 0x00000803 (images, 3-D)"

_CHUNK = 1 << 20


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (raw or gzip-compressed) into a uint8 array.

    Parameters
    ----------
    path : str or path-like
        The file. Gzip is recognised by its magic bytes (1f 8b), not by name.

    Returns
    -------
    ndarray of uint8
        Shape (N,) for a labels file (magic 0x00000801) or (N, rows, cols) for
        an images file (magic 0x00000803); writable.

    Raises
    ------
    FileNotFoundError
        When the file does not exist.
    ValueError
        On a bad magic number, a dtype code other than 0x08 (unsigned byte), a
        truncated header, a payload shorter or longer than the header
        promises, or a gzip stream that does not decompress.
    """
    path = existing_file(path, "IDX file")
    with open(path, "rb") as f:
        array, _ = read_idx_stream(f, str(path))
    return array


def read_idx_stream(f: BinaryIO, name: str) -> tuple[np.ndarray, bytearray]:
    """Parse an open IDX file; return the array and all decompressed bytes."""
    # Recognise gzip by its magic bytes, whatever the file is called.
    is_gzip = f.read(2) == GZIP_MAGIC
    f.seek(0)
    try:
        if is_gzip:
            with gzip.GzipFile(fileobj=f, mode="rb") as stream:
                return _parse_idx(stream, name)
        return _parse_idx(f, name)
    except (OSError, EOFError, zlib.error) as exc:
        if not is_gzip:
            raise
        raise ValueError(
            f"{name} starts with the gzip magic bytes but does not decompress "
            f"({exc}); the file is damaged or not really gzip"
        ) from exc


def _parse_idx(stream: BinaryIO, name: str) -> tuple[np.ndarray, bytearray]:
    """Validate the IDX header and payload read from a binary stream."""
    # Magic number: two zero bytes, the dtype code, the number of dimensions.
    magic = stream.read(4)
    if not magic:
        raise ValueError(f"{name} is empty; expected an IDX file")
    if len(magic) < 4:
        raise ValueError(
            f"{name} is truncated: {len(magic)} bytes, too short for the "
            "4-byte IDX magic number"
        )
    code = int.from_bytes(magic, "big")
    if magic[:2] != b"\x00\x00":
        raise ValueError(
            f"{name} is not an IDX file: magic number 0x{code:08X}, expected "
            f"{_EXPECTED_MAGIC}"
        )
    if magic[2] != IDX_UBYTE:
        raise ValueError(
            f"{name} has IDX dtype code 0x{magic[2]:02X}; only 0x08 (unsigned "
            "byte) is supported"
        )
    ndim = magic[3]
    if ndim not in (1, 3):
        raise ValueError(
            f"{name} has {ndim} dimensions (magic 0x{code:08X}); expected "
            f"{_EXPECTED_MAGIC}"
        )

    # One big-endian uint32 per dimension.
    dim_bytes = stream.read(4 * ndim)
    if len(dim_bytes) < 4 * ndim:
        raise ValueError(
            f"{name} is truncated inside its header: {ndim} dimension sizes "
            f"need {4 * ndim} bytes, found {len(dim_bytes)}"
        )
    shape = struct.unpack(f">{ndim}I", dim_bytes)
    n_payload = math.prod(shape)

    # Read in chunks, so a corrupt header cannot ask for a huge allocation.
    buf = bytearray(magic + dim_bytes)
    missing = n_payload
    while missing:
        chunk = stream.read(min(missing, _CHUNK))
        if not chunk:
            break
        buf += chunk
        missing -= len(chunk)
    if missing:
        raise ValueError(
            f"{name} is truncated: its header promises shape {shape}, "
            f"{n_payload} data bytes, but only {n_payload - missing} follow"
        )

    # Anything after the payload means the header and the file disagree.
    extra = 0
    while chunk := stream.read(_CHUNK):
        extra += len(chunk)
    if extra:
        raise ValueError(
            f"{name} has {counted(extra, 'byte')} more than its header promises "
            f"(shape {shape}, {n_payload} data bytes); the header or the file is "
            "wrong"
        )
    array = np.frombuffer(buf, dtype=np.uint8, offset=4 + 4 * ndim)
    return array.reshape(shape), buf
