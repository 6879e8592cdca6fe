"""L-BFGS with an optional strong-Wolfe line search: PyTorch's ``torch.optim.LBFGS``, ported.

L-BFGS treats all parameters as one flat vector: it keeps the last ``history_size`` pairs of
steps ``s`` and gradient changes ``y``, turns the gradient into a quasi-Newton direction with
the two-loop recursion, and moves along it by a fixed ``lr`` or by the step a strong-Wolfe line
search (cubic interpolation, ``_strong_wolfe``) finds. ``step(closure)`` calls ``closure`` (which
clears the gradients, computes the loss, calls ``backward`` and returns the loss) as often as
PyTorch's does: once per iteration without a line search, once per trial step with one.

The algorithm is inherently value-dependent (its iterations stop on tolerances, the line
search branches on losses), so unlike the other optimizers it converts scalars to Python
floats and branches on them, on the host: on a lazy backend (Dask) each conversion computes,
and the vectors it keeps between evaluations are materialised so graphs stay one evaluation
long. Its scalar arithmetic (dot products, step lengths) is done in Python floats (float64);
the vectors keep the parameters' dtype.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from agrad._base.modes import enable_grad, no_grad
from agrad._core.tensor import Tensor
from agrad.optim.optimizer import Optimizer, ParamsT

LINE_SEARCHES = (None, "strong_wolfe")


def _cubic_interpolate(
    x1: float, f1: float, g1: float, x2: float, f2: float, g2: float, bounds: tuple | None = None
) -> float:
    """The minimiser of the cubic through two points with values ``f`` and slopes ``g``, clamped
    to ``bounds`` (default: between the points); their midpoint where the cubic has none."""
    if bounds is not None:
        xmin_bound, xmax_bound = bounds
    else:
        xmin_bound, xmax_bound = (x1, x2) if x1 <= x2 else (x2, x1)
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1**2 - g1 * g2
    if d2_square >= 0:
        d2 = math.sqrt(d2_square)
        if x1 <= x2:
            min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(min_pos, xmin_bound), xmax_bound)
    return (xmin_bound + xmax_bound) / 2.0


def _strong_wolfe(
    obj_func: Callable[[list, float, Any], tuple[float, Any]],
    dot: Callable[[Any, Any], float],
    x: list,
    t: float,
    d: Any,
    f: float,
    g: Any,
    gtd: float,
    d_norm: float,
    c1: float = 1e-4,
    c2: float = 0.9,
    tolerance_change: float = 1e-9,
    max_ls: int = 25,
) -> tuple[float, Any, float, int]:
    """A step ``t`` along ``d`` from ``x`` satisfying the strong Wolfe conditions (sufficient
    decrease ``c1``, curvature ``c2``): bracket, then zoom by cubic interpolation. ``obj_func(x,
    t, d)`` is the loss and flat gradient at ``x + t * d``; ``d_norm`` is ``max |d|``. Returns
    ``(loss, gradient, t, evaluations)`` (PyTorch's ``_strong_wolfe``, with ``dot`` passed in)."""
    f_new, g_new = obj_func(x, t, d)
    ls_func_evals = 1
    gtd_new = dot(g_new, d)

    # bracket an interval containing a point satisfying the Wolfe criteria
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done = False
    ls_iter = 0
    while ls_iter < max_ls:
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        # extrapolate
        min_step = t + 0.01 * (t - t_prev)
        max_step = t * 10
        tmp = t
        t = _cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(min_step, max_step))
        t_prev, f_prev, g_prev, gtd_prev = tmp, f_new, g_new, gtd_new
        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = dot(g_new, d)
        ls_iter += 1

    if ls_iter == max_ls:  # reached the maximum number of evaluations
        bracket, bracket_f, bracket_g = [0, t], [f, f_new], [g, g_new]

    # zoom: refine the bracket until a point satisfies the criteria
    insuf_progress = False
    low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:  # the bracket is too small
            break
        t = _cubic_interpolate(
            bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1]
        )
        # too close to a boundary (twice in a row, or outside): move 10% of the bracket inside
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:
            if insuf_progress or t >= max(bracket) or t <= min(bracket):
                t = (
                    max(bracket) - eps
                    if abs(t - max(bracket)) < abs(t - min(bracket))
                    else min(bracket) + eps
                )
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False

        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = dot(g_new, d)
        ls_iter += 1

        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low_pos]:
            # Armijo condition not satisfied, or not lower than the lowest point
            bracket[high_pos], bracket_f[high_pos] = t, f_new
            bracket_g[high_pos], bracket_gtd[high_pos] = g_new, gtd_new
            low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True  # Wolfe conditions satisfied
            elif gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0:
                # the old high becomes the new low
                bracket[high_pos], bracket_f[high_pos] = bracket[low_pos], bracket_f[low_pos]
                bracket_g[high_pos], bracket_gtd[high_pos] = bracket_g[low_pos], bracket_gtd[low_pos]
            # the new point becomes the new low
            bracket[low_pos], bracket_f[low_pos] = t, f_new
            bracket_g[low_pos], bracket_gtd[low_pos] = g_new, gtd_new

    return bracket_f[low_pos], bracket_g[low_pos], bracket[low_pos], ls_func_evals


