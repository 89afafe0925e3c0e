"""Matrix products through one BLAS library: SciPy's.

A NumPy + SciPy install carries two copies of OpenBLAS: NumPy's (behind ``@``) and SciPy's
(behind ``scipy.linalg.blas``, which kbook's convolution needs for products that accumulate in
place).  After a product, an OpenBLAS worker thread keeps spinning on its core for a while,
waiting for the next one.  Use both copies in one forward pass (Dense with ``@`` after Conv2D
with SciPy's) and each copy's spinning workers take the cores the other copy's products need:
the residual CNN of ``bench/cases_models.py`` took 90 ms a forward pass that way and 38-48 ms
with every product on SciPy's copy (measured on 2 cores).  So every large product in kbook's
layers goes through here.

Only float32 and float64 go to BLAS; other dtypes (integers, float16) use NumPy's ``@``.
"""
import math

import numpy as np
from scipy.linalg import blas

_BLAS_TYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _fortran(m):
    """(matrix, trans): m itself if Fortran-ordered, else its C-ordered transpose flagged to be transposed back."""
    if m.flags.f_contiguous:
        return m, 0
    if m.flags.c_contiguous:
        return m.T, 1
    return np.asfortranarray(m), 0


def gemm_into(a, b, out, beta=0.0):
    """out = a @ b + beta * out for 2-D arrays; ``out`` must be C-ordered.

    BLAS is column-major, so it computes out.T = b.T @ a.T, where every C-ordered array is a
    Fortran-ordered view of its transpose: nothing is copied.
    """
    gemm = blas.get_blas_funcs("gemm", dtype=out.dtype)
    bt, trans_b = _fortran(b.T)
    at, trans_a = _fortran(a.T)
    gemm(1.0, bt, at, beta=beta, c=out.T, overwrite_c=1, trans_a=trans_b, trans_b=trans_a)
    return out


def matmul(a, b):
    """``a @ b`` for a (..., k) and b (k, n) -> (..., n), on SciPy's BLAS when the dtype allows."""
    dtype = np.result_type(a, b)
    if dtype not in _BLAS_TYPES or b.ndim != 2 or a.ndim < 1:
        return a @ b
    a2 = np.asarray(a, dtype=dtype).reshape(math.prod(a.shape[:-1]), a.shape[-1])
    if a2.shape[1] == 0:  # an empty sum: zeros (BLAS would refuse k = 0)
        out = np.zeros((a2.shape[0], b.shape[1]), dtype)
    else:
        out = np.empty((a2.shape[0], b.shape[1]), dtype)
        if out.size:
            gemm_into(a2, np.asarray(b, dtype=dtype), out)
    return out.reshape(*a.shape[:-1], b.shape[1])


def column_sums(a):
    """a (..., n) summed over every axis but the last -> (n,): ones @ a as one BLAS product.

    NumPy's ``a.sum(axis=0)`` on a tall array adds row by row, without the SIMD of a matrix
    product (the bias gradient of a 64x32x32x16 convolution output: 3 ms that way, 0.5 ms here).
    """
    if a.size == 0:
        return np.zeros(a.shape[-1], a.dtype)
    if a.dtype not in _BLAS_TYPES:
        return a.sum(axis=tuple(range(a.ndim - 1)))
    rows = np.ascontiguousarray(a).reshape(math.prod(a.shape[:-1]), a.shape[-1])
    gemv = blas.get_blas_funcs("gemv", dtype=a.dtype)
    return gemv(1.0, rows.T, np.ones(rows.shape[0], a.dtype))
