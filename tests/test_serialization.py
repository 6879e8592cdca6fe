"""agrad.save / agrad.load: safetensors files, interchangeable with the safetensors package,
portable across backends, and safe against corrupt or truncated files."""

import json

import numpy as np
import pytest

import agrad
import agrad.nn as nn
from tests.helpers import assert_close, to_np


def _model():
    agrad.manual_seed(1)
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(8, 3))


def test_round_trip_restores_every_tensor(tmp_path):
    m = _model()
    path = tmp_path / "m.safetensors"
    agrad.save(m.state_dict(), path)
    loaded = agrad.load(path)
    assert sorted(loaded) == sorted(m.state_dict())
    for k, v in m.state_dict().items():
        assert loaded[k].dtype is v.dtype and loaded[k].shape == v.shape
        assert np.array_equal(to_np(loaded[k]), to_np(v))


def test_dtypes_and_shapes_round_trip(tmp_path):
    be = agrad.get_backend()
    xp = be.xp
    sd = {
        "i64": agrad.asarray([[1, -2], [3, 4]], dtype=agrad.int64),
        "b": agrad.asarray([True, False]),
        "u8": agrad.asarray([0, 255], dtype=agrad.uint8),
        "scalar": agrad.asarray(2.5, dtype=agrad.float32),
        "empty": agrad.zeros((0, 3), dtype=agrad.float32),
        "transposed": agrad.Tensor(xp.permute_dims(xp.reshape(xp.arange(6.0), (2, 3)), (1, 0))),
    }
    agrad.save(sd, tmp_path / "d.safetensors", metadata={"format": "pt"})
    out = agrad.load(tmp_path / "d.safetensors")
    for k, v in sd.items():
        assert out[k].dtype is v.dtype, k
        assert out[k].shape == v.shape, k
        assert np.array_equal(to_np(out[k]), to_np(v)), k


def test_files_are_read_by_safetensors_and_vice_versa(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    m = _model()
    agrad.save(m.state_dict(), tmp_path / "ours.safetensors")
    theirs = st.load_file(str(tmp_path / "ours.safetensors"))
    for k, v in m.state_dict().items():
        assert np.array_equal(theirs[k], to_np(v))
    data = {
        "w": np.arange(12, dtype=np.float32).reshape(3, 4),
        "n": np.array([7, 8], dtype=np.int32),
        "flag": np.array([True]),
    }
    st.save_file(data, str(tmp_path / "theirs.safetensors"))
    back = agrad.load(tmp_path / "theirs.safetensors")
    for k, v in data.items():
        assert np.array_equal(to_np(back[k]), v)
        assert back[k].dtype.name == str(v.dtype)


@pytest.mark.backend_independent
def test_saved_on_one_backend_loads_on_every_other(tmp_path):
    with agrad.using_backend("torch" if "torch" in agrad.registered_backends() else "numpy"):
        m = _model()
        agrad.save(m.state_dict(), tmp_path / "m.safetensors")
        want = {k: to_np(v) for k, v in m.state_dict().items()}
    for name, status in agrad.available_backends().items():
        if status != "ok":
            continue
        with agrad.using_backend(name):
            target = _model()
            target.load_state_dict(agrad.load(tmp_path / "m.safetensors"))
            for k, v in target.state_dict().items():
                assert v.backend.name == name
                assert_close(v, want[k], rtol=1e-6)


def _write_raw(path, header_obj, data: bytes, declared=None):
    text = json.dumps(header_obj).encode()
    n = len(text) if declared is None else declared
    path.write_bytes(n.to_bytes(8, "little") + text + data)


@pytest.mark.parametrize(
    "case,match",
    [
        ("short", "shorter than"),
        ("huge_header", "truncated"),
        ("bad_json", "JSON"),
        ("bad_dtype", "cannot load"),
        ("size_mismatch", "needs 16 bytes"),
        ("truncated_data", "outside"),
        ("gap", "tile"),
        ("trailing", "after the last tensor"),
    ],
)
def test_corrupt_files_get_clear_errors(tmp_path, case, match):
    p = tmp_path / "bad.safetensors"
    ok = {"w": {"dtype": "F64", "shape": [2], "data_offsets": [0, 16]}}
    if case == "short":
        p.write_bytes(b"\x01\x02")
    elif case == "huge_header":
        _write_raw(p, ok, bytes(16), declared=10**6)
    elif case == "bad_json":
        p.write_bytes((5).to_bytes(8, "little") + b"{nope" + bytes(16))
    elif case == "bad_dtype":
        _write_raw(p, {"w": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]}}, bytes(4))
    elif case == "size_mismatch":
        _write_raw(p, {"w": {"dtype": "F64", "shape": [2], "data_offsets": [0, 8]}}, bytes(8))
    elif case == "truncated_data":
        _write_raw(p, ok, bytes(10))
    elif case == "gap":
        _write_raw(p, {"w": {"dtype": "F64", "shape": [2], "data_offsets": [8, 24]}}, bytes(24))
    elif case == "trailing":
        _write_raw(p, ok, bytes(24))
    with pytest.raises(agrad.CheckpointError, match=match):
        agrad.load(p)


def test_truncated_real_checkpoint_leaves_model_untouched(tmp_path):
    m = _model()
    path = tmp_path / "m.safetensors"
    agrad.save(m.state_dict(), path)
    blob = path.read_bytes()
    path.write_bytes(blob[:-5])
    before = {k: to_np(v).copy() for k, v in m.state_dict().items()}
    with pytest.raises(agrad.CheckpointError):
        m.load_state_dict(agrad.load(path))
    for k, v in m.state_dict().items():
        assert np.array_equal(to_np(v), before[k])