class LBFGS(Optimizer):
    """PyTorch's ``LBFGS``: one parameter group, all of it optimised as one flat vector.

    State (PyTorch's keys, kept for the first parameter): ``func_evals``, ``n_iter``, the last
    direction ``d`` and step ``t``, the history ``old_dirs`` (``y``), ``old_stps`` (``s``) and
    ``ro`` (``1 / y.s``), ``H_diag``, ``prev_flat_grad``, ``prev_loss`` and ``al``.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1,
        max_iter: int = 20,
        max_eval: int | None = None,
        tolerance_grad: float = 1e-7,
        tolerance_change: float = 1e-9,
        history_size: int = 100,
        line_search_fn: str | None = None,
    ) -> None:
        if line_search_fn not in LINE_SEARCHES:
            raise ValueError(f"LBFGS: line_search_fn must be one of {LINE_SEARCHES}, got {line_search_fn!r}")
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = dict(
            lr=lr,
            max_iter=max_iter,
            max_eval=max_eval,
            tolerance_grad=tolerance_grad,
            tolerance_change=tolerance_change,
            history_size=history_size,
            line_search_fn=line_search_fn,
        )
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")

    # --- the flat vector --------------------------------------------------------------------------

    @property
    def _flat_params(self) -> list[Tensor]:
        return self.param_groups[0]["params"]

    def _xp(self) -> Any:
        return self._flat_params[0]._backend.xp

    def _dot(self, a: Any, b: Any) -> float:
        return float(self._xp().sum(a * b))

    def _max_abs(self, a: Any) -> float:
        xp = self._xp()
        return float(xp.max(xp.abs(a)))

    def _keep(self, *arrays: Any) -> tuple[Any, ...]:
        """The arrays, evaluated and held on a lazy backend (unchanged on eager ones)."""
        return self._flat_params[0]._backend.materialize(arrays)

    def _gather_flat_grad(self) -> Any:
        xp = self._xp()
        return xp.concat(
            [
                xp.reshape(p.grad if p.grad is not None else xp.zeros_like(p.value), (-1,))
                for p in self._flat_params
            ]
        )

    def _add_grad(self, step_size: float, update: Any) -> None:
        """Move every parameter by ``step_size`` times its slice of the flat ``update``."""
        xp = self._xp()
        new, offset = [], 0
        for p in self._flat_params:
            numel = math.prod(p.shape)
            new.append(p.value + step_size * xp.reshape(update[offset : offset + numel], p.shape))
            offset += numel
        self._set_param(self._keep(*new))

    def _set_param(self, values: Any) -> None:
        for p, v in zip(self._flat_params, values):
            p.value = v

    def _evaluate(self, closure: Callable[[], Any]) -> tuple[Any, float, Any]:
        """``closure()`` with gradients recorded: ``(its loss, the loss as a float, the flat
        gradient)``, both computed in one pass on a lazy backend."""
        with enable_grad():
            loss = closure()
        if isinstance(loss, Tensor):
            value, flat_grad = self._keep(loss.value, self._gather_flat_grad())
        else:
            value, (flat_grad,) = loss, self._keep(self._gather_flat_grad())
        return loss, float(value), flat_grad

    def _directional_evaluate(
        self, closure: Callable[[], Any], x: list, t: float, d: Any
    ) -> tuple[float, Any]:
        """The loss and flat gradient at ``x + t * d``; the parameters are put back to ``x``."""
        self._add_grad(t, d)
        _, loss, flat_grad = self._evaluate(closure)
        self._set_param(x)
        return loss, flat_grad

    # --- the step ---------------------------------------------------------------------------------

    def step(self, closure: Callable[[], Any]) -> Any:  # type: ignore[override]
        """Up to ``max_iter`` L-BFGS iterations; ``closure`` re-evaluates the model and returns the
        loss. Returns the loss of the first evaluation (before any move)."""
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        line_search_fn, history_size = group["line_search_fn"], group["history_size"]
        if line_search_fn not in LINE_SEARCHES:
            raise RuntimeError("only 'strong_wolfe' is supported")

        state = self.state.setdefault(id(self._flat_params[0]), {})
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        with no_grad():
            orig_loss, loss, flat_grad = self._evaluate(closure)
            current_evals = 1
            state["func_evals"] += 1
            if self._max_abs(flat_grad) <= tolerance_grad:  # already optimal
                return orig_loss

            d, t = state.get("d"), state.get("t")
            old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
            H_diag, prev_flat_grad, prev_loss = (
                state.get("H_diag"),
                state.get("prev_flat_grad"),
                state.get("prev_loss"),
            )

            n_iter = 0
            while n_iter < max_iter:
                n_iter += 1
                state["n_iter"] += 1

                # the descent direction
                if state["n_iter"] == 1:
                    d = -flat_grad
                    old_dirs, old_stps, ro, H_diag = [], [], [], 1
                else:
                    al = state.setdefault("al", [None] * history_size)
                    H_diag = self._remember(
                        old_dirs, old_stps, ro, history_size, flat_grad - prev_flat_grad, d * t, H_diag
                    )
                    d = self._two_loop(old_dirs, old_stps, ro, al, flat_grad, H_diag)
                prev_flat_grad, prev_loss = flat_grad, loss

                # the step length
                if state["n_iter"] == 1:
                    t = min(1.0, 1.0 / float(self._xp().sum(self._xp().abs(flat_grad)))) * lr
                else:
                    t = lr
                gtd = self._dot(flat_grad, d)  # the directional derivative
                if gtd > -tolerance_change:
                    break

                ls_func_evals = 0
                if line_search_fn is not None:
                    x_init = [p.value for p in self._flat_params]
                    loss, flat_grad, t, ls_func_evals = _strong_wolfe(
                        lambda x, t, d: self._directional_evaluate(closure, x, t, d),
                        self._dot,
                        x_init,
                        t,
                        d,
                        loss,
                        flat_grad,
                        gtd,
                        self._max_abs(d),
                        max_ls=max_eval - current_evals,
                    )
                    self._add_grad(t, d)
                    opt_cond = self._max_abs(flat_grad) <= tolerance_grad
                else:  # a fixed step; the function is re-evaluated except after the last iteration
                    self._add_grad(t, d)
                    if n_iter != max_iter:
                        _, loss, flat_grad = self._evaluate(closure)
                        opt_cond = self._max_abs(flat_grad) <= tolerance_grad
                        ls_func_evals = 1
                current_evals += ls_func_evals
                state["func_evals"] += ls_func_evals

                # stop?
                if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                    break
                if self._max_abs(d * t) <= tolerance_change:  # no progress in the parameters
                    break
                if abs(loss - prev_loss) < tolerance_change:  # nor in the loss
                    break

        state.update(
            d=d,
            t=t,
            old_dirs=old_dirs,
            old_stps=old_stps,
            ro=ro,
            H_diag=H_diag,
            prev_flat_grad=prev_flat_grad,
            prev_loss=prev_loss,
        )
        return orig_loss

    def _remember(
        self, old_dirs: list, old_stps: list, ro: list, history_size: int, y: Any, s: Any, H_diag: Any
    ) -> Any:
        """Add the last step ``s`` and gradient change ``y`` to the history where the curvature
        ``y.s`` is positive (dropping the oldest pair beyond ``history_size``); the new ``H_diag``,
        the scale of the initial inverse Hessian."""
        ys = self._dot(y, s)
        if ys <= 1e-10:
            return H_diag
        if len(old_dirs) == history_size:
            old_dirs.pop(0)
            old_stps.pop(0)
            ro.pop(0)
        y, s = self._keep(y, s)
        old_dirs.append(y)
        old_stps.append(s)
        ro.append(1.0 / ys)
        return ys / self._dot(y, y)

    def _two_loop(
        self, old_dirs: list, old_stps: list, ro: list, al: list, flat_grad: Any, H_diag: Any
    ) -> Any:
        """The direction ``-H grad`` by the two-loop recursion over the history. Its coefficients
        stay 0-d arrays (``al`` keeps the first loop's, as PyTorch's state does), so a lazy
        backend computes the whole recursion at once instead of syncing twice per pair."""
        xp, n = self._xp(), len(old_dirs)
        q = -flat_grad
        for i in range(n - 1, -1, -1):
            al[i] = xp.sum(old_stps[i] * q) * ro[i]
            q = q + (-al[i]) * old_dirs[i]
        r = q * H_diag
        for i in range(n):
            be_i = xp.sum(old_dirs[i] * r) * ro[i]
            r = r + (al[i] - be_i) * old_stps[i]
        r, *al[:n] = self._keep(r, *al[:n])
        return r
