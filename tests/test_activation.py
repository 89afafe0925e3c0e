"""kbook.activations and the Activation layer: Keras's table, formulas, gradients, lookup rules."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kbook import activations
from kbook.check import check_activation, check_layer
from kbook.layers import Activation

NAMES = sorted(activations.ALL_OBJECTS_DICT)
NEEDS_ARGS = {"threshold": {"threshold": 0.25, "default_value": -1.5}}
# The values where a piecewise formula switches branch: gradients there are TF's choice.
KINKS = np.array([0.0, 1.0, -1.0, 0.5, -0.5, 3.0, -3.0, 6.0, 0.25, -0.25, 2.0, -2.0])


def test_same_names_as_installed_keras(tf):
    from keras.src.activations import ALL_OBJECTS_DICT

    assert set(activations.ALL_OBJECTS_DICT) == set(ALL_OBJECTS_DICT)
    assert len(NAMES) == 32


@given(
    name=st.sampled_from(NAMES),
    shape=st.lists(st.integers(1, 6), min_size=1, max_size=3).map(lambda s: s[:-1] + [2 * s[-1]]),
    dtype=st.sampled_from(["float32", "float64"]),
    scale=st.sampled_from([0.5, 3.0, 10.0]),
    seed=st.integers(0, 2**16),
)
@settings(max_examples=300)  # cheap (about 5 ms each), so many
def test_activation_matches_keras(name, shape, dtype, scale, seed):
    x = (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)
    report = check_activation(name, x, seed=seed, raise_on_failure=False, **NEEDS_ARGS.get(name, {}))
    assert report.ok, repr(report)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", NAMES)
def test_kink_values_match_tensorflow_choices(name, dtype):
    x = np.stack([KINKS, -KINKS[::-1]]).astype(dtype)
    report = check_activation(name, x, raise_on_failure=False, **NEEDS_ARGS.get(name, {}))
    assert report.ok, repr(report)


@pytest.mark.parametrize("kwargs", [
    dict(negative_slope=0.1), dict(max_value=6.0), dict(max_value=2.5), dict(threshold=0.5),
    dict(negative_slope=0.3, max_value=2.0, threshold=-0.5), dict(negative_slope=0.2, threshold=1.0),
])
def test_relu_arguments_match_keras(kwargs):
    x = np.concatenate([np.linspace(-4, 8, 49), KINKS])
    assert check_activation("relu", x, raise_on_failure=False, **kwargs).ok


@pytest.mark.parametrize("name,kwargs", [
    ("elu", dict(alpha=0.5)), ("celu", dict(alpha=2.0)), ("leaky_relu", dict(negative_slope=0.01)),
    ("gelu", dict(approximate=True)), ("squareplus", dict(b=1)), ("soft_shrink", dict(threshold=1.0)),
    ("hard_shrink", dict(threshold=0.1)), ("softmax", dict(axis=0)), ("log_softmax", dict(axis=0)),
    ("sparsemax", dict(axis=0)), ("glu", dict(axis=0)), ("softmax", dict(axis=None)),
])
def test_non_default_arguments_match_keras(name, kwargs):
    x = np.random.default_rng(5).standard_normal((4, 6)) * 2
    assert check_activation(name, x, raise_on_failure=False, **kwargs).ok


def test_get_follows_keras_rules():
    assert activations.get(None) is activations.linear
    assert activations.get("swish") is activations.silu
    assert activations.get("hard_swish") is activations.hard_silu
    custom = lambda x: 2 * x  # noqa: E731
    assert activations.get(custom) is custom
    for bad in ["get", "Relu", "", 3]:
        with pytest.raises(ValueError, match="Could not interpret activation function identifier"):
            activations.get(bad)


def test_functions_keep_float32():
    x = np.linspace(-3, 3, 12, dtype=np.float32).reshape(2, 6)
    for name in NAMES:
        fn = activations.get(name)
        y = fn(x, **NEEDS_ARGS.get(name, {}))
        dx = activations.gradient(fn, x, np.ones_like(y), **NEEDS_ARGS.get(name, {}))
        assert y.dtype == np.float32 and dx.dtype == np.float32, name


def test_softmax_is_stable_and_sums_to_one():
    y = activations.softmax(np.array([[1000.0, 1001.0, 1002.0], [-1000.0, 0.0, 1000.0]]))
    assert np.all(np.isfinite(y))
    assert np.allclose(y.sum(axis=-1), 1.0)


def test_keras_sparsemax_quirk_is_copied(tf):
    # Keras 3.15 computes tau from the sum of cumulative sums; kbook copies it (see chapter 2).
    x = np.array([[1.0, 0.8, 0.5, -1.0]])
    ours = activations.sparsemax(x)
    theirs = tf.keras.activations.sparsemax(tf.constant(x)).numpy()
    assert np.allclose(ours, theirs)
    assert not np.isclose(ours.sum(), 1.0)


def test_glu_needs_an_even_axis():
    with pytest.raises(ValueError, match="axis size must be divisible by 2"):
        activations.glu(np.ones((2, 3)))


def test_custom_activation_has_no_gradient():
    layer = Activation(lambda x: x * 2)
    y = layer(np.ones((2, 2)))
    assert np.array_equal(y, 2 * np.ones((2, 2)))
    with pytest.raises(NotImplementedError, match="custom activation"):
        layer.backward(np.ones((2, 2)))


@pytest.mark.parametrize("name", ["relu", "softmax", "gelu", "sparsemax", "glu", "selu"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_activation_layer_matches_keras(name, dtype):
    x = np.random.default_rng(7).standard_normal((3, 4, 6)) * 2
    assert check_layer(Activation(name, dtype=dtype), x, raise_on_failure=False).ok


def test_activation_layer_threshold_needs_arguments_like_keras(tf):
    with pytest.raises(TypeError, match="threshold"):
        tf.keras.layers.Activation("threshold")(tf.ones((2, 2)))
    with pytest.raises(TypeError, match="threshold"):
        Activation("threshold")(np.ones((2, 2)))


def test_activation_layer_unknown_name_names_layer():
    with pytest.raises(ValueError, match=r"Layer 'a': invalid `activation`='get'"):
        Activation("get", name="a")


def test_activation_layer_output_shape():
    assert Activation("relu").compute_output_shape((2, 6)) == (2, 6)
    assert Activation("glu").compute_output_shape((2, 6)) == (2, 3)
    assert Activation("glu")(np.ones((2, 6))).shape == (2, 3)


def test_derivative_is_the_slope():
    x = np.linspace(-2, 2, 9)
    assert np.allclose(activations.derivative(activations.tanh, x), 1 - np.tanh(x) ** 2)
    assert activations.derivative(activations.relu, np.array([0.0]))[0] == 0.0


def test_softmax_over_a_size_one_axis_warns_like_keras():
    with pytest.warns(UserWarning, match="has size 1. The softmax operation will always return the value 1"):
        y = activations.softmax(np.array([[3.0], [-2.0]]))
    assert np.array_equal(y, np.ones((2, 1)))


# --- chapter 2's exercises (kbook/exercises/activation.py) ---------------------------------------

from kbook.exercises import activation as ex  # noqa: E402
from kbook.exercises.checker import CORRECT, TODO, WRONG  # noqa: E402


def assert_wrong(verdict, hint):
    assert verdict.status == WRONG and hint in verdict.message, verdict


@pytest.mark.parametrize("answer", ["get", " get", "GET", "'get'", "get()"])
def test_not_an_activation_accepts_get(answer):
    assert ex.not_an_activation(answer).status == CORRECT


@pytest.mark.parametrize("answer, hint", [
    ("swish", "'swish' is an activation"), ("linear", "'linear' is an activation"), ("gelu", "is an activation"),
    ("tanh", "Pick one of the notes' names"), (2, "as a string"), (["get"], "as a string"),
])
def test_not_an_activation_rejects_the_typical_mistakes(answer, hint):
    assert_wrong(ex.not_an_activation(answer), hint)


def test_not_an_activation_agrees_with_keras(tf):
    for name in ex.NOTES_LIST:
        try:
            tf.keras.activations.get(name)
        except ValueError:
            assert ex.not_an_activation(name).status == CORRECT
        else:
            assert ex.not_an_activation(name).status == WRONG


@pytest.mark.parametrize("answer", [0, 0.0, -0.0, np.float32(0), np.int64(0)])
def test_relu_slope_at_zero_accepts_zero(answer):
    assert ex.relu_slope_at_zero(answer).status == CORRECT


def test_relu_slope_at_zero_agrees_with_tensorflow(tf):
    x = tf.constant(0.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.keras.activations.relu(x)
    assert ex.relu_slope_at_zero(float(tape.gradient(y, x))).status == CORRECT


@pytest.mark.parametrize("answer, hint", [
    (1, "just right of 0"), (0.5, "average"), (float("nan"), "must be a number"), (float("inf"), "must be a number"),
    (False, "not bool"), ("0", "not str"), (-1, "had to choose"),
])
def test_relu_slope_at_zero_rejects_the_typical_mistakes(answer, hint):
    assert_wrong(ex.relu_slope_at_zero(answer), hint)


def softmax_in_place(x):
    e = x - x.max(axis=-1, keepdims=True)     # a fresh array, worked on in place
    np.exp(e, out=e)
    e /= e.sum(axis=-1, keepdims=True)
    return e


def softmax_changing_its_input(x):
    x -= x.max(axis=-1, keepdims=True)
    np.exp(x, out=x)
    x /= x.sum(axis=-1, keepdims=True)
    return x


@pytest.mark.parametrize("solution", [
    lambda x: np.exp(x - x.max(axis=-1, keepdims=True)) / np.exp(x - x.max(axis=-1, keepdims=True)).sum(
        axis=-1, keepdims=True),
    softmax_in_place,
    lambda x: activations.softmax(x),
    lambda x: Activation("softmax", dtype="float64")(x),                      # float64 out for float32 in
    lambda x: softmax_in_place(x.astype(np.float32)),                         # float32 answers
    lambda x: np.exp(x - np.logaddexp.reduce(x, axis=-1, keepdims=True)),     # via log-sum-exp
])
def test_stable_softmax_accepts_right_answers(solution):
    assert ex.stable_softmax(solution).status == CORRECT


def test_stable_softmax_accepts_but_reports_a_function_that_changes_its_input():
    verdict = ex.stable_softmax(softmax_changing_its_input)
    assert verdict.status == CORRECT and "changed its input" in verdict.message


@pytest.mark.parametrize("mistake, hint", [
    (lambda x: np.exp(x) / np.exp(x).sum(axis=-1, keepdims=True), "overflows"),
    (lambda x: np.exp(x - x.max()) / np.exp(x - x.max()).sum(axis=-1, keepdims=True), "One maximum"),
    (lambda x: np.exp(x - x.max(axis=-1, keepdims=True)), "divide each by its row's sum"),
    (lambda x: np.exp(x - x.min(axis=-1, keepdims=True)) / np.exp(x - x.min(axis=-1, keepdims=True)).sum(
        axis=-1, keepdims=True), "minimum"),
    (lambda x: (lambda e: e / e.sum(axis=0, keepdims=True))(np.exp(x - x.max(axis=-1, keepdims=True))), "axis 0"),
    (lambda x: (lambda e: e / e.sum(axis=0, keepdims=True))(np.exp(x - x.max(axis=0, keepdims=True))), "axis 0"),
    (lambda x: (lambda e: e / e.sum(axis=-1))(np.exp(x - x.max(axis=-1, keepdims=True))), "keepdims"),
    (lambda x: (lambda e: e / e.sum(axis=-1, keepdims=True))(np.exp(x - x.max(axis=-1))), "keepdims"),
    (lambda x: x @ np.ones((2, 2)), "raised"),
    (lambda x: np.exp(x) / np.exp(x).sum(), "overflowed"),
    (lambda x: softmax_in_place(x).reshape(-1), "keeps the shape"),
    (lambda x: np.round(softmax_in_place(x), 3), "pick c per row"),
    (lambda x: 1 / 0, "ZeroDivisionError"),
])
def test_stable_softmax_rejects_the_typical_mistakes(mistake, hint):
    assert_wrong(ex.stable_softmax(mistake), hint)


def test_stable_softmax_placeholder_is_not_answered():
    assert ex.stable_softmax(lambda x: None).status == TODO


@pytest.mark.parametrize("answer", [np.ones(4), [1, 1, 1, 1], (1.0, 1.0, 1.0, 1.0), np.ones(4, dtype=np.float32),
                                    np.full(4, 1 - 3e-8, dtype=np.float32)])
def test_softmax_row_sums_accepts_four_ones(answer):
    assert ex.softmax_row_sums(answer).status == CORRECT


def test_softmax_row_sums_agrees_with_the_layer():
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    assert ex.softmax_row_sums(Activation("softmax")(x).sum(axis=-1)).status == CORRECT


@pytest.mark.parametrize("answer, hint", [
    (1, "One number for all rows"), (np.ones(5), "one total per column"), (np.ones((4, 1)), "keepdims"),
    (np.full(4, 5.0), "sums to one"), (np.ones((4, 5)), "y's shape"), ("ones", "array (or a list)"),
    (np.zeros(4), "to what total"), (np.full(4, 0.2), "to what total"),
])
def test_softmax_row_sums_rejects_the_typical_mistakes(answer, hint):
    assert_wrong(ex.softmax_row_sums(answer), hint)
