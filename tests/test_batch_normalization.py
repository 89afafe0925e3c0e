"""BatchNormalization: identical to tf.keras in both modes (output, dL/dx, dL/dgamma, dL/dbeta and the
moving statistics), the numerically hard inputs, Keras's weights and errors, and inside models."""
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from kbook import parallel
from kbook.check import TOLERANCES, check_layer, check_model, keras_model_twin, keras_twin, relative_error
from kbook.layers import BatchNormalization, Conv2D, Dense, Flatten, Input
from kbook.models import Model, Sequential
from kbook.summary import summary_text

TRAINING = [True, False, None]


def randomize(layer, rng):
    """Random gamma and beta (so both paths matter) and moving statistics (variance > 0)."""
    layer.set_weights([rng.uniform(0.2, 3.0, w.shape) if name == "moving_variance" else rng.standard_normal(w.shape)
                       for name, w in zip(layer.weight_names, layer.weights)])


def built(shape, rng, **kwargs):
    layer = BatchNormalization(**kwargs)
    layer.build(tuple(shape))
    layer.built = True
    randomize(layer, rng)
    return layer


def float32_can_agree(layer, x, training):
    """False for float32 cases in which TensorFlow's own rounding exceeds the 1e-5 tolerance.

    TensorFlow computes x * scale + (beta - mean * scale), and its gradient through
    sum(dy * x) - mean * sum(dy): terms up to max|x| / std and 4 * max|gamma| / std times the
    result (std = sqrt(var + epsilon), |dy| < 4), whose float32 rounding (and its approximate
    rsqrt) moves the answer.  Past 30 it can exceed 1e-5 while kbook stays within 1e-6 of the
    float64 answer (measured; see also the large-offset test).
    """
    if layer.dtype == "float64":
        return True
    batch = training and layer.trainable
    var = x.var(axis=tuple(a for a in range(x.ndim) if a != layer.axis % x.ndim)) if batch else layer.moving_variance
    rstd = 1 / np.sqrt(var.min() + layer.epsilon)
    gamma = np.abs(layer.gamma).max() if layer.scale else 1.0
    return np.abs(x).max() * rstd < 30 and (not batch or 4 * gamma * rstd < 30)


@st.composite
def layer_cases(draw):
    rank = draw(st.integers(2, 5))
    shape = draw(st.lists(st.integers(1, 6 if rank < 4 else 4), min_size=rank, max_size=rank))
    return {
        "shape": shape,
        "axis": draw(st.integers(-rank, rank - 1)),
        "momentum": draw(st.floats(0.0, 1.0)),
        "epsilon": draw(st.sampled_from([1e-5, 1e-3, 0.01, 0.5])),
        "center": draw(st.booleans()),
        "scale": draw(st.booleans()),
        "dtype": draw(st.sampled_from(["float32", "float64"])),
    }


@given(case=layer_cases(), training=st.sampled_from(TRAINING), trainable=st.booleans(),
       offset=st.floats(-3, 3), spread=st.floats(0.3, 30), seed=st.integers(0, 2**16))
@settings(max_examples=200)
def test_matches_keras_forward_and_backward(case, training, trainable, offset, spread, seed):
    rng = np.random.default_rng(seed)
    shape = case.pop("shape")
    layer = built(shape, rng, trainable=trainable, **case)
    x = (rng.standard_normal(shape) + offset) * spread
    assume(float32_can_agree(layer, x, training))
    report = check_layer(layer, x, seed=seed, training=training, raise_on_failure=False)
    assert report.ok, repr(report)


@given(case=layer_cases(), steps=st.integers(1, 4), seed=st.integers(0, 2**16))
@settings(max_examples=60)
def test_moving_statistics_follow_keras_over_training_steps(tf, case, steps, seed):
    rng = np.random.default_rng(seed)
    shape = case.pop("shape")
    layer = built(shape, rng, **case)
    twin = keras_twin(layer)
    twin.build(tuple(shape))
    twin.set_weights(layer.get_weights())
    tol = TOLERANCES[layer.dtype]
    for _ in range(steps):
        x = (rng.standard_normal(shape) * 2 + 1).astype(layer.dtype)
        assume(float32_can_agree(layer, x, True))
        assert relative_error(layer(x, training=True), twin(x, training=True).numpy()) <= tol
    for ours, theirs in zip(layer.get_weights(), twin.get_weights()):
        assert relative_error(ours, theirs) <= tol
    # ... and inference with the statistics they gathered
    assume(float32_can_agree(layer, x, False))
    assert relative_error(layer(x), twin(x, training=False).numpy()) <= tol


