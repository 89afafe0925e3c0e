"""Merge layers against tf.keras: values, gradients of every input, broadcasting, errors."""
import numpy as np
import pytest

from kbook.check import relative_error
from kbook.layers import Add, Average, Concatenate, Input, Multiply, Subtract

MERGES = {"Add": Add, "Subtract": Subtract, "Multiply": Multiply, "Average": Average}


def compare(tf, layer, keras_layer, xs, dtype):
    xs = [x.astype(dtype) for x in xs]
    y = layer(xs)
    dy = np.random.default_rng(1).standard_normal(y.shape).astype(dtype)
    dxs = layer.backward(dy)
    xs_tf = [tf.constant(x) for x in xs]
    with tf.GradientTape() as tape:
        for x in xs_tf:
            tape.watch(x)
        y_tf = keras_layer(xs_tf)
    grads = tape.gradient(y_tf, xs_tf, output_gradients=tf.constant(dy))
    tol = 1e-12 if dtype == "float64" else 1e-6
    assert y.shape == tuple(y_tf.shape) and relative_error(y, y_tf.numpy()) <= tol
    for d, g in zip(dxs, grads):
        assert d.shape == tuple(g.shape) and relative_error(d, g.numpy()) <= tol


SHAPES = [[(2, 3, 4), (2, 3, 4)], [(2, 3, 4), (2, 1, 4)], [(2, 3, 4), (2, 4)], [(2, 5), (2, 5), (2, 5)]]
CASES = [(name, shapes) for name in sorted(MERGES) for shapes in SHAPES
         if name != "Subtract" or len(shapes) == 2]  # Subtract takes exactly two (its error: below)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name,shapes", CASES)
def test_elementwise_merges_match_keras(tf, rng, dtype, name, shapes):
    xs = [rng.standard_normal(s) for s in shapes]
    compare(tf, MERGES[name](dtype=dtype), getattr(tf.keras.layers, name)(dtype=dtype), xs, dtype)


@pytest.mark.parametrize("axis", [-1, 1, 2])
def test_concatenate_matches_keras(tf, rng, axis):
    base = [2, 3, 4]
    shapes = []
    for extra in (1, 2, 3):
        shape = list(base)
        shape[axis] = extra
        shapes.append(tuple(shape))
    xs = [rng.standard_normal(s) for s in shapes]
    compare(tf, Concatenate(axis=axis, dtype="float64"),
            tf.keras.layers.Concatenate(axis=axis, dtype="float64"), xs, "float64")


def test_symbolic_shapes_follow_keras(tf):
    assert Add()([Input((3, 4)), Input((1, 4))]).shape == (None, 3, 4)
    assert Concatenate(axis=1)([Input((3, 4)), Input((5, 4))]).shape == (None, 8, 4)
    assert Concatenate()([Input((None, 4)), Input((None, 2))]).shape == (None, None, 6)


def test_merge_errors():
    with pytest.raises(ValueError, match="incompatible shapes"):
        Multiply()([np.ones((2, 3)), np.ones((2, 4))])
    with pytest.raises(ValueError, match="different batch sizes"):
        Add()([np.ones((2, 3)), np.ones((3, 3))])
    with pytest.raises(ValueError, match=r"`axis`=3 is out of range"):
        Concatenate(axis=3)([np.ones((2, 3)), np.ones((2, 3))])
    with pytest.raises(TypeError, match="`axis` must be an int"):
        Concatenate(axis="last")
    with pytest.raises(ValueError, match="exactly 2 inputs"):
        Subtract()([np.ones((2, 3))] * 3)


def test_multiply_gradient_with_zeros_is_exact():
    layer = Multiply(dtype="float64")
    a, b = np.array([[0.0, 2.0]]), np.array([[3.0, 0.0]])
    layer([a, b])
    da, db = layer.backward(np.ones((1, 2)))
    np.testing.assert_array_equal(da, b)
    np.testing.assert_array_equal(db, a)
