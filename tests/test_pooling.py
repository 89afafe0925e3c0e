"""Pooling: identical to tf.keras (forward and dL/dx), TensorFlow's tie rules, Keras's errors."""
import inspect

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import kbook.layers.pooling as pooling
import kbook.ops.pooling as pooling_ops
from kbook.check import check_layer, keras_twin
from kbook.layers import (AveragePooling2D, AvgPool2D, GlobalAveragePooling2D, GlobalMaxPooling2D,
                          MaxPool2D, MaxPooling2D)

POOLS = {"max": MaxPooling2D, "average": AveragePooling2D}
GLOBALS = [GlobalAveragePooling2D, GlobalMaxPooling2D]


def random_input(rng, shape, dtype, ties):
    """Gaussian values, or small integers so that most windows hold tied maxima."""
    if ties:
        return rng.integers(-2, 3, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def keras_forward_backward(tf, layer, x, dy):
    twin = keras_twin(layer)
    x_tf = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x_tf)
        y_tf = twin(x_tf)
    return twin, y_tf.numpy(), tape.gradient(y_tf, x_tf, output_gradients=tf.constant(dy)).numpy()


# --- identical to tf.keras ------------------------------------------------------------------

@settings(max_examples=40)
@given(
    mode=st.sampled_from(["max", "average"]),
    pool=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    strides=st.one_of(st.none(), st.tuples(st.integers(1, 4), st.integers(1, 4))),
    padding=st.sampled_from(["valid", "same"]),
    hw=st.tuples(st.integers(1, 9), st.integers(1, 9)),
    nc=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    data_format=st.sampled_from(["channels_last", "channels_first"]),
    dtype=st.sampled_from(["float32", "float64"]),
    ties=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_pooling_matches_keras(tf, mode, pool, strides, padding, hw, nc, data_format, dtype, ties, seed):
    effective = pool if strides is None else strides
    if padding == "valid":
        assume(hw[0] >= pool[0] and hw[1] >= pool[1])
    rng = np.random.default_rng(seed)
    n, c = nc
    shape = (n, *hw, c) if data_format == "channels_last" else (n, c, *hw)
    layer = POOLS[mode](pool_size=pool, strides=strides, padding=padding, data_format=data_format,
                        dtype=dtype)
    x = random_input(rng, shape, dtype, ties)
    report = check_layer(layer, x, seed=seed, raise_on_failure=False)
    assert report.ok, repr(report)
    assert layer.strides == effective
    # the shape arithmetic agrees with Keras's own (compute_output_shape, no data involved)
    assert layer.compute_output_shape(shape) == tuple(keras_twin(layer).compute_output_shape(shape))
    if mode == "max":  # a max picks one of the inputs and its gradient copies dy: bit-exact
        dy = rng.standard_normal(layer(x).shape).astype(dtype)
        _, y_tf, dx_tf = keras_forward_backward(tf, layer, x, dy)
        np.testing.assert_array_equal(layer(x), y_tf)
        np.testing.assert_array_equal(layer.backward(dy), dx_tf)


@settings(max_examples=30)
@given(
    cls=st.sampled_from(GLOBALS),
    shape=st.tuples(st.integers(1, 3), st.integers(1, 6), st.integers(1, 6), st.integers(1, 4)),
    data_format=st.sampled_from(["channels_last", "channels_first"]),
    keepdims=st.booleans(),
    dtype=st.sampled_from(["float32", "float64"]),
    ties=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_global_pooling_matches_keras(tf, cls, shape, data_format, keepdims, dtype, ties, seed):
    rng = np.random.default_rng(seed)
    layer = cls(data_format=data_format, keepdims=keepdims, dtype=dtype)
    x = random_input(rng, shape, dtype, ties)
    report = check_layer(layer, x, seed=seed, raise_on_failure=False)
    assert report.ok, repr(report)
    assert layer(x).shape == layer.compute_output_shape(shape)
    assert layer.compute_output_shape(shape) == tuple(keras_twin(layer).compute_output_shape(shape))


@pytest.mark.parametrize("mode", ["max", "average"])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_threads_and_chunks_match_keras(monkeypatch, mode, data_format):
    # thresholds lowered so that a small input is split across threads and into many chunks
    monkeypatch.setattr(pooling_ops, "_PARALLEL_BYTES", 0)
    monkeypatch.setattr(pooling_ops, "_CHUNK_BYTES", 1024)
    rng = np.random.default_rng(3)
    shape = (5, 9, 10, 3) if data_format == "channels_last" else (5, 3, 9, 10)
    for dtype in ("float32", "float64"):
        x = random_input(rng, shape, dtype, ties=(mode == "max"))
        layer = POOLS[mode](pool_size=3, strides=2, padding="same", data_format=data_format, dtype=dtype)
        assert check_layer(layer, x, raise_on_failure=False).ok
    for cls in GLOBALS:
        assert check_layer(cls(data_format=data_format), x, raise_on_failure=False).ok


@pytest.mark.parametrize("cls", [MaxPooling2D, AveragePooling2D, GlobalMaxPooling2D])
def test_threads_do_not_change_a_single_bit(monkeypatch, cls):
    from kbook import parallel

    monkeypatch.setattr(parallel, "cores", lambda: 4)  # threads even on a 1-core machine
    rng = np.random.default_rng(4)
    x = random_input(rng, (16, 32, 32, 64), "float32", ties=True)
    assert x.nbytes >= pooling_ops._PARALLEL_BYTES  # the default path splits this across threads
    layer = cls(2) if cls is not GlobalMaxPooling2D else cls()
    y = layer(x)
    dy = rng.standard_normal(y.shape).astype("float32")
    dx = layer.backward(dy)
    monkeypatch.setattr(pooling_ops, "_PARALLEL_BYTES", 1 << 60)  # now single-threaded
    monkeypatch.setattr(pooling_ops, "_CHUNK_BYTES", 1 << 60)     # and one chunk
    np.testing.assert_array_equal(layer(x), y)
    np.testing.assert_array_equal(layer.backward(dy), dx)


# --- the notes' examples and TensorFlow's rules -----------------------------------------------

def test_notes_example_7x7_pool2_stride2(tf):
    x = np.random.default_rng(0).standard_normal((1, 7, 7, 1))
    for cls in (MaxPooling2D, AveragePooling2D):
        layer = cls(pool_size=2, strides=2)
        assert layer(x).shape == (1, 3, 3, 1)  # floor((7 - 2) / 2) + 1: the 7th row/col is dropped
        assert check_layer(layer, x, raise_on_failure=False).ok
    assert MaxPooling2D(2, 2, padding="same")(x).shape == (1, 4, 4, 1)


def test_max_pool_gradient_goes_to_first_max_in_row_major_order(tf):
    x = np.zeros((1, 4, 4, 1))
    layer = MaxPooling2D(pool_size=2, strides=1, dtype="float64")
    layer(x)
    dx = layer.backward(np.ones((1, 3, 3, 1)))[0, :, :, 0]
    # every window is all ties: each sends its 1 to its top-left cell
    expected = np.zeros((4, 4))
    expected[:3, :3] = 1.0
    np.testing.assert_array_equal(dx, expected)
    _, _, dx_tf = keras_forward_backward(tf, layer, x, np.ones((1, 3, 3, 1)))
    np.testing.assert_array_equal(dx, dx_tf[0, :, :, 0])


def test_max_pool_tie_inside_window_prefers_earlier_row_then_column(tf):
    x = np.array([[0.0, 5.0], [5.0, 5.0]]).reshape(1, 2, 2, 1)
    layer = MaxPooling2D(dtype="float64")
    layer(x)
    dx = layer.backward(np.full((1, 1, 1, 1), 7.0))
    np.testing.assert_array_equal(dx[0, :, :, 0], [[0.0, 7.0], [0.0, 0.0]])
    np.testing.assert_array_equal(dx, keras_forward_backward(tf, layer, x, np.full((1, 1, 1, 1), 7.0))[2])


def test_overlapping_windows_add_their_gradients():
    x = np.array([[1.0, 9.0, 1.0], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]).reshape(1, 3, 3, 1)
    layer = MaxPooling2D(pool_size=2, strides=1, dtype="float64")
    layer(x)
    dx = layer.backward(np.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 2, 2, 1))[0, :, :, 0]
    # the 9 wins both top windows (1 + 2); the bottom windows are all ties -> their top-left cells
    np.testing.assert_array_equal(dx, [[0.0, 3.0, 0.0], [3.0, 4.0, 0.0], [0.0, 0.0, 0.0]])


def test_global_max_pool_splits_gradient_among_ties(tf):
    x = np.array([[1.0, 3.0], [3.0, 0.0]]).reshape(1, 2, 2, 1)
    layer = GlobalMaxPooling2D(dtype="float64")
    layer(x)
    dx = layer.backward(np.ones((1, 1)))
    np.testing.assert_array_equal(dx[0, :, :, 0], [[0.0, 0.5], [0.5, 0.0]])
    assert check_layer(layer, x, raise_on_failure=False).ok


def test_same_max_pool_never_lets_padding_win(tf):
    x = -np.arange(1.0, 10.0).reshape(1, 3, 3, 1)  # all negative: a zero pad would win
    layer = MaxPooling2D(pool_size=2, strides=2, padding="same", dtype="float64")
    y = layer(x)[0, :, :, 0]
    np.testing.assert_array_equal(y, [[-1.0, -3.0], [-7.0, -9.0]])
    assert check_layer(layer, x, raise_on_failure=False).ok


def test_same_average_pool_divides_by_real_cells():
    x = np.arange(9.0).reshape(1, 3, 3, 1)
    y = AveragePooling2D(pool_size=2, strides=1, padding="same", dtype="float64")(x)[0, :, :, 0]
    # Keras's own docstring example: the last row/column windows hold 2 real cells, the corner 1
    np.testing.assert_allclose(y, [[2.0, 3.0, 3.5], [5.0, 6.0, 6.5], [6.5, 7.5, 8.0]], rtol=0, atol=1e-15)


def test_same_padding_odd_cell_goes_bottom_right():
    g_rows, g_cols = pooling.pool_geometry((4, 5), (3, 2), (2, 2), "same")
    assert (g_rows.out, g_rows.before) == (2, 0)   # total padding 1 -> top 0, bottom 1
    assert (g_cols.out, g_cols.before) == (3, 0)   # total 1 -> left 0, right 1
    g, = pooling.pool_geometry((5,), (4,), (1,), "same")
    assert (g.out, g.before) == (5, 1)              # total 3 -> 1 before, 2 after
    np.testing.assert_array_equal(g.counts(), [3, 4, 4, 3, 2])


def test_global_average_pooling_is_one_value_per_channel_not_a_scalar():
    x = np.random.default_rng(0).standard_normal((4, 3, 3, 5))
    y = GlobalAveragePooling2D(dtype="float64")(x)
    assert y.shape == (4, 5)
    np.testing.assert_allclose(y, x.mean(axis=(1, 2)), rtol=1e-12)
    assert GlobalAveragePooling2D(keepdims=True)(x).shape == (4, 1, 1, 5)
    assert GlobalAveragePooling2D(data_format="channels_first")(x).shape == (4, 3)


def test_non_finite_upstream_gradient_follows_tensorflow(tf):
    x = np.random.default_rng(1).standard_normal((1, 4, 4, 2))
    for layer in (MaxPooling2D(2, dtype="float64"), MaxPooling2D(3, 1, "same", dtype="float64"),
                  AveragePooling2D(2, dtype="float64"), GlobalMaxPooling2D(dtype="float64")):
        y = layer(x)
        dy = np.ones(y.shape)
        dy.flat[0] = np.inf
        _, _, dx_tf = keras_forward_backward(tf, layer, x, dy)
        dx = layer.backward(dy)
        # MaxPooling2D: inf at the max and 0 elsewhere; GlobalMaxPooling2D: 0 * inf = nan elsewhere
        np.testing.assert_array_equal(dx, dx_tf)
        assert np.isinf(dx).sum() >= 1


def test_empty_batch():
    for layer in (MaxPooling2D(2), AveragePooling2D(3, 1, "same"), GlobalMaxPooling2D(),
                  GlobalAveragePooling2D()):
        y = layer(np.zeros((0, 4, 4, 2)))
        assert y.shape == layer.compute_output_shape((0, 4, 4, 2))
        assert layer.backward(np.zeros(y.shape)).shape == (0, 4, 4, 2)


# --- signatures, config, errors -------------------------------------------------------------

@pytest.mark.parametrize("cls", [MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D])
def test_signature_mirrors_keras(tf, cls):
    def params(fn):
        return [(p.name, p.default) for p in inspect.signature(fn).parameters.values()
                if p.kind is p.POSITIONAL_OR_KEYWORD and p.name not in ("self", "name")]

    assert params(cls.__init__) == params(getattr(tf.keras.layers, cls.__name__).__init__)


def test_defaults_and_aliases():
    layer = MaxPooling2D()
    assert (layer.pool_size, layer.strides, layer.padding, layer.data_format) == (
        (2, 2), (2, 2), "valid", "channels_last")
    with pytest.raises(TypeError, match="pool_size"):
        AveragePooling2D()  # Keras 3: no default pool_size for average pooling
    assert MaxPool2D is MaxPooling2D and AvgPool2D is AveragePooling2D
    assert AveragePooling2D((3, 2), padding="SAME").get_config()["padding"] == "same"


def test_config_round_trips_through_keras(tf):
    layer = AveragePooling2D((3, 2), strides=(1, 2), padding="same", data_format="channels_first")
    twin = keras_twin(layer).get_config()
    ours = layer.get_config()
    assert (ours["pool_size"], ours["strides"]) == ((3, 2), (1, 2))
    assert (tuple(twin["pool_size"]), tuple(twin["strides"])) == (ours["pool_size"], ours["strides"])
    assert (twin["padding"], twin["data_format"]) == (ours["padding"], ours["data_format"])


@pytest.mark.parametrize("kwargs, argument", [
    (dict(pool_size=0), "pool_size"),
    (dict(pool_size=(2,)), "pool_size"),
    (dict(pool_size=2.5), "pool_size"),
    (dict(pool_size=True), "pool_size"),
    (dict(pool_size=(2, -1)), "pool_size"),
    (dict(pool_size=2, strides=0), "strides"),
    (dict(pool_size=2, strides=(1, 2, 3)), "strides"),
    (dict(pool_size=2, padding="full"), "padding"),
    (dict(pool_size=2, padding=None), "padding"),
    (dict(pool_size=2, data_format="nhwc"), "data_format"),
])
@pytest.mark.parametrize("cls", [MaxPooling2D, AveragePooling2D])
def test_bad_arguments_name_layer_and_argument(cls, kwargs, argument):
    with pytest.raises(ValueError, match=rf"Layer 'p'.*`{argument}`"):
        cls(name="p", **kwargs)


@pytest.mark.parametrize("cls", [MaxPooling2D, AveragePooling2D, *GLOBALS])
def test_misspelt_argument_is_keras_error(tf, cls):
    for library in (tf.keras.layers, None):
        layer_cls = getattr(library, cls.__name__) if library else cls
        with pytest.raises(ValueError, match=rf"Unrecognized keyword arguments passed to {cls.__name__}: "
                                             r"\{'poolsize': 2\}"):
            layer_cls(poolsize=2) if layer_cls.__name__.startswith("Global") else layer_cls(2, poolsize=2)


@pytest.mark.parametrize("cls", GLOBALS)
def test_global_bad_arguments(cls):
    with pytest.raises(ValueError, match=r"Layer 'g'.*`data_format`"):
        cls(data_format="channels_middle", name="g")
    with pytest.raises(TypeError, match=r"Layer 'g'.*`keepdims`"):
        cls(keepdims="yes", name="g")


@pytest.mark.parametrize("cls", [MaxPooling2D, AveragePooling2D, *GLOBALS])
@pytest.mark.parametrize("shape", [(4, 4, 1), (1, 4, 4, 1, 1), (4,)])
def test_rank_must_be_four(cls, shape):
    layer = cls(2, name="p") if cls in POOLS.values() else cls(name="p")
    with pytest.raises(ValueError, match=r"layer 'p'.*expected ndim=4, found ndim="):
        layer(np.zeros(shape))


def test_valid_pool_larger_than_input_is_an_error_as_in_keras(tf):
    layer = MaxPooling2D(pool_size=(3, 3), name="p")
    with pytest.raises(ValueError, match=r"Layer 'p': computed output size would be zero or negative"):
        layer(np.zeros((1, 2, 5, 1)))
    with pytest.raises(ValueError, match="zero or negative"):  # Keras, building a model
        tf.keras.layers.MaxPooling2D(pool_size=(3, 3)).compute_output_shape((1, 2, 5, 1))
    assert MaxPooling2D((3, 3), padding="same")(np.zeros((1, 2, 5, 1))).shape == (1, 1, 2, 1)


def test_input_and_dy_errors():
    layer = MaxPooling2D(name="p")
    with pytest.raises(TypeError, match=r"Layer 'p'.*`inputs` must be numeric"):
        layer(np.array([["a", "b"]]))
    with pytest.raises(RuntimeError, match="before `backward"):
        MaxPooling2D().backward(np.zeros((1, 1, 1, 1)))
    layer(np.zeros((1, 4, 4, 1)))
    with pytest.raises(ValueError, match=r"`dy` must have the shape of the last output \(1, 2, 2, 1\)"):
        layer.backward(np.zeros((1, 4, 4, 1)))
    with pytest.raises(ValueError, match="empty spatial axis"):
        GlobalAveragePooling2D(name="g")(np.zeros((1, 0, 3, 2)))


def test_pooling_has_no_weights():
    layer = AveragePooling2D(2)
    y = layer(np.ones((1, 4, 4, 3)))
    layer.backward(np.ones_like(y))
    assert layer.weights == [] and layer.grads == {} and layer.count_params() == 0


# --- the explorer and the exercises --------------------------------------------------------------

def test_pooling_explorer_is_the_sliding_window_machinery_driven_by_kbook_layers():
    from kbook.widgets.pooling import PoolingExplorer, feature_map
    from kbook.widgets.sliding_window import SlidingWindowExplorer

    ex = PoolingExplorer(image=np.arange(36.0).reshape(6, 6) / 36, pool_size=2, strides=2)
    assert isinstance(ex, SlidingWindowExplorer)
    renders = ex.live.renders
    ex.mode.value = "average"
    assert ex.live.renders == renders + 1  # one redraw per control change
    assert ex.summary().startswith("AveragePooling2D(pool_size=2, strides=2, padding='valid')")
    expected = AveragePooling2D(2, dtype="float64")(ex.image[None, :, :, None])[0, :, :, 0]
    np.testing.assert_array_equal(ex.output, expected)
    ex.padding.value = "same"
    ex.pool_size.value = 3
    ex.row.value, ex.col.value = 2, 2          # the bottom-right window: 2 x 2 real cells of 3 x 3
    assert "output[2, 2] = mean of 4 real cells" in ex.summary()
    ex.mode.value = "max"
    assert "(gradient goes to window cell (1, 1))" in ex.summary()  # values grow to the bottom-right
    ex.padding.value = "valid"
    ex.pool_size.value = 6
    ex.strides.value = 1
    assert ex.output.shape == (1, 1) and ex.error is None
    ex.feature.value = "vertical edges + relu"
    np.testing.assert_allclose(ex.image, feature_map(np.arange(36.0).reshape(6, 6) / 36, "vertical edges + relu"))


def test_pooling_explorer_reports_invalid_arguments():
    from kbook.widgets.pooling import PoolingExplorer

    ex = PoolingExplorer(image=np.zeros((4, 5)), pool_size=2, strides=2, max_window=6)
    ex.pool_size.value = 5
    assert ex.output is None and "zero or negative" in ex.error
    assert "ValueError" in ex.summary()


def test_pooling_explorer_starts_at_the_centre_with_the_chapters_formulas():
    from kbook.widgets.pooling import PoolingExplorer

    ex = PoolingExplorer(image=np.zeros((9, 13)), pool_size=2, strides=2)
    assert (ex.row.value, ex.col.value) == (2, 3)            # output (4, 6): its centre, not (0, 0)
    assert ex.receptive_field() == ((4, 5), (6, 7))           # the middle of the image
    summary = ex.summary()
    assert "rows: floor((9 - 2) / 2) + 1 = 4" in summary      # "valid": the floor formula of the chapter
    assert "cols: floor((13 - 2) / 2) + 1 = 6" in summary
    assert "ceil((" not in summary and "ceil((" not in ex.caption.value
    assert "padding" not in summary.splitlines()[-1]          # this window touches no padding
    renders = ex.live.renders
    ex.padding.value = "same"
    ex.pool_size.value = 3
    assert ex.live.renders == renders + 2
    ex.row.value, ex.col.value = 4, 6                         # bottom-right window: pads 1 on each side
    assert summary != ex.summary()
    assert ex.summary().splitlines()[-1] == "output[4, 6] sees input rows 7..9, cols 11..13 (padding: row 9; col 13)"
    ex.row.value, ex.col.value = 1, 1                         # inside again: no padding note
    assert "padding" not in ex.summary().splitlines()[-1]
    ex.padding.value = "valid"
    ex.pool_size.value = 6
    ex.strides.value = 4
    assert "rows: floor((9 - 6) / 4) + 1 = 1" in ex.summary()


def test_pooling_explorer_formula_is_the_layers_output_size():
    from kbook.widgets.pooling import PoolingExplorer

    ex = PoolingExplorer(image=np.zeros((7, 10)), max_window=6)
    for pool in range(1, 7):
        for strides in range(1, 5):
            ex.pool_size.value, ex.strides.value = pool, strides
            layer_shape = MaxPooling2D(pool, strides)(np.zeros((1, 7, 10, 1))).shape[1:3]
            assert (ex.axis_formula(0)[0], ex.axis_formula(1)[0]) == layer_shape == ex.output.shape


# --- chapter 4's exercises (kbook/exercises/pooling.py): right answers accepted, a catalogue of
# plausible wrong ones rejected with a hint that names the mistake -------------------------------

from kbook.exercises import pooling as ex  # noqa: E402
from kbook.exercises.checker import TODO  # noqa: E402


def test_valid_shape(assert_verdicts):
    assert MaxPooling2D(2, strides=2)(np.zeros((3, 7, 11, 5))).shape == (3, 3, 5, 5)
    assert_verdicts(ex.valid_shape, [(3, 3, 5, 5), (np.int64(3), np.int32(3), 5, 5)], [
        ((3, 4, 6, 5), "padding='same'"), ((3, 5, 3, 5), "swapped"), ((3, 6, 10, 5), "strides=None"),
        ((3, 3, 5, 1), "channels"), ((1, 3, 5, 5), "batch"), ((3, 3.5, 5.5, 5), "forget the floor"),
        ((3, 3.0, 5.0, 5), "not the float"), ([3, 3, 5, 5], "Answer with a tuple"), ("(3, 3, 5, 5)", "tuple"),
        (np.array([3, 3, 5, 5]), "tuple"), ((3, 5), "4 axes"), ((3, True, 5, 5), "True / False"),
        ((3, 2, 4, 5), "floor((L - pool_size) / strides) + 1"),
    ])


def test_same_shape(assert_verdicts):
    assert MaxPooling2D(3, strides=2, padding="same")(np.zeros((8, 15, 20, 16))).shape == (8, 8, 10, 16)
    assert_verdicts(ex.same_shape, [(8, 8, 10, 16), tuple(np.array([8, 8, 10, 16]))], [
        ((8, 7, 10, 16), "round up"), ((8, 7, 9, 16), "'valid' count"), ((8, 10, 8, 16), "swapped"),
        ((8, 15, 20, 16), "strides=1"), ((8, 5, 7, 16), "pool size"), ((8, 7.5, 10, 16), "ceil"),
        ([8, 8, 10, 16], "tuple"), ((8, 9, 10, 16), "ceil(L / strides)"),
    ])


def test_corner_average(assert_verdicts):
    y = AveragePooling2D(2, strides=1, padding="same", dtype="float64")(np.array([[1.0, 2], [3, 4]]).reshape(1, 2, 2, 1))
    assert_verdicts(ex.corner_average, [float(y[0, 1, 1, 0]), 4, np.float32(4.0), np.float64(4.0)], [
        (1.0, "zeros"), (2.5, "whole image"), (0.0, "not a value"), (3.0, "how many of its cells"),
        ("four", "a number"), (True, "a number"),
    ])


def test_tie_winner(tf, assert_verdicts):
    x = tf.constant(np.array([[3.0, 3.0], [1.0, 0.0]]).reshape(1, 2, 2, 1))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.keras.layers.MaxPooling2D(2)(x)
    winner = tuple(int(v) for v in np.argwhere(tape.gradient(y, x).numpy()[0, :, :, 0])[0])
    assert_verdicts(ex.tie_winner, [winner, (np.int64(0), 0)], [
        ((0, 1), "last maximum"), ((1, 0), "not a maximum"), ([0, 0], "tuple"), ((0.5, 0.5), "not split"),
        ((0,), "2 axes"),
    ])


def max_pool_2x2(x):
    n, h, w, c = x.shape
    return x.reshape(n, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


def max_pool_2x2_in_place(x):      # changes its argument: the checker gave it a copy
    n, h, w, c = x.shape
    x -= 0.0
    np.maximum(x[:, ::2], x[:, 1::2], out=x[:, ::2])
    return np.maximum(x[:, ::2, ::2], x[:, ::2, 1::2])


def test_max_pool_forward(assert_verdicts):
    assert_verdicts(ex.max_pool_forward, [
        max_pool_2x2, lambda x: MaxPooling2D(2, dtype="float64")(x), lambda x: max_pool_2x2(x).astype(np.float32),
        lambda x: MaxPooling2D(2, dtype="float32")(x.astype(np.float32)), max_pool_2x2_in_place,
    ], [
        (lambda x: x[:, ::2, ::2], "subsampling"),
        (lambda x: x.reshape(x.shape[0], x.shape[1] // 2, 2, x.shape[2] // 2, 2, x.shape[3]).mean(axis=(2, 4)),
         "average pooling"),
        (lambda x: x.reshape(x.shape[0], 2, x.shape[1] // 2, 2, x.shape[2] // 2, x.shape[3]).max(axis=(1, 3)),
         "neighbours"),
        (lambda x: x.reshape(x.shape[0], x.shape[1] // 2, 2, x.shape[2] // 2, 2, x.shape[3]).max(axis=(1, 3)),
         "over the blocks"),
        (lambda x: x.reshape(x.shape[0], x.shape[2] // 2, 2, x.shape[1] // 2, 2, x.shape[3]).max(axis=(2, 4)),
         "swapped"),
        (lambda x: x.max(axis=(1, 2)), "whole image"),
        (lambda x: max_pool_2x2(x)[:2], "shape"),                                # only works for N = 2
        (lambda x: max_pool_2x2(x).astype(np.float16), "Reshape"),               # too coarse even for float32
        (lambda x: 1 / 0, "ZeroDivisionError"),
        (3, "not a function"),
    ])
    assert ex.max_pool_forward(lambda x: None).status == TODO
    assert "changed its input" in ex.max_pool_forward(max_pool_2x2_in_place).message


def test_global_average(assert_verdicts):
    def in_place(x):
        x /= x.shape[1] * x.shape[2]
        return x.sum(axis=(1, 2))

    assert_verdicts(ex.global_average, [
        lambda x: x.mean(axis=(1, 2)), lambda x: GlobalAveragePooling2D(dtype="float64")(x), in_place,
        lambda x: x.astype(np.float32).mean(axis=(1, 2)),
        lambda x: np.array([[x[n, :, :, c].mean() for c in range(x.shape[3])] for n in range(x.shape[0])]),
    ], [
        (lambda x: x.mean(), "One number"), (lambda x: x.mean(axis=(1, 2), keepdims=True), "keepdims"),
        (lambda x: x.max(axis=(1, 2)), "GlobalMaxPooling2D"), (lambda x: x.mean(axis=(0, 1, 2)), "batch"),
        (lambda x: x.mean(axis=(2, 3)), "(N, C, H, W)"), (lambda x: x.mean(axis=1), "both spatial axes"),
        (lambda x: x.sum(axis=(1, 2)), "Average over the two spatial axes"),
    ])


def backward_loops(x, dy, pool, stride):
    dx = np.zeros_like(x)
    for i in range(dy.shape[0]):
        for j in range(dy.shape[1]):
            window = x[i * stride:i * stride + pool, j * stride:j * stride + pool]
            r, c = np.unravel_index(np.argmax(window), window.shape)
            dx[i * stride + r, j * stride + c] += dy[i, j]
    return dx


def backward_with_the_layer(x, dy, pool, stride):
    layer = MaxPooling2D(pool, strides=stride, dtype="float64")
    layer(x[None, :, :, None].astype(np.float64))
    return layer.backward(dy[None, :, :, None].astype(np.float64))[0, :, :, 0]


def backward_in_place(x, dy, pool, stride):       # reuses x as dx: changes the checker's copy only
    dx = backward_loops(x, dy, pool, stride)
    x[...] = dx
    dy *= 0
    return x


def backward_by_window(x, dy, pool, stride, share, add=True):
    dx = np.zeros_like(x, dtype=np.float64)
    for i in range(dy.shape[0]):
        for j in range(dy.shape[1]):
            rows, cols = slice(i * stride, i * stride + pool), slice(j * stride, j * stride + pool)
            part = share(x[rows, cols], dy[i, j])
            if add:
                dx[rows, cols] += part
            else:
                dx[rows, cols] = np.where(part != 0, part, dx[rows, cols])
    return dx


def first_max(window, g):
    out = np.zeros(window.shape)
    out[np.unravel_index(np.argmax(window), window.shape)] = g
    return out


def test_max_pool_backward_agrees_with_tensorflow(tf):
    for x, dy, pool, stride in ex._backward_cases():
        x_tf = tf.constant(x.astype(np.float64)[None, :, :, None])
        with tf.GradientTape() as tape:
            tape.watch(x_tf)
            y = tf.keras.layers.MaxPooling2D(pool, strides=stride, dtype="float64")(x_tf)
        dx_tf = tape.gradient(y, x_tf, output_gradients=tf.constant(dy.astype(np.float64)[None, :, :, None]))
        np.testing.assert_array_equal(ex._backward_reference(x, dy, pool, stride), dx_tf.numpy()[0, :, :, 0])


def test_max_pool_backward(assert_verdicts):
    assert_verdicts(ex.max_pool_backward, [
        backward_loops, backward_with_the_layer, backward_in_place,
        lambda x, dy, p, s: backward_loops(x, dy, p, s).astype(np.float32),
    ], [
        (lambda x, dy, p, s: backward_by_window(x, dy, p, s, lambda w, g: np.full(w.shape, g)), "every cell"),
        (lambda x, dy, p, s: backward_by_window(x, dy, p, s, lambda w, g: np.full(w.shape, g / w.size)),
         "average pooling"),
        (lambda x, dy, p, s: backward_by_window(x, dy, p, s, first_max, add=False), "do not overwrite"),
        (lambda x, dy, p, s: backward_by_window(x, dy, p, s, lambda w, g: (w == w.max()) * g), "every tied cell"),
        (lambda x, dy, p, s: backward_by_window(x, dy, p, s, lambda w, g: (w == w.max()) * g / (w == w.max()).sum()),
         "GlobalMaxPooling2D"),
        (lambda x, dy, p, s: backward_by_window(x, dy, p, s, lambda w, g: first_max(w[::-1, ::-1], g)[::-1, ::-1]),
         "last maximum"),
        (lambda x, dy, p, s: backward_by_window(x, dy, p, s, lambda w, g: first_max(w.T, g).T), "column by column"),
        (lambda x, dy, p, s: dy, "input's shape"),
        (lambda x, dy, p, s: backward_loops(x, dy, p, s).T, "swapped"),
        (lambda x, dy, p, s: np.zeros_like(x), "np.argmax"),
        (lambda x, dy, p, s: backward_loops(x, dy, p, s).astype(np.float16), "np.argmax"),
        (lambda x, dy: x, "TypeError"),
    ])
    assert "changed its input" in ex.max_pool_backward(backward_in_place).message


def test_checkers_do_not_reveal_the_answer_in_their_hints():
    assert "(3, 3, 5, 5)" not in ex.valid_shape((3, 4, 6, 5)).message
    assert "(8, 8, 10, 16)" not in ex.same_shape((8, 7, 10, 16)).message
    assert "4.0" not in ex.corner_average(1.0).message


@pytest.mark.parametrize("window, expected", [
    ([[1.0, np.nan], [3.0, 0.5]], 3.0),          # nan never wins, as in TF's kernel
    ([[np.nan, np.nan], [np.nan, np.nan]], np.finfo(np.float32).min),
    ([[-np.inf, -np.inf], [-np.inf, -np.inf]], np.finfo(np.float32).min),
])
def test_max_pooling_non_finite_windows_match_tensorflow(tf, window, expected):
    x = np.array(window, dtype=np.float32).reshape(1, 2, 2, 1)
    ours = MaxPooling2D(2)(x).item()
    theirs = tf.keras.layers.MaxPooling2D(2)(tf.constant(x)).numpy().item()
    assert ours == theirs == expected


@pytest.mark.parametrize("layer", [MaxPooling2D(2), GlobalMaxPooling2D()], ids=["max", "global_max"])
def test_editing_the_output_in_place_does_not_change_the_gradient(layer):
    x = np.random.default_rng(0).standard_normal((1, 4, 4, 2))
    y = layer(x)
    y *= -3
    y += 1
    dx = layer.backward(np.ones_like(y))
    assert dx.sum() == pytest.approx(y.size)


def test_big_same_average_pool_gradient_is_exact():
    # A pool larger than the input with "same" padding: the layer is linear, so its exact
    # gradient is the column sums of its matrix. (TF 2.21's AvgPoolGrad is off here; kbook is not.)
    layer = AveragePooling2D(5, strides=1, padding="same", dtype="float64")
    x = np.random.default_rng(1).standard_normal((1, 4, 4, 1))
    dy = np.random.default_rng(2).standard_normal(layer(x).shape)
    layer(x)
    dx = layer.backward(dy)
    matrix = np.stack([layer(np.eye(16)[i].reshape(1, 4, 4, 1)).ravel() for i in range(16)])  # row i: output for input cell i
    assert np.allclose(dx.ravel(), matrix @ dy.ravel(), rtol=0, atol=1e-14)


def test_global_average_of_a_large_float32_image_stays_accurate(tf):
    x = np.random.default_rng(0).standard_normal((2, 300, 300, 2)).astype(np.float32) + 1000
    ours = GlobalAveragePooling2D()(x)
    exact = x.astype(np.float64).mean(axis=(1, 2))
    assert np.abs(ours - exact).max() <= 1e-4