# --- numerically hard inputs: float64 against Keras to 1e-10 ------------------------------------

@pytest.mark.parametrize("training", TRAINING)
def test_constant_channel_and_batch_of_one(rng, training):
    x = rng.standard_normal((6, 4, 3))
    x[..., 1] = 3.7  # zero variance
    layer = built(x.shape, rng, dtype="float64")
    assert check_layer(layer, x, training=training).ok
    one = built((1, 5), rng, dtype="float64")
    assert check_layer(one, rng.standard_normal((1, 5)), training=training).ok
    if training:  # a batch of one is all mean: the output is beta, exactly as Keras
        y = one(rng.standard_normal((1, 5)), training=True)
        assert np.all(np.isfinite(y)) and np.allclose(y[0], one.beta, atol=1e-12)


@pytest.mark.parametrize("axis", [-1, 1])
@pytest.mark.parametrize("training", [True, False])
def test_large_offset_float64_matches_keras(rng, axis, training):
    x = 1e4 + rng.standard_normal((16, 3, 8, 8))
    layer = built(x.shape, rng, axis=axis, dtype="float64")
    layer.moving_mean[...] += 1e4
    assert check_layer(layer, x, training=training).ok


@pytest.mark.parametrize("axis", [-1, 1])
def test_large_offset_float32_is_finite_and_at_least_as_accurate_as_keras(tf, rng, axis):
    """No float32 result can equal Keras's here (its float32 mean and x * scale + shift lose digits),
    so both are measured against Keras in float64 on the same values: kbook must be within the
    float32 tolerance of that, and no worse than Keras."""
    x = (1e4 + rng.standard_normal((32, 16, 16, 8))).astype("float32")
    if axis == 1:
        x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    dy = rng.standard_normal(x.shape)
    errors = {}
    for dtype in ("float64", "float32"):
        layer = BatchNormalization(axis=axis, dtype=dtype)
        twin = keras_twin(layer)
        y = layer(x, training=True)
        dx = layer.backward(dy)
        x_tf = tf.constant(x.astype(dtype))
        with tf.GradientTape() as tape:
            tape.watch(x_tf)
            y_tf = twin(x_tf, training=True)
        dx_tf = tape.gradient(y_tf, x_tf, output_gradients=tf.constant(dy.astype(dtype)))
        if dtype == "float64":
            truth = y_tf.numpy(), dx_tf.numpy()
            assert relative_error(y, truth[0]) <= 1e-10 and relative_error(dx, truth[1]) <= 1e-10
        else:
            assert np.all(np.isfinite(y)) and np.all(np.isfinite(dx))
            errors = {"kbook": [relative_error(y, truth[0]), relative_error(dx, truth[1])],
                      "keras": [relative_error(y_tf.numpy(), truth[0]), relative_error(dx_tf.numpy(), truth[1])]}
    # measured: kbook ~2e-7 from the float64 answer, Keras's float32 1e-3 to 5e-3 (output), 3e-4 (dL/dx)
    assert all(ours <= min(theirs, 1e-5) for ours, theirs in zip(errors["kbook"], errors["keras"])), errors


@pytest.mark.parametrize("shape, axis", [((1000, 70, 8), -1), ((300, 7, 3, 5), 1), ((4, 3, 300), 1),
                                         ((70, 90, 4), 1)])
@pytest.mark.parametrize("training", [True, False])
def test_large_inputs_split_over_cores_match_keras(rng, shape, axis, training):
    layer = built(shape, rng, axis=axis, dtype="float64")
    assert check_layer(layer, rng.standard_normal(shape) * 3 + 2, training=training).ok


def test_results_do_not_depend_on_the_number_of_threads(rng, monkeypatch):
    x = rng.standard_normal((300, 70, 7)).astype("float32")
    dy = rng.standard_normal(x.shape).astype("float32")
    runs = []
    for cores in (parallel.cores(), 1):
        monkeypatch.setattr(parallel, "cores", lambda cores=cores: cores)
        layer = BatchNormalization(name="bn")
        y = layer(x, training=True)
        runs.append([y, layer.backward(dy), *layer.get_weights(), *layer.grads.values()])
    assert all(np.array_equal(a, b) for a, b in zip(*runs))


