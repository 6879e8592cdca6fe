"""``agrad.save`` / ``agrad.load``: checkpoints in the safetensors format, written by agrad itself.

The format is tiny and cannot run code (no pickle): 8 bytes little-endian header length, a
JSON header ``{name: {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...}``
(optionally ``"__metadata__": {str: str}``), then the raw little-endian bytes of each tensor,
contiguous and in order. Files are interchangeable with ``safetensors.numpy.save_file`` /
``load_file``.

The core never imports NumPy: bytes leave and enter through the *host* backend (agrad's default
backend, ``"numpy"``, a hard dependency), whose arrays speak Python's buffer protocol. Any backend
array reaches the host through agrad's own conversion (DLPack), so a checkpoint saved on one
backend loads on any other.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Mapping
from typing import Any

from agrad._base import dtypes as _dtypes
from agrad._base.backend import Backend, get_backend, load_backend
from agrad._core.tensor import Tensor
from agrad._state.materialize import materialize

HOST_BACKEND = "numpy"
_MAX_HEADER = 100 * 1024 * 1024

# safetensors dtype code -> (agrad dtype, struct format of one element)
_CODES = {
    "F64": (_dtypes.float64, "d"),
    "F32": (_dtypes.float32, "f"),
    "I64": (_dtypes.int64, "q"),
    "I32": (_dtypes.int32, "i"),
    "I16": (_dtypes.int16, "h"),
    "I8": (_dtypes.int8, "b"),
    "U64": (_dtypes.uint64, "Q"),
    "U32": (_dtypes.uint32, "I"),
    "U16": (_dtypes.uint16, "H"),
    "U8": (_dtypes.uint8, "B"),
    "BOOL": (_dtypes.bool, "?"),
}
_BY_DTYPE = {d.name: code for code, (d, _) in _CODES.items()}


class CheckpointError(ValueError):
    """A file that is not a valid safetensors checkpoint (corrupt, truncated, unsupported dtype)."""


def _check_byteorder() -> None:
    if sys.byteorder != "little":
        raise RuntimeError(
            "agrad.save/load: safetensors is little-endian; big-endian hosts are not supported"
        )


def _host() -> Backend:
    return load_backend(HOST_BACKEND)


def _tensor_bytes(name: str, value: Any) -> tuple[str, list[int], bytes]:
    t = value if isinstance(value, Tensor) else Tensor(value, requires_grad=False)
    code = _BY_DTYPE.get(t.dtype.name)
    if code is None:
        raise TypeError(
            f"agrad.save: {name!r} has dtype {t.dtype.name}, which safetensors (as agrad writes "
            f"it) does not support; supported: {sorted(_BY_DTYPE)}"
        )
    host = _host()
    arr = t.value if t._backend is host else Tensor(t.value, requires_grad=False, backend=host).value
    return code, list(t.shape), memoryview(arr).tobytes(order="C")


def save(
    state_dict: Mapping[str, Any], path: str | os.PathLike, metadata: Mapping[str, str] | None = None
) -> None:
    """Write ``state_dict`` (names to Tensors or arrays of any backend) to ``path`` as safetensors.

    The file is written to a temporary name and renamed, so a crash never leaves half a file.
    """
    _check_byteorder()
    header: dict[str, Any] = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    chunks = []
    offset = 0

    materialize([v for v in state_dict.values() if isinstance(v, Tensor)])  # Dask: compute once
    for name in sorted(state_dict):
        if not isinstance(name, str) or name == "__metadata__":
            raise ValueError(f"agrad.save: invalid tensor name {name!r}")
        code, shape, data = _tensor_bytes(name, state_dict[name])
        header[name] = {"dtype": code, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)  # align the data to 8 bytes, as safetensors does
    tmp = f"{os.fspath(path)}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        for c in chunks:
            f.write(c)
    os.replace(tmp, path)


def _fail(path: Any, why: str) -> CheckpointError:
    return CheckpointError(f"agrad.load({os.fspath(path)!r}): not a valid safetensors file: {why}")


def _parse_header(path: Any, blob: bytes) -> tuple[dict[str, Any], dict[str, str], int]:
    if len(blob) < 8:
        raise _fail(path, f"only {len(blob)} bytes, shorter than the 8-byte header length")
    n = int.from_bytes(blob[:8], "little")
    if n > _MAX_HEADER or 8 + n > len(blob):
        raise _fail(
            path,
            f"the header claims {n} bytes but the file has {len(blob) - 8} after the length "
            "(truncated or not safetensors)",
        )
    try:
        header = json.loads(blob[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise _fail(path, f"the header is not valid JSON ({e})") from None
    if not isinstance(header, dict):
        raise _fail(path, "the header is not a JSON object")
    meta = header.pop("__metadata__", None) or {}
    if not isinstance(meta, dict):
        raise _fail(path, "__metadata__ is not an object")
    return header, meta, 8 + n


def _check_entry(path: Any, name: str, entry: Any, data_len: int) -> tuple[str, tuple[int, ...], int, int]:
    if not isinstance(entry, dict) or not {"dtype", "shape", "data_offsets"} <= set(entry):
        raise _fail(path, f"entry {name!r} lacks dtype, shape or data_offsets")
    code, shape, offs = entry["dtype"], entry["shape"], entry["data_offsets"]
    if code not in _CODES:
        raise CheckpointError(
            f"agrad.load({os.fspath(path)!r}): tensor {name!r} has dtype {code!r}, which agrad "
            f"cannot load (supported: {sorted(_CODES)})"
        )
    if not (isinstance(shape, list) and all(type(s) is int and s >= 0 for s in shape)):
        raise _fail(path, f"entry {name!r} has an invalid shape {shape!r}")
    if not (
        isinstance(offs, list)
        and len(offs) == 2
        and all(type(o) is int for o in offs)
        and 0 <= offs[0] <= offs[1] <= data_len
    ):
        raise _fail(path, f"entry {name!r} has data offsets {offs!r} outside the {data_len} data bytes")
    itemsize = _dtypes_itemsize(code)
    if (offs[1] - offs[0]) != math.prod(shape) * itemsize:
        raise _fail(
            path,
            f"entry {name!r}: shape {shape} of {code} needs {math.prod(shape) * itemsize} bytes, "
            f"the offsets give {offs[1] - offs[0]}",
        )
    return code, tuple(shape), offs[0], offs[1]


def _dtypes_itemsize(code: str) -> int:
    return 1 if code == "BOOL" else _CODES[code][0].bits // 8


def load(path: str | os.PathLike, backend: str | Backend | None = None) -> dict[str, Tensor]:
    """Read a safetensors file into ``{name: Tensor}`` on ``backend`` (default: the active one).

    Everything is validated (header, dtypes, shapes, offsets that tile the data exactly) before any
    tensor is built; a bad file raises :class:`CheckpointError` and nothing else happens.
    """
    _check_byteorder()
    be = (
        get_backend()
        if backend is None
        else backend
        if isinstance(backend, Backend)
        else load_backend(backend)
    )
    with open(path, "rb") as f:
        blob = f.read()
    header, _, start = _parse_header(path, blob)
    data = memoryview(blob)[start:]
    entries = {name: _check_entry(path, name, e, len(data)) for name, e in header.items()}
    spans = sorted((b, e) for _, _, b, e in entries.values())
    pos = 0
    for b, e in spans:
        if b != pos:
            raise _fail(path, f"the tensors' data do not tile the buffer (gap or overlap at byte {pos})")
        pos = e
    if pos != len(data):
        raise _fail(path, f"{len(data) - pos} bytes after the last tensor (or the data are truncated)")
    host = _host()
    out = {}
    for name, (code, shape, b, e) in entries.items():
        fmt = _CODES[code][1]
        flat = host.xp.asarray(data[b:e].cast(fmt), copy=True)
        arr = host.xp.reshape(flat, shape)
        out[name] = Tensor(arr, requires_grad=False, backend=be)
    return out
