"""Flatten: identical to tf.keras (forward and dL/dx), the unrolling order, the notes' shapes,
and a conv -> pool -> flatten -> dense stack checked against the same stack in tf.keras."""
import inspect

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kbook.check import check_layer, keras_twin
from kbook.layers import Dense, Flatten, MaxPooling2D


@settings(max_examples=40)
@given(
    shape=st.lists(st.integers(0, 5), min_size=1, max_size=5),
    data_format=st.sampled_from(["channels_last", "channels_first"]),
    dtype=st.sampled_from(["float32", "float64"]),
    seed=st.integers(0, 2**16),
)
def test_flatten_matches_keras(tf, shape, data_format, dtype, seed):
    shape = (max(shape[0], 1), *shape[1:])  # a batch of at least one (Keras cannot take 0 here)
    layer = Flatten(data_format=data_format, dtype=dtype)
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    report = check_layer(layer, x, seed=seed, raise_on_failure=False)
    assert report.ok, repr(report)
    # a reshape (and transpose) moves values without arithmetic: bit-exact, both ways
    twin = keras_twin(layer)
    y = layer(x)
    np.testing.assert_array_equal(y, twin(tf.constant(x)).numpy())
    assert y.shape == layer.compute_output_shape(shape) == tuple(twin.compute_output_shape(shape))
    np.testing.assert_array_equal(layer.backward(y), x)  # the gradient is the inverse permutation


def test_notes_example_keeps_the_batch_axis():
    y = Flatten()(np.zeros((1, 11, 11, 128)))
    assert y.shape == (1, 15488) == (1, 11 * 11 * 128)
    assert Flatten()(np.zeros((8, 11, 11, 128))).shape == (8, 15488)
    # the notes' "(1, n) -> (n,)" is wrong: nothing changes for a (1, n) input
    assert Flatten()(np.zeros((1, 7))).shape == (1, 7)
    assert Flatten()(np.zeros((5,))).shape == (5, 1)  # Keras's rule for a batch of scalars


def test_unrolling_is_row_major_channels_fastest():
    n, h, w, c = 2, 3, 4, 5
    x = np.arange(n * h * w * c, dtype="float64").reshape(n, h, w, c)
    y = Flatten(dtype="float64")(x)
    for i, j, k in [(0, 0, 1), (0, 1, 0), (1, 0, 0), (2, 3, 4)]:
        assert y[1, (i * w + j) * c + k] == x[1, i, j, k]


def test_channels_first_gives_the_channels_last_vector():
    x_cl = np.random.default_rng(0).standard_normal((2, 3, 4, 5))
    x_cf = x_cl.transpose(0, 3, 1, 2)  # the same images stored (N, C, H, W)
    y_cl = Flatten(dtype="float64")(x_cl)
    y_cf = Flatten(data_format="channels_first", dtype="float64")(x_cf)
    np.testing.assert_array_equal(y_cf, y_cl)
    assert not np.array_equal(Flatten(dtype="float64")(x_cf), y_cl)  # without the flag: another order


def test_flatten_has_no_weights_and_backward_checks_dy():
    layer = Flatten(name="f")
    with pytest.raises(RuntimeError, match="before `backward"):
        layer.backward(np.zeros((1, 4)))
    y = layer(np.ones((2, 2, 2)))
    assert layer.weights == [] and layer.count_params() == 0
    with pytest.raises(ValueError, match=r"`dy` must have the shape of the last output \(2, 4\)"):
        layer.backward(np.ones((2, 2, 2)))
    assert layer.backward(np.ones_like(y)).shape == (2, 2, 2)
    assert layer.grads == {}


def test_empty_batch():
    layer = Flatten(data_format="channels_first")
    y = layer(np.zeros((0, 3, 4, 5)))
    assert y.shape == (0, 60)
    assert layer.backward(y).shape == (0, 3, 4, 5)


def test_errors_name_layer_and_argument():
    with pytest.raises(ValueError, match=r"Layer 'f'.*`data_format`"):
        Flatten(data_format="NHWC_", name="f")
    with pytest.raises(ValueError, match=r"layer 'f'.*expected min_ndim=1, found ndim=0"):
        Flatten(name="f")(np.float64(3.0))
    with pytest.raises(ValueError, match=r"Unrecognized keyword arguments passed to Flatten: \{'dataformat'"):
        Flatten(dataformat="channels_first")


