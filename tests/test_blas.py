"""kbook.ops.blas: products on SciPy's BLAS give NumPy's answers, for every shape, layout and dtype."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kbook.ops.blas import column_sums, gemm_into, matmul


@settings(max_examples=60, deadline=None)
@given(lead=st.lists(st.integers(0, 4), max_size=3), k=st.integers(0, 6), n=st.integers(1, 5),
       dtype=st.sampled_from(["float32", "float64"]), transpose_a=st.booleans(), transpose_b=st.booleans(),
       seed=st.integers(0, 2**16))
def test_matmul_is_numpys_matmul(lead, k, n, dtype, transpose_a, transpose_b, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((*lead, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    if transpose_a and a.ndim == 2:  # a Fortran-ordered operand, as Dense's backward passes x.T
        a = np.asfortranarray(a)
    if transpose_b:
        b = np.asfortranarray(b)
    got = matmul(a, b)
    expected = a @ b
    assert got.shape == expected.shape and got.dtype == expected.dtype
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol * max(1, k))


def test_matmul_of_a_vector_and_of_strided_views():
    rng = np.random.default_rng(0)
    b = rng.standard_normal((6, 3))
    v = rng.standard_normal(6)
    assert matmul(v, b).shape == (3,)
    np.testing.assert_allclose(matmul(v, b), v @ b, rtol=1e-12)
    a = rng.standard_normal((5, 12))[:, ::2]  # neither C- nor Fortran-ordered
    np.testing.assert_allclose(matmul(a, b), a @ b, rtol=1e-12)
    np.testing.assert_allclose(matmul(a, b[::-1]), a @ b[::-1], rtol=1e-12)


@pytest.mark.parametrize("a_dtype,b_dtype", [("int64", "int64"), ("float16", "float16"), ("float32", "float64"),
                                             ("int32", "float32")])
def test_matmul_other_dtypes_follow_numpy(a_dtype, b_dtype):
    rng = np.random.default_rng(1)
    a = (rng.standard_normal((4, 3)) * 4).astype(a_dtype)
    b = (rng.standard_normal((3, 2)) * 4).astype(b_dtype)
    got, expected = matmul(a, b), a @ b
    assert got.dtype == expected.dtype
    np.testing.assert_allclose(got.astype("float64"), expected.astype("float64"), rtol=1e-3)


def test_gemm_into_accumulates_with_beta():
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((7, 4)), rng.standard_normal((4, 3))
    out = rng.standard_normal((7, 3))
    before = out.copy()
    assert gemm_into(a, b, out, beta=1.0) is out
    np.testing.assert_allclose(out, before + a @ b, rtol=1e-12)
    gemm_into(a, b.T.copy().T, out)  # beta 0: overwritten; b given Fortran-ordered
    np.testing.assert_allclose(out, a @ b, rtol=1e-12)


@pytest.mark.parametrize("shape", [(5, 3), (2, 4, 5, 3), (1, 1), (0, 3), (4, 0), (3,)])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
def test_column_sums_is_a_sum_over_every_axis_but_the_last(shape, dtype):
    a = (np.random.default_rng(3).standard_normal(shape) * 3).astype(dtype)
    got = column_sums(a)
    expected = a.sum(axis=tuple(range(a.ndim - 1)))
    assert got.shape == expected.shape == (shape[-1],)
    assert got.dtype == a.dtype
    np.testing.assert_allclose(got, expected, rtol=1e-5 if dtype == "float32" else 1e-12)
