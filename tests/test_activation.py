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