# --- weights and modes --------------------------------------------------------------------

@pytest.mark.parametrize("center, scale, names", [
    (True, True, ["gamma", "beta", "moving_mean", "moving_variance"]),
    (False, True, ["gamma", "moving_mean", "moving_variance"]),
    (True, False, ["beta", "moving_mean", "moving_variance"]),
    (False, False, ["moving_mean", "moving_variance"])])
def test_weights_in_keras_order_and_moving_statistics_not_trainable(tf, center, scale, names):
    layer = BatchNormalization(center=center, scale=scale)
    layer(np.ones((2, 5, 3)))
    twin = keras_twin(layer)
    twin.build((2, 5, 3))
    assert layer.weight_names == [w.name for w in twin.weights] == names
    assert [w.shape for w in layer.weights] == [(3,)] * len(names)
    assert len(layer.trainable_weights) == len(twin.trainable_weights) == len(names) - 2
    assert layer.non_trainable_weights[-2:] == [layer.moving_mean, layer.moving_variance]
    assert len(layer.non_trainable_weights) == len(twin.non_trainable_weights) == 2
    assert [w.tolist() for w in layer.get_weights()] == [w.tolist() for w in twin.get_weights()]


def test_a_direct_call_infers_and_training_updates_the_live_arrays(rng):
    layer = BatchNormalization(momentum=0.75, epsilon=0.0, dtype="float64")
    x = rng.standard_normal((50, 2)) * [2, 3] + [1, -4]
    y = layer(x)  # training=None: moving mean 0, moving variance 1, gamma 1, beta 0
    assert np.array_equal(y, x) and np.array_equal(layer.moving_mean, [0, 0])
    live = layer.moving_mean, layer.moving_variance
    y = layer(x, training=True)
    assert np.allclose(y.mean(axis=0), 0) and np.allclose(y.var(axis=0), 1)
    assert np.allclose(layer.moving_mean, 0.25 * x.mean(axis=0))
    assert np.allclose(layer.moving_variance, 0.75 + 0.25 * x.var(axis=0))  # the biased variance
    assert layer.moving_mean is live[0] and layer.weights[3] is live[1]
    layer.set_weights([np.ones(2), np.zeros(2), np.full(2, 5.0), np.full(2, 4.0)])
    assert np.array_equal(live[0], [5, 5]) and np.allclose(layer(x), (x - 5) / 2)


@pytest.mark.parametrize("momentum, after", [(1.0, 0.0), (0.0, 2.0)])
def test_momentum_one_keeps_and_zero_replaces(momentum, after):
    layer = BatchNormalization(momentum=momentum)
    layer(np.full((4, 3), 2.0), training=True)
    assert np.array_equal(layer.moving_mean, [after] * 3)


def test_a_frozen_layer_always_infers_as_keras_3(rng):
    layer = built((8, 3), rng, trainable=False, dtype="float64")
    before = layer.get_weights()
    x = rng.standard_normal((8, 3))
    assert np.array_equal(layer(x, training=True), layer(x, training=False))
    assert all(np.array_equal(a, b) for a, b in zip(before, layer.get_weights()))
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 4
    assert check_layer(layer, x, training=True).ok  # Keras still gives dL/dgamma, dL/dbeta


def test_no_gradient_for_the_moving_statistics(rng):
    layer = built((5, 3), rng)
    for training in (True, False):
        layer(rng.standard_normal((5, 3)), training=training)
        layer.backward(np.ones((5, 3)))
        assert sorted(layer.grads) == ["beta", "gamma"]


# --- inside models ------------------------------------------------------------------------

def cnn(data_format, dtype="float64"):
    """Conv2D -> BatchNormalization -> Flatten -> Dense (channels_first: no Conv2D, which
    TensorFlow cannot run on a CPU in that layout)."""
    first = [Conv2D(3, 3, dtype=dtype)] if data_format == "channels_last" else []
    shape, axis = ((6, 6, 2), -1) if data_format == "channels_last" else ((2, 6, 6), 1)
    # dtype on the model too: a kbook model casts its input to its own dtype (float32 by default)
    return Sequential([Input(shape, dtype=dtype), *first, BatchNormalization(axis=axis, momentum=0.8, dtype=dtype),
                       Flatten(dtype=dtype), Dense(2, dtype=dtype)], name="cnn", dtype=dtype)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("training", [True, False])