def test_signature_and_config_mirror_keras(tf):
    keras_params = inspect.signature(tf.keras.layers.Flatten.__init__).parameters
    ours = inspect.signature(Flatten.__init__).parameters
    assert [p for p in ours if p not in ("self", "kwargs")] == [p for p in keras_params if p not in ("self", "kwargs")]
    layer = Flatten(data_format="channels_first")
    assert keras_twin(layer).get_config()["data_format"] == layer.get_config()["data_format"]


def test_conv_pool_flatten_dense_stack_matches_keras(tf):
    conv2d = pytest.importorskip("kbook.layers.conv2d")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 12, 12, 3))
    stack = [conv2d.Conv2D(4, 3, activation="relu", dtype="float64"), MaxPooling2D(2, dtype="float64"),
             Flatten(dtype="float64"), Dense(5, dtype="float64")]
    shapes = []
    y = x
    for layer in stack:
        y = layer(y)
        shapes.append(y.shape)
    # 12 -3+1 = 10 (conv, valid) -> 5 (pool 2) -> 5*5*4 = 100 features -> 5 units
    assert shapes == [(2, 10, 10, 4), (2, 5, 5, 4), (2, 100), (2, 5)]

    twins = [keras_twin(layer) for layer in stack]
    model = tf.keras.Sequential([tf.keras.Input((12, 12, 3), dtype="float64"), *twins])
    for layer, twin in zip(stack, twins):
        twin.set_weights(layer.get_weights())
    dy = rng.standard_normal(y.shape)
    g = dy
    for layer in reversed(stack):
        g = layer.backward(g)
    x_tf = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x_tf)
        y_tf = model(x_tf)
        loss = tf.reduce_sum(y_tf * dy)
    grads = tape.gradient(loss, [x_tf, *model.trainable_weights])
    np.testing.assert_allclose(y, y_tf.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(g, grads[0].numpy(), rtol=1e-10, atol=1e-12)
    ours = [stack[0].grads["kernel"], stack[0].grads["bias"], stack[3].grads["kernel"], stack[3].grads["bias"]]
    for mine, theirs in zip(ours, grads[1:]):
        np.testing.assert_allclose(mine, theirs.numpy(), rtol=1e-10, atol=1e-12)


def test_flatten_explorer_shows_where_each_cell_lands():
    from kbook.widgets.flatten import FlattenExplorer

    ex = FlattenExplorer(height=2, width=3, channels=2)
    h, w, c = 2, 3, 2
    i, j, k = np.indices((h, w, c))
    np.testing.assert_array_equal(ex.position, (i * w + j) * c + k)
    renders = ex.live.renders
    ex.stored_as.value = "channels_first"          # Flatten not told: a channel at a time
    assert ex.live.renders == renders + 1
    np.testing.assert_array_equal(ex.position, (k * h + i) * w + j)
    assert "a whole channel, then the next" in ex.summary()
    ex.data_format.value = "channels_first"        # told: back to channels fastest
    np.testing.assert_array_equal(ex.position, (i * w + j) * c + k)
    assert "(1, 2, 2, 3) -> (1, 12)" in ex.summary()
    ex.stored_as.value = "channels_last"           # told the wrong layout the other way round
    np.testing.assert_array_equal(ex.position, (j * c + k) * h + i)


EXERCISES = [
    ("flat_shape", (32, 3136), (3136,)),
    ("flat_position", 35, 25),
    ("dense_params", 13530, 13520),
    ("flatten_channels_first", lambda x: x.transpose(0, 2, 3, 1).reshape(x.shape[0], -1),
     lambda x: x.reshape(x.shape[0], -1)),
]


@pytest.mark.parametrize("name, solution, mistake", EXERCISES, ids=[e[0] for e in EXERCISES])
def test_exercise_checkers(name, solution, mistake, assert_checker):
    from kbook.exercises import flatten as ex

    assert_checker(getattr(ex, name), solution, mistake)
