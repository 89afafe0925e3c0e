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