def test_in_a_sequential_model_matches_keras(tf, rng, data_format, training):
    model = cnn(data_format)
    bn = next(layer for layer in model.layers if isinstance(layer, BatchNormalization))
    randomize(bn, rng)
    x = rng.standard_normal((4, 6, 6, 2) if data_format == "channels_last" else (4, 2, 6, 6))
    assert check_model(model, x, training=training).ok
    assert bn.grads.keys() == {"gamma", "beta"}


def test_summary_counts_the_moving_statistics_as_non_trainable(tf, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    model = cnn("channels_last", dtype="float32")
    lines = []
    keras_model_twin(model).summary(print_fn=lines.append)
    text = summary_text(model)
    assert text == "".join(lines)
    assert "Non-trainable params: 6 (24.00 B)" in text


def test_fit_updates_the_moving_statistics_and_evaluate_does_not(rng):
    model = cnn("channels_last")
    model.compile(optimizer="sgd", loss="mse")
    x, y = rng.standard_normal((16, 6, 6, 2)) + 3, rng.standard_normal((16, 2))
    bn = model.layers[1]
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    moved = bn.get_weights()
    assert not np.allclose(moved[2], 0) and not np.allclose(moved[3], 1)
    model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(moved, bn.get_weights()))


def test_functional_api(tf, rng):
    i = Input((5, 4), dtype="float64")
    h = BatchNormalization(axis=1, dtype="float64")(i)
    assert h.shape == (None, 5, 4)
    model = Model(i, Dense(3, dtype="float64")(h), dtype="float64")
    assert check_model(model, rng.standard_normal((6, 5, 4)), training=True).ok


# --- errors -------------------------------------------------------------------------------

@pytest.mark.parametrize("axis, shape", [(2, (4, 3)), (-3, (4, 3)), (0, ())])
def test_axis_out_of_range(axis, shape):
    with pytest.raises(ValueError, match=rf"Layer 'bn': Axis {axis} is out of bounds .*Received: axis={axis}"):
        BatchNormalization(axis=axis, name="bn")(np.ones(shape))


def test_channel_count_and_rank_are_fixed_after_build():
    layer = BatchNormalization(axis=1, name="bn")
    layer(np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match="layer 'bn'.*expected axis 1 of input shape to have value 3"):
        layer(np.ones((2, 5, 4)))
    with pytest.raises(ValueError, match="layer 'bn'.*expected ndim=3, found ndim=4"):
        layer(np.ones((2, 3, 4, 1)))
    assert layer(np.ones((7, 3, 9))).shape == (7, 3, 9)  # other axes stay free


@pytest.mark.parametrize("kwargs, error, match", [
    ({"momentum": 1.5}, ValueError, r"`momentum` must be between 0 and 1. Received: momentum=1.5"),
    ({"momentum": -0.1}, ValueError, r"`momentum` must be between 0 and 1"),
    ({"momentum": float("nan")}, ValueError, r"`momentum` must be between 0 and 1"),
    ({"momentum": "0.9"}, TypeError, r"`momentum` must be a number"),
    ({"epsilon": -1e-3}, ValueError, r"`epsilon` must be >= 0. Received: epsilon=-0.001"),
    ({"epsilon": None}, TypeError, r"`epsilon` must be a number"),
    ({"axis": 1.5}, TypeError, r"`axis` must be an integer"),
    ({"axis": [1, 2]}, TypeError, r"`axis` must be an integer"),
    ({"axis": True}, TypeError, r"`axis` must be an integer"),
    ({"renorm": True}, ValueError, r"`renorm`=True is not supported by kbook"),
    ({"beta_regularizer": "l2"}, ValueError, r"`beta_regularizer`='l2' is not supported"),
])
def test_bad_arguments_name_the_layer_and_argument(kwargs, error, match):
    with pytest.raises(error, match=r"Layer 'bn': " + match):
        BatchNormalization(name="bn", **kwargs)


def test_unknown_arguments_keras_message_and_keras_defaults_accepted():
    with pytest.raises(ValueError, match="Unrecognized keyword arguments passed to BatchNormalization: "
                                         r"\{'momentun': 0.9\}"):
        BatchNormalization(momentun=0.9)
    BatchNormalization(synchronized=False, renorm=False, gamma_constraint=None)


