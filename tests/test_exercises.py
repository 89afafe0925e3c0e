"""Every exercise checker: None is 'not answered', the solution passes, a typical mistake fails."""
import numpy as np
import pytest

from kbook.exercises import activation as act_ex
from kbook.exercises import dense as dense_ex
from kbook.exercises.checker import TODO, WRONG


def stable_softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


CASES = [
    (dense_ex.param_count, 55, 50),
    (dense_ex.output_shape, (2, 3, 7), (2, 7)),
    (dense_ex.dense_forward, lambda x, W, b: 1 / (1 + np.exp(-(x @ W + b))), lambda x, W, b: x @ W + b),
    (dense_ex.kernel_gradient, lambda x, dy: x.T @ dy, lambda x, dy: dy.T @ x),
    (act_ex.not_an_activation, "get", "swish"),
    (act_ex.relu_slope_at_zero, 0, 0.5),
    (act_ex.stable_softmax, stable_softmax, lambda x: np.exp(x) / np.exp(x).sum(axis=-1, keepdims=True)),
    (act_ex.softmax_row_sums, np.ones(4), np.ones(5)),
]


@pytest.mark.parametrize("checker,solution,mistake", CASES, ids=[c[0].__name__ for c in CASES])
def test_checker(checker, solution, mistake, assert_checker):
    assert_checker(checker, solution, mistake)


def test_function_answer_left_as_placeholder_is_not_answered():
    assert dense_ex.dense_forward(lambda x, W, b: None).status == TODO


def test_crashing_answer_is_reported_not_raised():
    verdict = dense_ex.kernel_gradient(lambda x, dy: 1 / 0)
    assert verdict.status == WRONG and "ZeroDivisionError" in verdict.message
