"""Mixed precision: the extension dtypes float16/bfloat16, ``agrad.autocast`` and ``GradScaler``.

Autocast results are checked against ``torch.autocast("cpu", dtype=...)`` on the same float32
inputs. Accumulation order differs between backends (and NumPy's float16 matmul rounds more often
than PyTorch's), so outputs and gradients are compared in float32 by the normwise relative error
``max|ours - torch| / max|torch|``: at most 1e-2 for bfloat16 (8-bit mantissa) and 1e-3 for
float16 (11-bit). GradScaler's scale sequence must equal torch.amp.GradScaler's exactly.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

import agrad
import agrad.nn.functional as F
from agrad.amp import GradScaler, float32_op, get_autocast_dtype, is_autocast_enabled
from tests.helpers import to_np

torch = pytest.importorskip("torch")

HALVES = {"float16": (agrad.float16, torch.float16, 1e-3), "bfloat16": (agrad.bfloat16, torch.bfloat16, 1e-2)}


def _need(backend, name: str):
    """The agrad dtype ``name``, or a skip naming it where the backend lacks it."""
    dt = HALVES[name][0]
    try:
        agrad.asarray([1.0], dtype=dt)
    except TypeError:
        pytest.skip(f"backend {backend.name!r} lacks the dtype {name}")
    return dt


def _t(backend, a: np.ndarray, requires_grad: bool = True) -> agrad.Tensor:
    return agrad.Tensor(backend.asarray(a), requires_grad=requires_grad)


def _rel(ours, theirs) -> float:
    if not isinstance(ours, agrad.Tensor):
        ours = agrad.Tensor(ours, requires_grad=False)
    a = to_np(agrad.astype(ours.detach(), agrad.float32)).astype(np.float64)
    b = theirs.detach().float().numpy().astype(np.float64)
    assert a.shape == b.shape
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


# --- dtypes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(HALVES))
def test_round_trip_is_differentiable_and_rounds_as_torch(name, backend):
    dt = _need(backend, name)
    a = np.array([1.0, 1.0 + 2.0**-9, -3.14159, 65504.0, 1e-3], np.float32)
    x = _t(backend, a)
    h = agrad.astype(x, dt)
    assert h.dtype is dt and agrad.finfo(h).dtype is dt
    back = agrad.astype(h, agrad.float32)
    assert back.dtype is agrad.float32
    want = torch.tensor(a).to(HALVES[name][1]).float().numpy()
    np.testing.assert_array_equal(to_np(back), want)  # round to nearest even, as PyTorch
    (back * 3.0).sum().backward()
    assert str(x.grad.dtype).endswith("float32")
    np.testing.assert_array_equal(to_np(x.grad), np.full(5, 3.0, np.float32))


@pytest.mark.parametrize("name", list(HALVES))
def test_promotion_on_arrays(name, backend):
    dt = _need(backend, name)
    h = agrad.asarray([1.0, 2.0], dtype=dt)
    f32 = agrad.asarray([1.0, 2.0], dtype=agrad.float32)
    i8 = agrad.asarray([1, 2], dtype=agrad.int8)
    assert (h + f32).dtype is agrad.float32 and (f32 * h).dtype is agrad.float32
    assert (h * 2.5).dtype is dt and (1.5 - h).dtype is dt and (h + 1).dtype is dt
    assert (i8 + h).dtype is dt and (h == h).dtype is agrad.bool
    other = agrad.bfloat16 if dt is agrad.float16 else agrad.float16
    try:
        o = agrad.asarray([1.0, 2.0], dtype=other)
    except TypeError:
        return  # numpy: no bfloat16 to mix with
    assert (h + o).dtype is agrad.float32


@pytest.mark.backend_independent
def test_promotion_table_and_casting_rules():
    f16, bf16, f32, f64 = agrad.float16, agrad.bfloat16, agrad.float32, agrad.float64
    rt = agrad.result_type
    assert rt(f16, f32) is f32 and rt(bf16, f32) is f32 and rt(bf16, f16) is f32
    assert rt(f16, f64) is f64 and rt(bf16, agrad.complex64) is agrad.complex64
    assert rt(agrad.int64, f16) is f16 and rt(agrad.bool, bf16) is bf16 and rt(agrad.uint8, bf16) is bf16
    assert rt(f16, 1.0) is f16 and rt(bf16, 2) is bf16
    assert agrad.can_cast(f16, f32) and agrad.can_cast(bf16, f64) and not agrad.can_cast(f32, f16)
    assert not agrad.can_cast(bf16, f16) and not agrad.can_cast(f16, bf16)
    assert agrad.isdtype(f16, "real floating") and agrad.isdtype(bf16, ("integral", "real floating"))


@pytest.mark.backend_independent
def test_finfo_matches_torch():
    for name, (dt, tdt, _) in HALVES.items():
        ours, theirs = agrad.finfo(dt), torch.finfo(tdt)
        assert (ours.bits, ours.eps, ours.max, ours.min, ours.smallest_normal) == (
            theirs.bits, theirs.eps, theirs.max, theirs.min, theirs.smallest_normal), name
        assert ours.dtype is dt and dt.name == name and repr(dt) == f"agrad.{name}"


def test_standard_dtype_list_is_unchanged(backend):
    names = set(agrad.__array_namespace_info__().dtypes())
    assert not names & {"float16", "bfloat16"}
    assert {"float32", "int8", "bool"} <= names


def test_a_backend_without_the_dtype_says_so(backend):
    for name, (dt, _, _) in HALVES.items():
        try:
            agrad.asarray([1.0], dtype=dt)
        except TypeError as e:
            assert repr(backend.name) in str(e) and name in str(e)


# --- autocast ---------------------------------------------------------------------------------


RNG = np.random.default_rng(0)


def _data(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


CASES = {  # (agrad op, torch op, input shapes): every op run on the same float32 inputs
    "matmul": (lambda m, a, b: m.matmul(a, b), lambda a, b: torch.matmul(a, b), [(4, 16), (16, 8)]),
    "@": (lambda m, a, b: a @ b, lambda a, b: a @ b, [(2, 4, 16), (16, 8)]),
    "linear": (lambda m, x, w, b: F.linear(x, w, b), torch.nn.functional.linear, [(6, 16), (5, 16), (5,)]),
    "conv2d": (lambda m, x, w, b: F.conv2d(x, w, b, padding=1), lambda x, w, b: torch.nn.functional.conv2d(
        x, w, b, padding=1), [(2, 4, 5, 5), (3, 4, 2, 2), (3,)]),
    "conv1d": (lambda m, x, w: F.conv1d(x, w, stride=2), lambda x, w: torch.nn.functional.conv1d(
        x, w, stride=2), [(2, 4, 9), (3, 4, 3)]),
    "conv_transpose2d": (lambda m, x, w: F.conv_transpose2d(x, w, stride=2),
                         lambda x, w: torch.nn.functional.conv_transpose2d(x, w, stride=2),
                         [(1, 4, 3, 3), (4, 2, 2, 2)]),
}


FORWARD_ONLY = {"conv1d", "conv_transpose2d"}
"""Their hooks are conv2d's and conv_transpose2d's own; gradients are checked on conv2d (on JAX
every new shape compiles, so the file stays fast)."""


@pytest.mark.parametrize("name", list(HALVES))
@pytest.mark.parametrize("op", list(CASES))
def test_autocast_forward_and_gradients_match_torch(op, name, backend):
    dt = _need(backend, name)
    if backend.name == "jax" and name == "float16" and op != "matmul":
        pytest.skip("jax compiles every new op, shape and dtype: float16 autocast is checked there on "
                    "matmul only (bfloat16 on every op), to keep the file fast")
    _, tdt, tol = HALVES[name]
    ours_fn, torch_fn, shapes = CASES[op]
    arrays = [_data(*s) for s in shapes]
    xs = [_t(backend, a) for a in arrays]
    with agrad.autocast(dtype=dt):
        y = ours_fn(agrad, *xs)
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    with torch.autocast("cpu", dtype=tdt):
        ty = torch_fn(*ts)
    assert ty.dtype is tdt
    assert y.dtype is dt  # the bias is cast too, as torch's autocast does
    assert _rel(y, ty) <= tol
    if op in FORWARD_ONLY:
        return
    cot = _data(*ty.shape)
    (y * _t(backend, cot, False)).sum().backward()
    (ty.float() * torch.tensor(cot)).sum().backward()
    for x, t in zip(xs, ts):
        assert str(x.grad.dtype).endswith("float32")  # back to the parameters' own dtype
        assert _rel(x.grad, t.grad) <= tol


def test_outside_autocast_nothing_changes(backend):
    a, b = _t(backend, _data(3, 4)), _t(backend, _data(4, 2))
    assert (a @ b).dtype is agrad.float32 and F.linear(a, agrad.matrix_transpose(b)).dtype is agrad.float32
    with agrad.autocast(dtype=agrad.float16, enabled=False):
        assert agrad.matmul(a, b).dtype is agrad.float32
    i = agrad.asarray([[1, 2], [3, 4]], dtype=agrad.int32)
    with agrad.autocast(dtype=agrad.float16):
        assert (i @ i).dtype is agrad.int32  # integers are never converted
    assert not is_autocast_enabled()


@pytest.mark.requires("float64")
def test_autocast_leaves_float64(backend):
    a = agrad.asarray([[1.0, 2.0]], dtype=agrad.float64)
    with agrad.autocast():
        assert (a @ agrad.matrix_transpose(a)).dtype is agrad.float64


@pytest.mark.parametrize("name", list(HALVES))
def test_float32_op_computes_losses_in_float32(name, backend):
    dt = _need(backend, name)
    _, tdt, tol = HALVES[name]
    a, b = _data(4, 5), _data(4, 5)
    x = agrad.astype(_t(backend, a), dt)
    mse = float32_op(F.mse_loss)
    with agrad.autocast(dtype=dt):
        loss = mse(x, agrad.astype(_t(backend, b, False), dt))
    assert loss.dtype is agrad.float32
    with torch.autocast("cpu", dtype=tdt):
        tl = torch.nn.functional.mse_loss(torch.tensor(a).to(tdt), torch.tensor(b).to(tdt))
    assert tl.dtype is torch.float32 and _rel(loss, tl) <= 1e-6
    assert mse(x, x).dtype is dt  # outside autocast: unchanged


@pytest.mark.backend_independent
def test_autocast_mode_nests_decorates_and_is_per_thread():
    assert get_autocast_dtype() is None
    with agrad.autocast():
        assert get_autocast_dtype() is agrad.bfloat16
        with agrad.autocast(dtype=agrad.float16):
            assert get_autocast_dtype() is agrad.float16
            seen = []
            t = threading.Thread(target=lambda: seen.append(get_autocast_dtype()))
            t.start()
            t.join()
            assert seen == [None]
        with agrad.autocast(enabled=False):
            assert not is_autocast_enabled()
        assert get_autocast_dtype() is agrad.bfloat16
    assert get_autocast_dtype() is None

    @agrad.autocast(dtype=agrad.float16)
    def inside():
        return get_autocast_dtype()

    assert inside() is agrad.float16 and get_autocast_dtype() is None
    with pytest.raises(ValueError, match="float16 or agrad.bfloat16"):
        agrad.autocast(dtype=agrad.float32)
    with pytest.raises(TypeError, match="no device type"):
        agrad.autocast("cpu")


# --- GradScaler ---------------------------------------------------------------------------------


def _run_both(backend, grad_rows, **kw):
    """The same training loop with agrad's and torch's GradScaler: both scales and whether agrad's
    step was skipped, per iteration (a row with inf/nan makes that iteration's gradient so); the
    parameters must agree after every iteration."""
    p0 = np.array([1.0, -2.0, 0.5], np.float32)
    p = _t(backend, p0)
    opt = agrad.optim.SGD([p], lr=0.1)
    ours = GradScaler(**kw)
    tp = torch.tensor(p0, requires_grad=True)
    topt = torch.optim.SGD([tp], lr=0.1)
    theirs = torch.amp.GradScaler("cpu", **kw)
    log = []
    for row in grad_rows:
        c = np.array(row, np.float32)
        opt.zero_grad()
        before = to_np(p).copy()
        ours.scale((p * _t(backend, c, False)).sum()).backward()
        ours.step(opt)
        ours.update()
        topt.zero_grad()
        theirs.scale((tp * torch.tensor(c)).sum()).backward()
        theirs.step(topt)
        theirs.update()
        log.append((ours.get_scale(), theirs.get_scale(), bool(np.array_equal(before, to_np(p)))))
        np.testing.assert_allclose(to_np(p), tp.detach().numpy(), rtol=1e-6)
    return ours, theirs, log


def test_grad_scaler_follows_torch(backend):
    inf = float("inf")
    rows = [[1, 2, 3], [1, inf, 3], [0.5, 0.5, 0.5], [1, 1, 1], [2, 2, 2], [float("nan"), 1, 1], [1, 1, 1]]
    ours, theirs, log = _run_both(backend, rows, init_scale=2.0**10, growth_factor=3.0,
                                  backoff_factor=0.25, growth_interval=3)
    assert [a for a, _, _ in log] == [b for _, b, _ in log]
    assert [a for a, _, _ in log] == [1024.0, 256.0, 256.0, 256.0, 768.0, 192.0, 192.0]
    assert [s for _, _, s in log] == [False, True, False, False, False, True, False]  # skipped steps
    assert ours.state_dict() == theirs.state_dict()
    fresh = GradScaler()
    fresh.load_state_dict(theirs.state_dict())
    assert fresh.state_dict() == theirs.state_dict()
    back = torch.amp.GradScaler("cpu")
    back.load_state_dict(ours.state_dict())
    assert back.state_dict() == ours.state_dict()


def test_grad_scaler_protocol_errors_and_disabled(backend):
    p = _t(backend, np.ones(2, np.float32))
    opt = agrad.optim.SGD([p], lr=0.1)
    s = GradScaler(init_scale=8.0)
    with pytest.raises(RuntimeError, match="before scale"):
        s.update()
    s.scale(p.sum()).backward()
    s.unscale_(opt)
    np.testing.assert_array_equal(to_np(p.grad), np.ones(2, np.float32))  # 8 / 8
    with pytest.raises(RuntimeError, match="already been called"):
        s.unscale_(opt)
    s.step(opt)
    with pytest.raises(RuntimeError, match="already been called"):
        s.step(opt)
    s.update(new_scale=2.0)
    assert s.get_scale() == 2.0
    off = GradScaler(enabled=False)
    loss = p.sum()
    assert off.scale(loss) is loss and off.get_scale() == 1.0 and off.state_dict() == {}
    with pytest.raises(ValueError, match="growth factor"):
        GradScaler(growth_factor=1.0)