def test_unknown_initializer_names_layer_and_argument():
    with pytest.raises(ValueError, match=r"Layer 'bn'.*`moving_variance_initializer`='nope'"):
        BatchNormalization(moving_variance_initializer="nope", name="bn")(np.ones((2, 3)))


def test_backward_needs_a_forward_pass_and_the_output_shape():
    layer = BatchNormalization(name="bn")
    with pytest.raises(RuntimeError, match="Layer 'bn': call the layer"):
        layer.backward(np.ones((2, 3)))
    layer(np.ones((2, 3)), training=True)
    with pytest.raises(ValueError, match=r"Layer 'bn': `dy` must have the shape of the last output \(2, 3\)"):
        layer.backward(np.ones((3, 3)))


def test_config_builds_the_keras_twin(tf):
    layer = BatchNormalization(axis=1, momentum=0.5, epsilon=0.01, center=False, gamma_initializer="zeros")
    config = keras_twin(layer).get_config()
    assert {k: config[k] for k in ("axis", "momentum", "epsilon", "center", "scale")} == \
        {"axis": 1, "momentum": 0.5, "epsilon": 0.01, "center": False, "scale": True}
    assert layer.compute_output_shape((None, 4, 5)) == (None, 4, 5)


def test_non_contiguous_inputs(rng):
    base = rng.standard_normal((40, 6, 3))
    for x in (base[::2], np.asfortranarray(base), base.transpose(1, 0, 2)):
        layer = BatchNormalization(dtype="float64")
        y = layer(x, training=True)
        dx = layer.backward(x)
        expected = BatchNormalization(dtype="float64")
        assert np.array_equal(y, expected(np.ascontiguousarray(x), training=True))
        assert np.array_equal(dx, expected.backward(np.ascontiguousarray(x)))


# --- chapter 9's explorer (kbook/widgets/batch_normalization.py) ---------------------------------

from kbook.exercises import batch_normalization as ex  # noqa: E402
from kbook.exercises.checker import CORRECT, TODO, WRONG  # noqa: E402
from kbook.widgets import batch_normalization as bn_widgets  # noqa: E402

PNG = b"\x89PNG"


