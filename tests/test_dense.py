"""Dense: identical to tf.keras (forward and every gradient), Keras's errors, the notes' shapes."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kbook import initializers
from kbook.check import check_layer
from kbook.layers import Dense

ACTIVATIONS = ["linear", "relu", "sigmoid", "tanh", "gelu", "elu", "selu", "softplus", "swish",
               "leaky_relu", "hard_sigmoid", "softmax", "log_softmax", "mish", None]


@pytest.mark.filterwarnings("ignore:You are using a softmax over axis")  # units=1: Keras and kbook both warn
@given(
    shape=st.lists(st.integers(1, 6), min_size=2, max_size=4),
    units=st.integers(1, 8),
    activation=st.sampled_from(ACTIVATIONS),
    use_bias=st.booleans(),
    dtype=st.sampled_from(["float32", "float64"]),
    seed=st.integers(0, 2**16),
)
@settings(max_examples=300)  # cheap (about 5 ms each), so many
def test_dense_matches_keras(shape, units, activation, use_bias, dtype, seed):
    rng = np.random.default_rng(seed)
    layer = Dense(units, activation=activation, use_bias=use_bias, dtype=dtype)
    layer.build(tuple(shape))
    layer.built = True
    # Random, nonzero bias so the bias path is really exercised.
    layer.set_weights([rng.standard_normal(w.shape) for w in layer.get_weights()])
    report = check_layer(layer, rng.standard_normal(shape) * 2, seed=seed, raise_on_failure=False)
    assert report.ok, repr(report)


def test_notes_shapes_n1_and_n8():
    for n in (1, 8):
        dense = Dense(units=3, activation="sigmoid")
        y = dense(np.zeros((n, 10)))
        w, b = dense.get_weights()
        assert (w.shape, b.shape, y.shape) == ((10, 3), (3,), (n, 3))


def test_cascade_and_list_of_layers():
    x = np.ones((4, 10))
    layers = [Dense(n, activation="relu") for n in [10, 20, 30, 40, 50, 60, 70]]
    for layer in layers:
        x = layer(x)
    assert x.shape == (4, 70)
    assert [layer.count_params() for layer in layers] == [110, 220, 630, 1240, 2050, 3060, 4270]


def test_acts_on_last_axis_of_any_rank():
    layer = Dense(3, use_bias=False)
    x = np.random.default_rng(0).standard_normal((2, 4, 5, 6))
    y = layer(x)
    assert y.shape == (2, 4, 5, 3)
    assert np.allclose(y[1, 2, 3], x[1, 2, 3] @ layer.kernel, atol=1e-6)
    assert layer.compute_output_shape((7, 6)) == (7, 3)


@pytest.mark.parametrize("units", [0, -3, 2.5, "3", None, True])
def test_invalid_units(units):
    with pytest.raises(ValueError, match=r"Layer 'd'.*`units`, expected a positive integer"):
        Dense(units, name="d")


def test_units_is_required_and_unit_is_not_a_keyword():
    with pytest.raises(TypeError, match="units"):
        Dense(unit=3)


def test_unknown_activation_names_layer_and_argument():
    with pytest.raises(ValueError, match=r"Layer 'd': invalid `activation`='relu9'"):
        Dense(3, activation="relu9", name="d")


@pytest.mark.parametrize("shape", [(10,), ()])
def test_rank_below_two_is_rejected(shape):
    with pytest.raises(ValueError, match=r"layer 'd'.*expected min_ndim=2"):
        Dense(3, name="d")(np.ones(shape))


def test_last_axis_fixed_after_build():
    layer = Dense(3, name="d")
    layer(np.ones((2, 4)))
    with pytest.raises(ValueError, match="expected axis -1 of input shape to have value 4"):
        layer(np.ones((2, 5)))
    assert layer(np.ones((7, 9, 4))).shape == (7, 9, 3)  # other axes stay free


def test_unknown_initializer_names_layer_and_argument():
    with pytest.raises(ValueError, match=r"Layer 'd'.*`kernel_initializer`='nope'"):
        Dense(3, kernel_initializer="nope", name="d")(np.ones((1, 2)))


def test_glorot_uniform_stays_within_keras_limit():
    initializers.set_seed(0)
    layer = Dense(200)
    layer(np.ones((1, 300)))
    limit = np.sqrt(6 / (300 + 200))
    kernel = layer.get_weights()[0]
    assert np.abs(kernel).max() <= limit
    assert np.abs(kernel).max() > 0.95 * limit  # fills the interval, not a narrower one
    assert np.all(layer.get_weights()[1] == 0)


def test_seed_makes_weights_reproducible():
    initializers.set_seed(3)
    a = Dense(4)
    a(np.ones((1, 5)))
    initializers.set_seed(3)
    b = Dense(4)
    b(np.ones((1, 5)))
    assert np.array_equal(a.get_weights()[0], b.get_weights()[0])


def test_backward_accumulates_over_all_leading_axes():
    layer = Dense(2, dtype="float64")
    x = np.random.default_rng(1).standard_normal((3, 4, 5))
    y = layer(x)
    dy = np.ones_like(y)
    dx = layer.backward(dy)
    assert dx.shape == x.shape
    assert np.allclose(layer.grads["bias"], [12.0, 12.0])
    assert np.allclose(layer.grads["kernel"], x.reshape(-1, 5).sum(axis=0)[:, None] * np.ones((1, 2)))


# --- chapter 1's exercises (kbook/exercises/dense.py) --------------------------------------------

from kbook.exercises import dense as ex  # noqa: E402
from kbook.exercises.checker import CORRECT, TODO, WRONG  # noqa: E402


def assert_wrong(verdict, hint):
    assert verdict.status == WRONG and hint in verdict.message, verdict


def test_param_count_accepts_integers_only():
    layer = Dense(ex.UNITS)
    layer(np.ones((ex.N, ex.IN)))
    for right in [55, np.int64(55), np.int32(55), layer.count_params()]:
        assert ex.param_count(right).status == CORRECT, right
    assert ex.param_count(None).status == TODO


@pytest.mark.parametrize("answer, hint", [
    (50, "bias"), (5, "kernel"), (440, "batch size"), (400, "batch size"), (80, "input's numbers"),
    (15, "10 x 5"), (60, "one bias per unit"), (66, "not a row and a column"), (55.0, "Answer with an int"),
    (np.float64(55), "Answer with an int"), (55.5, "forget to round"), (True, "not True"), ("55", "whole number"),
    (54, "Count the kernel"),
])
def test_param_count_rejects_the_typical_mistakes(answer, hint):
    assert_wrong(ex.param_count(answer), hint)


def test_output_shape_accepts_a_tuple_of_integers():
    assert ex.output_shape((2, 3, 7)).status == CORRECT
    assert ex.output_shape(tuple(np.array([2, 3, 7]))).status == CORRECT     # NumPy integers
    assert ex.output_shape(Dense(7)(np.ones((2, 3, 4))).shape).status == CORRECT
    assert ex.output_shape(None).status == TODO


@pytest.mark.parametrize("answer, hint", [
    ([2, 3, 7], "Answer with a tuple"), (np.array([2, 3, 7]), "Answer with a tuple"), ("(2, 3, 7)", "tuple"),
    (7, "tuple"), ((2.0, 3.0, 7.0), "whole numbers"), ((2, 7), "flatten"), ((6, 7), "reshape"),
    ((2, 3, 4), "units"), ((2, 3, 4, 7), "does not add one"), ((7,), "batch axis"), ((7, 3, 2), "order"),
    ((2, 7, 4), "last axis"), ((4, 7), "kernel's shape"), ((2, 3, 8), "only the last axis"),
])
def test_output_shape_rejects_the_typical_mistakes(answer, hint):
    assert_wrong(ex.output_shape(answer), hint)


def dense_forward_in_place(x, W, b):
    z = x @ W                       # a fresh array: working in place on it leaves the inputs alone
    z += b
    np.negative(z, out=z)
    np.exp(z, out=z)
    z += 1
    np.reciprocal(z, out=z)
    return z


@pytest.mark.parametrize("solution", [
    lambda x, W, b: 1 / (1 + np.exp(-(x @ W + b))),
    lambda x, W, b: 1 / (1 + np.exp(-(np.matmul(x, W) + b))),
    lambda x, W, b: (np.tanh((x @ W + b) / 2) + 1) / 2,
    lambda x, W, b: (1 / (1 + np.exp(-(x @ W + b)))).astype(np.float32),      # a float32 answer
    lambda x, W, b: list(1 / (1 + np.exp(-(x @ W + b)))),                      # not an array, same numbers
    dense_forward_in_place,
])
def test_dense_forward_accepts_right_answers(solution):
    assert ex.dense_forward(solution).status == CORRECT


def test_dense_forward_agrees_with_the_layer():
    def with_the_layer(x, W, b):
        layer = Dense(W.shape[1], activation="sigmoid", dtype=x.dtype.name)
        layer.build(x.shape)
        layer.set_weights([W, b])
        return layer(x)

    assert ex.dense_forward(with_the_layer).status == CORRECT


def test_dense_forward_accepts_but_reports_a_function_that_changes_its_input():
    def changes_x(x, W, b):
        x @= W @ np.linalg.pinv(W) if W.shape[0] == W.shape[1] else np.eye(x.shape[-1])
        x += 0
        z = x @ W
        z += b
        b[...] = 0                                # changes the caller's bias
        return 1 / (1 + np.exp(-z))

    verdict = ex.dense_forward(changes_x)
    assert "changed its input" in verdict.message


@pytest.mark.parametrize("mistake, hint", [
    (lambda x, W, b: x @ W + b, "before its activation"),
    (lambda x, W, b: 1 / (1 + np.exp(-(x @ W))), "bias is missing"),
    (lambda x, W, b: 1 / (1 + np.exp(-(x @ W))) + b, "inside the activation"),
    (lambda x, W, b: 1 / (1 + np.exp(x @ W + b)), "sign"),
    (lambda x, W, b: np.tanh(x @ W + b), "tanh"),
    (lambda x, W, b: np.maximum(x @ W + b, 0), "relu"),
    (lambda x, W, b: np.exp(x @ W + b) / np.exp(x @ W + b).sum(axis=-1, keepdims=True), "softmax"),
    (lambda x, W, b: 1 / (1 + np.exp(-(x @ W - b))), "not subtracted"),
    (lambda x, W, b: 1 / (1 + np.exp(-(x @ W.T + b))), "raised"),            # shapes fail on a rectangle
    (lambda x, W, b: 1 / (1 + np.exp(-(x.reshape(-1, x.shape[-1]) @ W + b))), "returned shape"),  # rank 3 flattened
    (lambda x, W, b: (1 / (1 + np.exp(-(x @ W + b)))).astype(np.float16), "Multiply x by W"),   # too coarse
    (lambda x, W, b: 1 / (1 + np.exp(-(x @ W + b[0]))), "Multiply x by W"),
    (lambda x, W, b: np.round(1 / (1 + np.exp(-(x @ W + b))), 3), "Multiply x by W"),
    (lambda x, W, b: "sigmoid", "returned <U7"),
    (lambda x, W, b: 1 / 0, "ZeroDivisionError"),
])
def test_dense_forward_rejects_the_typical_mistakes(mistake, hint):
    assert_wrong(ex.dense_forward(mistake), hint)


def test_dense_forward_names_w_transposed_on_a_square_kernel():
    # On a rectangle x @ W.T fails; the checker's square case turns it into a hint.
    def transposed(x, W, b):
        if W.shape[0] != W.shape[1]:
            return 1 / (1 + np.exp(-(x @ W + b)))
        return 1 / (1 + np.exp(-(x @ W.T + b)))

    assert_wrong(ex.dense_forward(transposed), "not x @ W.T")


def test_function_checkers_leave_none_as_not_answered_and_reject_non_functions():
    assert ex.dense_forward(lambda x, W, b: None).status == TODO
    assert ex.kernel_gradient(lambda x, dy: None).status == TODO
    assert_wrong(ex.kernel_gradient(np.zeros((4, 3))), "Answer with a function")


@pytest.mark.parametrize("solution", [
    lambda x, dy: x.T @ dy,
    lambda x, dy: np.einsum("ni,nu->iu", x, dy),
    lambda x, dy: sum(np.outer(xi, di) for xi, di in zip(x, dy)),
    lambda x, dy: (dy.T @ x).T,
    lambda x, dy: (x.T @ dy).astype(np.float32),
    lambda x, dy: np.matmul(x.T, dy, out=np.empty((x.shape[1], dy.shape[1]), dtype=x.dtype)),
])
def test_kernel_gradient_accepts_right_answers(solution):
    assert ex.kernel_gradient(solution).status == CORRECT


def test_kernel_gradient_agrees_with_the_layers_backward():
    def with_the_layer(x, dy):
        layer = Dense(dy.shape[1], dtype=x.dtype.name)
        layer(x)
        layer.backward(dy)
        return layer.grads["kernel"]

    assert ex.kernel_gradient(with_the_layer).status == CORRECT


@pytest.mark.parametrize("mistake, hint", [
    (lambda x, dy: dy.T @ x, "axes are swapped"),
    (lambda x, dy: x.T @ dy / len(x), "mean over the batch"),
    (lambda x, dy: np.outer(x[0], dy[0]), "first sample"),
    (lambda x, dy: np.outer(x.sum(axis=0), dy.sum(axis=0)), "batch sums"),
    (lambda x, dy: np.outer(x.mean(axis=0), dy.mean(axis=0)), "batch means"),
    (lambda x, dy: x * dy, "raised"),                      # shapes fail on a rectangle
    (lambda x, dy: x.T @ dy + 1e-3, "W's shape"),
    (lambda x, dy: dy.T @ x if x.shape[1] == dy.shape[1] else x.T @ dy, "axes are swapped"),  # square case only
    (lambda x, dy: 1 / 0, "ZeroDivisionError"),
])
def test_kernel_gradient_rejects_the_typical_mistakes(mistake, hint):
    assert_wrong(ex.kernel_gradient(mistake), hint)


def test_kernel_gradient_reports_a_function_that_changes_its_input():
    def in_place(x, dy):
        x *= 2                      # changes the caller's x
        return x.T @ dy / 2

    verdict = ex.kernel_gradient(in_place)
    assert verdict.status == CORRECT and "changed its input" in verdict.message


def test_checkers_do_not_reveal_the_answer_in_their_hints():
    assert "55" not in ex.param_count(50).message
    assert "(2, 3, 7)" not in ex.output_shape((2, 7)).message
