"""Chapter 1 (Dense) exercises: each function checks one answer."""
import numpy as np

from kbook import activations
from kbook.exercises.checker import judge, returns


def param_count(answer):
    """How many numbers does Dense(units=5) learn on inputs of shape (8, 10)?"""
    return judge(
        answer, lambda a: int(a) == 10 * 5 + 5,
        success="kernel (10, 5) has 50, bias (5,) has 5: 55. The batch size 8 plays no part.",
        hint="Count the kernel (input features x units) and the bias (one per unit). "
             "Does the batch size matter?",
    )


def output_shape(answer):
    """What shape does Dense(7) return for an input of shape (2, 3, 4)?"""
    return judge(
        answer, lambda a: tuple(a) == (2, 3, 7),
        success="(2, 3, 7): Dense acts on the last axis only and keeps every other axis.",
        hint="Dense changes only the last axis (4 -> units). What happens to (2, 3)?",
    )


def dense_forward(fn):
    """Write fn(x, W, b) -> sigmoid(x @ W + b) for x: (N, in), W: (in, units), b: (units,)."""
    def correct(fn):
        rng = np.random.default_rng(1)
        x, w, b = rng.standard_normal((6, 4)), rng.standard_normal((4, 3)), rng.standard_normal(3)
        expected = activations.sigmoid(x @ w + b)
        got = np.asarray(returns(fn, x, w, b), dtype=float)
        return got.shape == expected.shape and np.allclose(got, expected, rtol=1e-6, atol=1e-9)
    return judge(
        fn, correct,
        success="that is Dense's whole forward pass: one matrix product, a broadcast bias, an activation.",
        hint="Multiply x by W with @, add b (it broadcasts over the batch), then apply 1 / (1 + exp(-z)).",
    )


def kernel_gradient(fn):
    """Write fn(x, dy) -> dL/dW for a linear Dense (y = x @ W + b), given dL/dy."""
    def correct(fn):
        rng = np.random.default_rng(2)
        x, dy = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
        got = np.asarray(returns(fn, x, dy), dtype=float)
        return got.shape == (4, 3) and np.allclose(got, x.T @ dy)
    return judge(
        fn, correct,
        success="dL/dW = x.T @ dy: each weight collects input times upstream gradient, summed over the batch.",
        hint="The result must have W's shape (in, units). Which product of x (N, in) and dy (N, units) gives that?",
    )