def test_crop_batches_statistics_are_those_of_the_batches():
    maps = np.random.default_rng(1).normal(0.3, 2.0, (20, 24, 3))
    data = bn_widgets.CropBatches(maps, crop=5, max_steps=7, max_batch=6, seed=2)
    for batch_size in (1, 4, 6):
        means, variances = data.statistics(batch_size)
        for step in (1, 4, 7):
            batch = data.batch(step, batch_size)
            assert batch.shape == (batch_size, 5, 5, 3)
            np.testing.assert_allclose(means[step - 1], batch.mean(axis=(0, 1, 2)), rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(variances[step - 1], batch.var(axis=(0, 1, 2)), rtol=1e-9, atol=1e-12)
    assert (data.batch(3, 4) == data.batch(3, 6)[:4]).all()          # a larger batch only adds crops
    windows = np.stack([maps[r:r + 5, c:c + 5] for r in range(16) for c in range(20)])
    np.testing.assert_allclose(data.data_mean, windows.mean(axis=(0, 1, 2)), rtol=1e-12)
    np.testing.assert_allclose(data.data_variance, windows.var(axis=(0, 1, 2)), rtol=1e-9)


@pytest.mark.parametrize("momentum", [0.0, 0.5, 0.99])
def test_moving_statistics_are_the_layers_after_each_step(momentum):
    data = bn_widgets.CropBatches(bn_widgets.feature_maps(48), crop=8, max_steps=12, max_batch=4)
    means, variances = data.statistics(4)
    mean_curve, variance_curve = bn_widgets.moving_statistics(means, variances, momentum, 12)
    layer = BatchNormalization(momentum=momentum, dtype="float64")
    np.testing.assert_array_equal(mean_curve[0], 0.0)
    np.testing.assert_array_equal(variance_curve[0], 1.0)
    for step in range(1, 13):
        layer(data.batch(step, 4), training=True)
        assert relative_error(mean_curve[step], layer.moving_mean) <= 1e-13
        assert relative_error(variance_curve[step], layer.moving_variance) <= 1e-12


def test_feature_maps_differ_in_place_and_scale():
    maps = bn_widgets.feature_maps(64)
    assert maps.shape == (64, 64, len(bn_widgets.CHANNELS))
    means, stds = maps.mean(axis=(0, 1)), maps.std(axis=(0, 1))
    assert abs(means[0]) < 0.01 and means[-1] > 0.2          # an edge detector near 0, the blur at the photo's mean
    assert stds.max() > 4 * stds.min()


@pytest.fixture(scope="module")
def bn_explorer():
    return bn_widgets.BatchNormalizationExplorer(max_steps=200)


def test_explorer_controls_redraw_once_and_change_the_summary(bn_explorer):
    e = bn_explorer
    assert e.summary().startswith("momentum=0.99, epsilon=1e-03, batch_size=16, training=True, step=0\n")
    for control, value, expected in [("step", 200, "step=200"), ("training", False, "training=False"),
                                     ("batch_size", 64, "batch_size=64"), ("momentum", 0.9, "momentum=0.9,"),
                                     ("epsilon", 1e-5, "epsilon=1e-05")]:
        before, figure = e.live.renders, e.live.figure
        getattr(e, control).value = value
        assert e.live.renders == before + 1 and e.live.figure is figure
        assert expected in e.summary().splitlines()[0]
    assert bytes(e.live.image.value).startswith(PNG)
    assert len(e.summary().splitlines()) == 2 + len(bn_widgets.CHANNELS)


def test_explorer_output_is_the_layers_in_both_modes(bn_explorer):
    e = bn_explorer
    e.momentum.value, e.epsilon.value, e.batch_size.value, e.step.value = 0.99, 1e-3, 16, 0
    e.training.value = False
    # no step yet: moving mean 0, variance 1, so inference mode returns x / sqrt(1 + epsilon)
    np.testing.assert_allclose(e.output, e.batch / np.sqrt(1 + 1e-3), rtol=1e-12)
    e.training.value = True
    flat = e.output.reshape(-1, len(bn_widgets.CHANNELS))
    np.testing.assert_allclose(flat.mean(axis=0), 0.0, atol=1e-12)
    variance = e.batch.reshape(flat.shape).var(axis=0)
    np.testing.assert_allclose(flat.std(axis=0), np.sqrt(variance / (variance + 1e-3)), rtol=1e-9)
    e.step.value = 150
    assert (e.moving_mean == e.mean_curve[150]).all() and (e.moving_variance == e.variance_curve[150]).all()
    assert (e.batch == e.data.batch(150, 16)).all()


def test_explorer_moving_statistics_approach_the_data(bn_explorer):
    e = bn_explorer
    e.momentum.value, e.batch_size.value, e.step.value = 0.9, 64, 200      # 0.9 ** 200: the start is forgotten
    np.testing.assert_allclose(e.moving_mean, e.data.data_mean, rtol=0.1, atol=0.01)
    np.testing.assert_allclose(e.moving_variance, e.data.data_variance, rtol=0.25)
    e.batch_size.value = 1                                   # one crop: the variance between crops is never seen
    assert e.moving_variance[-1] < 0.75 * e.data.data_variance[-1]


# --- chapter 9's exercises (kbook/exercises/batch_normalization.py) ------------------------------

def test_non_trainable_params():
    assert ex.non_trainable_params(128).status == CORRECT
    assert ex.non_trainable_params(128.0).status == CORRECT
    assert ex.non_trainable_params(None).status == TODO
    for answer, hint in [(256, "all four"), (64, "a mean and a variance"), (0, "non-trainable"), (True, "Which of"),
                         ("many", "a number")]:
        verdict = ex.non_trainable_params(answer)
        assert verdict.status == WRONG and hint in verdict.message, (answer, verdict)


def test_non_trainable_params_agrees_with_the_layer():
    layer = BatchNormalization()
    layer.build((2, 5, 5, ex.CHANNELS))
    assert ex.non_trainable_params(sum(w.size for w in layer.non_trainable_weights)).status == CORRECT


def test_inference_output_agrees_with_the_layer():
    p = ex.INFERENCE
    layer = BatchNormalization(epsilon=p["epsilon"], dtype="float64")
    layer.build((1, 1))
    layer.set_weights([np.array([p[k]]) for k in ("gamma", "beta", "moving_mean", "moving_variance")])
    value = float(layer(np.array([[p["x"]]]), training=False)[0, 0])
    assert ex.inference_output(value).status == CORRECT
    assert ex.inference_output(np.float32(value)).status == CORRECT


def test_inference_output_names_the_mistake():
    assert ex.inference_output(None).status == TODO
    for answer, hint in [(8.5, "divides by the variance"), (4.0, "beta is missing"), (2.5, "gamma is missing"),
                         (2 / np.sqrt(0.249) + 0.5, "epsilon is missing"), (0.5, "moving_mean and moving_variance"),
                         (5.0, "beta is added after gamma"), (3.0, "y = gamma")]:
        verdict = ex.inference_output(answer)
        assert verdict.status == WRONG and hint in verdict.message, (answer, verdict)


def test_steps_to_cover_agrees_with_the_layer():
    layer = BatchNormalization(momentum=ex.MOMENTUM, dtype="float64")
    x = np.full((2, 1), 10.0)                 # batch mean 10: the moving mean goes 0 -> 10
    steps = 0
    while True:
        layer(x, training=True)
        steps += 1
        if layer.moving_mean[0] >= 9.0:
            break
    assert ex.steps_to_cover(steps).status == CORRECT
    for answer, hint in [(steps - 1, "One short"), (90, "remaining"), (100, "63%"), (22, "0.9's answer"),
                         (229.1, "whole number"), (None, "")]:
        verdict = ex.steps_to_cover(answer)
        assert verdict.status == (TODO if answer is None else WRONG) and hint in verdict.message, (answer, verdict)


def test_batch_norm_forward_accepts_the_layers_computation_and_in_place_functions():
    def with_the_layer(x, gamma, beta, epsilon):
        layer = BatchNormalization(epsilon=epsilon, dtype="float64")
        layer.build(x.shape)
        layer.set_weights([gamma, beta, np.zeros_like(gamma), np.ones_like(gamma)])
        return layer(x, training=True)

    def in_place(x, gamma, beta, epsilon):             # modifies its arguments: the checker passes copies
        x -= x.mean(axis=(0, 1, 2))
        x /= np.sqrt(x.var(axis=(0, 1, 2)) + epsilon)
        gamma *= 1.0
        return gamma * x + beta

    assert ex.batch_norm_forward(with_the_layer).status == CORRECT
    assert ex.batch_norm_forward(in_place).status == CORRECT
    assert ex.batch_norm_forward(lambda x, g, b, e: None).status == TODO


@pytest.mark.parametrize("mistake, hint", [
    (lambda x, g, b, e: g * (x - x.mean((0, 1, 2))) / np.sqrt(x.var((0, 1, 2), ddof=1) + e) + b, "ddof=1"),
    (lambda x, g, b, e: g * (x - x.mean()) / np.sqrt(x.var() + e) + b, "one mean and one variance"),
    (lambda x, g, b, e: g * (x - x.mean((1, 2, 3), keepdims=True)) / np.sqrt(x.var((1, 2, 3), keepdims=True) + e) + b,
     "LayerNormalization"),
    (lambda x, g, b, e: g * (x - x.mean((1, 2), keepdims=True)) / np.sqrt(x.var((1, 2), keepdims=True) + e) + b,
     "instance normalisation"),
    (lambda x, g, b, e: g * (x - x.mean((0, 1, 2))) / np.sqrt(x.var((0, 1, 2))) + b, "epsilon is missing"),
    (lambda x, g, b, e: g * (x - x.mean((0, 1, 2))) / (np.sqrt(x.var((0, 1, 2))) + e) + b, "inside the square root"),
    (lambda x, g, b, e: (x - x.mean((0, 1, 2))) / np.sqrt(x.var((0, 1, 2)) + e), "gamma and beta are not applied"),
    (lambda x, g, b, e: x, "Per channel"),
    (lambda x, g, b, e: 1 / 0, "ZeroDivisionError"),
])
def test_batch_norm_forward_names_the_mistake(mistake, hint):
    verdict = ex.batch_norm_forward(mistake)
    assert verdict.status == WRONG and hint in verdict.message, verdict


def test_checkers_do_not_reveal_the_answer_in_their_hints():
    assert "128" not in ex.non_trainable_params(64).message
    assert "4.5" not in ex.inference_output(4.0).message
    assert "230" not in ex.steps_to_cover(100).message
