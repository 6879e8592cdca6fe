"""agrad: automatic differentiation for the Python Array API standard.

One ``Tensor``, one engine, any registered array backend (NumPy by default)::

    import agrad
    x = agrad.Tensor(1.0)
    (((x**3 + x**2 + x + 1) - 1)**2).backward()
    x.value, x.grad                     # 1.0, 36.0
"""

from agrad._backend import (
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
from agrad._creation import (
    arange,
    asarray,
    full,
    full_like,
    ones,
    ones_like,
    tensor,
    zeros,
    zeros_like,
)
from agrad._data_type_functions import astype, isdtype
from agrad._dtypes import (
    DType,
    bool,
    complex64,
    complex128,
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
from agrad._elementwise import (
    abs,
    add,
    clip,
    cos,
    divide,
    equal,
    exp,
    expm1,
    greater,
    greater_equal,
    less,
    less_equal,
    log,
    log1p,
    logaddexp,
    logical_and,
    logical_not,
    logical_or,
    maximum,
    minimum,
    multiply,
    negative,
    not_equal,
    pow,
    sign,
    sin,
    sqrt,
    square,
    subtract,
    tanh,
)
from agrad._engine import enable_grad, is_grad_enabled, no_grad
from agrad._indexing import scatter_add, take
from agrad._linalg_ops import matmul, matrix_transpose
from agrad._manipulation import (
    broadcast_to,
    concat,
    expand_dims,
    permute_dims,
    reshape,
    squeeze,
    stack,
)
from agrad._materialize import materialize
from agrad._primitive import Primitive, primitive
from agrad._searching import argmax, argmin, where
from agrad._statistical import max, mean, min, sum
from agrad._tensor import Tensor

array = Tensor  # pygrad's ``tensor.array(value)`` spelling

__version__ = "0.1.0"
__array_api_version__ = "2025.12"
