"""agrad: automatic differentiation for the Python Array API standard.

One ``Tensor``, one engine, any registered array backend (NumPy by default)::

    import agrad
    x = agrad.Tensor(1.0)
    (((x**3 + x**2 + x + 1) - 1)**2).backward()
    x.value, x.grad                     # 1.0, 36.0
"""

import sys as _sys

from agrad._base.backend import (
    Backend,
    BackendError,
    Capabilities,
    available_backends,
    get_backend,
    load_backend,
    register_backend,
    registered_backends,
    set_backend,
    using_backend,
)

# --- the standard's chapters (keep each block's names sorted) --------------------------------
from agrad._base.constants import e, inf, nan, newaxis, pi
from agrad._base.dtypes import (
    DType,
    bfloat16,
    bool,
    complex64,
    complex128,
    float16,
    float32,
    float64,
    int8,
    int16,
    int32,
    int64,
    uint8,
    uint16,
    uint32,
    uint64,
)
from agrad._base.kernels import KernelSpec, declared_kernels
from agrad._base.modes import enable_grad, inference_mode, is_grad_enabled, no_grad
from agrad._core.anomaly import detect_anomaly, is_anomaly_enabled
from agrad._core.batching import BatchingError
from agrad._core.primitive import Primitive, primitive
from agrad._core.tensor import Tensor
from agrad._core.tracing import TracingError
from agrad._ops.contractions import tensordot, vecdot
from agrad._ops.creation import (
    arange,
    asarray,
    empty,
    empty_like,
    eye,
    from_dlpack,
    full,
    full_like,
    linspace,
    meshgrid,
    ones,
    ones_like,
    tensor,
    tril,
    triu,
    zeros,
    zeros_like,
)
from agrad._ops.data_type_functions import (
    astype,
    can_cast,
    finfo,
    iinfo,
    isdtype,
    result_type,
    to_device,
)
from agrad._ops.einsum import einsum
from agrad._ops.elementwise import (
    abs,
    acos,
    acosh,
    add,
    asin,
    asinh,
    atan,
    atan2,
    atanh,
    bitwise_and,
    bitwise_invert,
    bitwise_left_shift,
    bitwise_or,
    bitwise_right_shift,
    bitwise_xor,
    ceil,
    clip,
    conj,
    copysign,
    cos,
    cosh,
    divide,
    equal,
    exp,
    expm1,
    floor,
    floor_divide,
    greater,
    greater_equal,
    hypot,
    imag,
    isfinite,
    isinf,
    isnan,
    less,
    less_equal,
    log,
    log1p,
    log2,
    log10,
    logaddexp,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    maximum,
    minimum,
    multiply,
    negative,
    nextafter,
    not_equal,
    positive,
    pow,
    real,
    reciprocal,
    remainder,
    round,
    sign,
    signbit,
    sin,
    sinh,
    sqrt,
    square,
    subtract,
    tan,
    tanh,
    trunc,
)
from agrad._ops.info import __array_namespace_info__
from agrad._ops.linear_algebra import matmul, matrix_transpose
from agrad._ops.manipulation import (
    broadcast_arrays,
    broadcast_shapes,
    broadcast_to,
    concat,
    expand_dims,
    flip,
    moveaxis,
    permute_dims,
    repeat,
    reshape,
    roll,
    squeeze,
    stack,
    tile,
    unstack,
)
from agrad._ops.scatter import (
    scatter_add,
    take,
    take_along_axis,
)
from agrad._ops.searching import argmax, argmin, nonzero, searchsorted, where
from agrad._ops.set_functions import isin, unique_all, unique_counts, unique_inverse, unique_values
from agrad._ops.sorting import argsort, sort
from agrad._ops.statistical import (
    count_nonzero,
    cumulative_prod,
    cumulative_sum,
    max,
    mean,
    min,
    prod,
    std,
    sum,
    var,
)
from agrad._ops.utility import all, any, diff
from agrad._state.materialize import materialize

# --- transformations: higher-order and forward-mode derivatives ---------------------------------
from agrad._transforms.checkpoint import checkpoint
from agrad._transforms.custom import custom_jvp, custom_vjp
from agrad._transforms.functional import grad, hvp, jvp, value_and_grad, vjp
from agrad._transforms.jacobians import hessian, jacfwd, jacobian, jacrev
from agrad._transforms.jit import jit
from agrad._transforms.vmap import vmap

# isort: split
# The extensions and the subpackages: above the main namespace, whose functions they use; then
# the Tensor's operators and methods, installed once everything they call exists.
from agrad import _methods, amp, fft, linalg, nn, optim, random
from agrad._state.random import manual_seed
from agrad._state.serialization import CheckpointError, load, save
from agrad.amp import autocast

array = Tensor  # pygrad's ``tensor.array(value)`` spelling

__version__ = "0.1.0"
__array_api_version__ = "2025.12"

_methods.install(_sys.modules[__name__])  # also: this namespace is what rules see on Tensors
