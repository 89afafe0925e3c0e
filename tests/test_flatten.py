"""Flatten: identical to tf.keras (forward and dL/dx), the unrolling order, the notes' shapes,
and a conv -> pool -> flatten -> dense stack checked against the same stack in tf.keras."""
import inspect

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kbook.check import check_layer, keras_twin
from kbook.layers import Conv2D, Dense, Flatten, GlobalAveragePooling2D, MaxPooling2D


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


# --- chapter 5's exercises (kbook/exercises/flatten.py): right answers accepted, a catalogue of
# plausible wrong ones rejected with a hint that names the mistake -------------------------------

from kbook.exercises import flatten as ex  # noqa: E402
from kbook.exercises.checker import TODO  # noqa: E402


def test_flat_shape(assert_verdicts):
    shape = Flatten()(np.zeros((32, 7, 9, 64))).shape
    assert_verdicts(ex.flat_shape, [shape, (np.int64(32), np.int32(4032))], [
        ((4032,), "drops the batch axis"), ((129024,), "flattens the batch too"), ((1, 129024), "batch too"),
        ((32, 63), "*and* C"), ((32, 576), "H included"), ((32, 448), "W included"), ((32, 80), "multiply"),
        ((32, 7, 576), "rank-2"), ([32, 4032], "Answer with a tuple"), ((32, 4032.0), "not the float"),
        ((32, 4032.5), "whole numbers"), ((32, 4000), "multiplies all the others"), (32 * 4032, "tuple"),
    ])


def test_flat_position(assert_verdicts):
    x = np.arange(60.0).reshape(1, 4, 5, 3)
    p = int(np.flatnonzero(Flatten(dtype="float64")(x)[0] == x[0, 2, 1, 2])[0])
    assert_verdicts(ex.flat_position, [p, np.int64(p), np.int32(p)], [
        (29, "swapped"), (51, "channels_first"), (36, "start at 0"), (33, "Add k"), (11, "C = 3 entries"),
        (35.0, "Answer with an integer"), (35.5, "whole number"), ("35", "integer"), (True, "True / False"),
        (34, "row-major"),
    ])


def test_dense_params(assert_verdicts):
    layers = [Conv2D(16, 3), MaxPooling2D(2), Flatten(), Dense(10)]
    a = np.zeros((1, 32, 32, 3))
    for layer in layers:
        a = layer(a)
    count = layers[-1].count_params()
    assert_verdicts(ex.dense_params, [count, np.int64(count)], [
        (36000, "bias"), (144010, "halves"), (163850, "'valid'"), (40970, "'valid'"), (2260, "channels too"),
        (6760, "not the image's 3"), (3600, "number of features"), (448, "Conv2D's count"),
        (36458, "Dense layer's alone"), (36010.0, "integer"), (36010.5, "whole number"), (36000 + 1, "Follow the shape"),
    ])


def test_gap_dense_params(assert_verdicts):
    dense = Dense(10)
    dense(GlobalAveragePooling2D()(np.zeros((1, 15, 15, 16))))
    assert_verdicts(ex.gap_dense_params, [dense.count_params(), np.int16(dense.count_params())], [
        (160, "bias"), (36010, "Flatten's count"), (2260, "keeps the channels"), (40, "not the image's 3"),
        (10, "weight per input"), (20, "one value per channel"), (170.0, "integer"), (100, "(N, 16)"),
    ])


def flatten_channels_first(x):
    return x.transpose(0, 2, 3, 1).reshape(x.shape[0], -1)


def flatten_in_place(x):                       # changes its argument: the checker gave it a copy
    x *= 2.0
    return flatten_channels_first(x) / 2.0


def test_flatten_channels_first(assert_verdicts):
    assert_verdicts(ex.flatten_channels_first, [
        flatten_channels_first, lambda x: Flatten(data_format="channels_first", dtype="float64")(x),
        lambda x: np.moveaxis(x, 1, -1).reshape(len(x), -1), flatten_in_place,
        lambda x: flatten_channels_first(x).astype(np.float32),
        lambda x: np.stack([np.concatenate([x[n, :, i, j] for i in range(x.shape[2]) for j in range(x.shape[3])])
                            for n in range(x.shape[0])]),
    ], [
        (lambda x: x.reshape(x.shape[0], -1), "keeps the channels_first order"),
        (lambda x: x.transpose(0, 3, 2, 1).reshape(x.shape[0], -1), "swapped"),
        (lambda x: x.transpose(0, 3, 1, 2).reshape(x.shape[0], -1), "from channels_last to channels_first"),
        (lambda x: x.transpose(0, 2, 1, 3).reshape(x.shape[0], -1), "Move the channel axis"),
        (lambda x: x.transpose(0, 2, 3, 1).ravel(), "flattens the batch too"),
        (lambda x: x.transpose(0, 2, 3, 1), "rank 2"),
        (lambda x: flatten_channels_first(x)[:2], "shape"),                     # only right for N = 2
        (lambda x: flatten_channels_first(x).astype(np.float16), "transpose (N, C, H, W)"),
        (lambda x: 1 / 0, "ZeroDivisionError"),
        ("x.T", "not a function"),
    ])
    assert ex.flatten_channels_first(lambda x: None).status == TODO
    assert "changed its input" in ex.flatten_channels_first(flatten_in_place).message


def test_checkers_do_not_reveal_the_answer_in_their_hints():
    assert "4032)" not in ex.flat_shape((4032,)).message
    assert "35" not in ex.flat_position(29).message
    assert "36010" not in ex.dense_params(36000).message
    assert "170" not in ex.gap_dense_params(160).message
