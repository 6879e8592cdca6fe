"""``agrad.linalg``: the Array API standard's linear-algebra extension, with gradients.

Every function accepts Tensors (or raw arrays of the active backend) and computes with the
backend's own ``linalg``; the derivative rules are written with standard functions only, so they
also run on Tensors for higher-order derivatives. Multi-output functions return the standard's
named tuples. See each submodule's docstring for the conventions at non-smooth points
(singular matrices, repeated eigenvalues, the zero vector).
"""

from agrad._ops.contractions import tensordot, vecdot
from agrad._ops.linear_algebra import matmul, matrix_transpose
from agrad.linalg._decompositions import (
    EighResult,
    QRResult,
    SVDResult,
    cholesky,
    eigh,
    eigvalsh,
    qr,
    svd,
    svdvals,
)
from agrad.linalg._norms import matrix_norm, matrix_rank, vector_norm
from agrad.linalg._products import cross, diagonal, outer, trace
from agrad.linalg._solvers import SlogdetResult, det, inv, matrix_power, pinv, slogdet, solve

__all__ = [
    "cholesky", "cross", "det", "diagonal", "eigh", "eigvalsh", "inv", "matmul", "matrix_norm",
    "matrix_power", "matrix_rank", "matrix_transpose", "outer", "pinv", "qr", "slogdet", "solve",
    "svd", "svdvals", "tensordot", "trace", "vecdot", "vector_norm",
    "EighResult", "QRResult", "SVDResult", "SlogdetResult",
]  # fmt: skip
