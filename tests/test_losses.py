"""kbook.losses: every value and every dL/dy_pred equal to tf.keras's (through tf.GradientTape), Keras's names, clear errors."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kbook import losses
from kbook.check import TOLERANCES, relative_error

EPS = 1e-7
CLASSES = {"mse": losses.MeanSquaredError, "mae": losses.MeanAbsoluteError, "bce": losses.BinaryCrossentropy,
           "cce": losses.CategoricalCrossentropy, "scce": losses.SparseCategoricalCrossentropy}


def error(ours, theirs):
    """relative_error measured against the largest value compared (loss values: no floor of 1 needed,
    as a loss is a mean of non-negative terms and cancels nothing)."""
    theirs = np.asarray(theirs, dtype=np.float64)
    scale = np.max(np.abs(theirs), initial=0.0) or 1.0
    return relative_error(np.asarray(ours, dtype=np.float64) / scale, theirs / scale)


def keras_loss(tf, loss, dtype, **kwargs):
    """The twin Keras loss: same class, same config, computing in y_pred's dtype."""
    return getattr(tf.keras.losses, type(loss).__name__)(**{**loss.get_config(), **kwargs}, dtype=dtype)


def keras_value_and_gradient(tf, loss, y_true, y_pred):
    """Keras's value, its gradient through GradientTape, and how many per-sample losses it averaged."""
    twin = keras_loss(tf, loss, y_pred.dtype.name)
    p = tf.constant(y_pred)
    with tf.GradientTape() as tape:
        tape.watch(p)
        value = twin(tf.constant(y_true), p)
    samples = np.size(keras_loss(tf, loss, y_pred.dtype.name, reduction=None)(y_true, y_pred))
    return value.numpy(), tape.gradient(value, p).numpy(), samples


def assert_matches_keras(tf, loss, y_true, y_pred):
    """Value and gradient within the project tolerance; returns the two errors.

    The gradient is compared times the number of samples, undoing the mean's 1/N: what remains
    is each sample's derivative, whose terms are of size ~1.  Where they cancel (sigmoid(x) - y
    with both near 0.7) float32 keeps a few ulps *of those terms*, which relative_error's floor of
    1 accepts, as for the layers.
    """
    value, grad = loss(y_true, y_pred), loss.gradient(y_true, y_pred)
    k_value, k_grad, samples = keras_value_and_gradient(tf, loss, y_true, y_pred)
    tol = TOLERANCES[y_pred.dtype.name]
    assert isinstance(value, float)
    assert grad.shape == y_pred.shape and grad.dtype == y_pred.dtype
    errors = error(value, k_value), relative_error(grad * samples, k_grad * samples)
    assert errors[0] <= tol and errors[1] <= tol, (loss, errors, grad, k_grad)
    return errors


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def make_case(kind, from_logits, shape, scale, soft_labels, rng):
    """(y_true, y_pred) for one loss: labels of the right kind; logits, or probabilities that reach the clip."""
    classes = shape[-1]
    logits = rng.standard_normal(shape) * scale
    if kind in ("mse", "mae"):
        return rng.standard_normal(shape), logits
    if from_logits:
        y_pred = logits
    elif kind == "bce":
        y_pred = 1 / (1 + np.exp(-logits))  # scale 30: many are 0, 1, or within 1e-7 of them
    else:  # normalised rows (peaked when scale is large) or rows that do not sum to 1
        y_pred = softmax(logits) if rng.random() < 0.5 else rng.random(shape) * 2
    if kind == "bce":
        y_true = rng.random(shape) if soft_labels else rng.integers(0, 2, shape).astype(float)
    elif kind == "cce":
        y_true = rng.dirichlet(np.ones(classes), shape[:-1]) if soft_labels else np.eye(classes)[
            rng.integers(0, classes, shape[:-1])]
    else:
        y_true = rng.integers(0, classes, shape[:-1])
        if soft_labels:  # the (N, 1) form of the labels
            y_true = y_true[..., None]
    return y_true, y_pred


@pytest.mark.filterwarnings("ignore:In loss categorical_crossentropy")  # classes=1: Keras and kbook both warn
@pytest.mark.filterwarnings("ignore:You are using a softmax over axis")
@given(
    kind=st.sampled_from(sorted(CLASSES)),
    from_logits=st.booleans(),
    label_smoothing=st.sampled_from([0.0, 0.1, 0.5, 1.0]),
    shape=st.lists(st.integers(1, 5), min_size=1, max_size=3),
    scale=st.sampled_from([1.0, 4.0, 30.0]),
    soft_labels=st.booleans(),
    dtype=st.sampled_from(["float32", "float64"]),
    seed=st.integers(0, 2**16),
)
@settings(max_examples=120)  # about 20 ms each
def test_loss_matches_keras(tf, kind, from_logits, label_smoothing, shape, scale, soft_labels, dtype, seed):
    rng = np.random.default_rng(seed)
    if kind == "scce":  # labels need a batch axis; one class of rank >= 3 is an error in Keras too
        shape = (shape if len(shape) > 1 else [2] + shape)[:-1] + [max(shape[-1], 2)]
    y_true, y_pred = make_case(kind, from_logits, tuple(shape), scale, soft_labels, rng)
    kwargs = {}
    if kind in ("bce", "cce", "scce"):
        kwargs["from_logits"] = from_logits
    if kind in ("bce", "cce"):
        kwargs["label_smoothing"] = label_smoothing
    assert_matches_keras(tf, CLASSES[kind](**kwargs), y_true, y_pred.astype(dtype))


# --- the clip: probabilities at and near 0 and 1 --------------------------------------------------

# Exactly on the bounds, just inside, just outside, beyond [0, 1], and ordinary values.
EDGES = np.array([0.0, EPS, 1 - EPS, 1.0, 2e-7, 1 - 2e-7, 5e-8, 1 - 5e-8, -0.5, 1.5, 0.3, 0.7])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_binary_crossentropy_at_the_clip(tf, dtype, label_smoothing):
    pairs = EDGES.reshape(-1, 2)
    y_pred = np.concatenate([pairs, pairs[:, ::-1]]).astype(dtype)  # every value against both labels
    y_true = np.tile([1.0, 0.0], (len(y_pred), 1))
    loss = losses.BinaryCrossentropy(label_smoothing=label_smoothing)
    assert_matches_keras(tf, loss, y_true, y_pred)
    grad = loss.gradient(y_true, y_pred)
    eps = np.asarray(EPS, dtype)
    outside = (y_pred < eps) | (y_pred > np.asarray(1 - EPS, dtype))
    assert np.all(grad[outside] == 0) and np.all(grad[~outside] != 0)  # the bounds themselves pass the gradient


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.3])
def test_categorical_crossentropy_at_the_clip(tf, dtype, label_smoothing):
    # Rows whose sum is exact in any order (one or two nonzero entries, or binary fractions), so that
    # y_pred / sum lands exactly on the bounds in TF as in NumPy.
    y_pred = np.array([[EPS, 0.0, 1 - EPS], [0.0, 1.0, 0.0], [0.0, 0.0, 3.0], [0.25, 0.5, 0.25],
                       [5e-8, 1 - 5e-8, 0.0], [2e-7, 0.0, 1 - 2e-7], [1e-30, 1.0, 0.0]], dtype)
    y_true = np.eye(3)[[0, 2, 1, 1, 0, 2, 0]]
    assert_matches_keras(tf, losses.CategoricalCrossentropy(label_smoothing=label_smoothing), y_true, y_pred)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sparse_categorical_crossentropy_at_the_clip(tf, dtype):
    y_pred = EDGES.reshape(-1, 3).astype(dtype)  # rows that do not sum to 1: Keras's softmax renormalises
    for labels in ([0, 1, 2, 0], [[2], [0], [1], [1]]):
        assert_matches_keras(tf, losses.SparseCategoricalCrossentropy(), np.array(labels), y_pred)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_extreme_logits_stay_finite_and_match(tf, dtype, label_smoothing):
    logits = np.array([[1000.0, -1000.0, 0.0], [-80.0, 80.0, 79.0], [30.0, 30.0, -30.0], [1e-3, 0.0, -1e-3]], dtype)
    onehot = np.eye(3)[[1, 1, 0, 2]]
    for loss, y_true in [(losses.BinaryCrossentropy(from_logits=True, label_smoothing=label_smoothing), onehot),
                         (losses.CategoricalCrossentropy(from_logits=True, label_smoothing=label_smoothing), onehot),
                         (losses.SparseCategoricalCrossentropy(from_logits=True), np.array([1, 1, 0, 2]))]:
        assert_matches_keras(tf, loss, y_true, logits)
        assert np.isfinite(loss(y_true, logits)) and np.all(np.isfinite(loss.gradient(y_true, logits)))


def test_categorical_from_logits_gradient_is_tensorflows_kernel(tf):
    """With labels that do not sum to 1, TF's fused kernel returns softmax - y_true, not the derivative."""
    logits = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]])
    y_true = np.array([[0.0, 0.0, 0.0], [0.0, 2.0, 0.0]])
    loss = losses.CategoricalCrossentropy(from_logits=True)
    assert_matches_keras(tf, loss, y_true, logits)
    assert loss(y_true[:1], logits[:1]) == 0.0
    assert np.allclose(loss.gradient(y_true[:1], logits[:1]), softmax(logits[:1]))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("from_logits", [False, True])
def test_categorical_axis_1_smooths_with_the_last_axis_size(tf, dtype, from_logits):
    rng = np.random.default_rng(1)
    y_true = rng.dirichlet(np.ones(4), (2, 5)).transpose(0, 2, 1)  # classes on axis 1 (4), last axis 5
    y_pred = rng.random((2, 4, 5)).astype(dtype)
    loss = losses.CategoricalCrossentropy(from_logits=from_logits, label_smoothing=0.4, axis=1)
    assert_matches_keras(tf, loss, y_true, y_pred)
    if from_logits:  # Keras divides by the last axis's size (5), not the classes' (4)
        log_p = y_pred - np.log(np.exp(y_pred.astype(np.float64)).sum(axis=1, keepdims=True))
        smoothed = y_true * 0.6 + 0.4 / 5
        assert loss(y_true, y_pred) == pytest.approx(-(smoothed * log_p).sum(axis=1).mean(), rel=1e-5)


@pytest.mark.parametrize("name, y_true_shape, y_pred_shape", [
    ("mse", (6,), (6, 1)), ("mse", (6, 1), (6,)), ("mae", (3, 4, 1), (3, 4)), ("bce", (6,), (6, 1)),
    ("bce", (6, 1), (6,)), ("sparse_categorical_crossentropy", (6, 1), (6, 3)), ("mse", (5,), (5,)),
])
def test_keras_rank_rule_for_targets(tf, name, y_true_shape, y_pred_shape):
    rng = np.random.default_rng(2)
    y_pred = rng.random(y_pred_shape)
    y_true = rng.integers(0, 2, y_true_shape).astype(float)
    assert_matches_keras(tf, losses.get(name), y_true, y_pred)


def test_known_values_by_hand():
    y_true, y_pred = np.array([[1.0], [0.0]]), np.array([[0.9], [0.2]])
    assert losses.get("bce")(y_true, y_pred) == pytest.approx(-(np.log(0.9) + np.log(0.8)) / 2, rel=1e-15)
    assert losses.get("mse")(y_true, y_pred) == pytest.approx((0.01 + 0.04) / 2, rel=1e-15)
    assert losses.get("mae")(y_true, y_pred) == pytest.approx((0.1 + 0.2) / 2, rel=1e-15)
    assert losses.get("mae").gradient(np.ones((1, 2)), np.ones((1, 2))).tolist() == [[0.0, 0.0]]  # sign(0) = 0


def test_dtype_is_kept_and_lists_work():
    y32 = np.array([[0.2, 0.8]], np.float32)
    assert losses.get("categorical_crossentropy").gradient([[0, 1]], y32).dtype == np.float32
    assert losses.get("mse").gradient([[1, 2]], [[0, 0]]).dtype == np.float64  # ints: computed in float64
    assert isinstance(losses.get("mse")([1.0, 2.0], [1.5, 2.0]), float)


def test_one_class_categorical_warns_like_keras():
    with pytest.warns(SyntaxWarning, match="Consider using 'binary_crossentropy'"):
        losses.CategoricalCrossentropy()(np.ones((2, 1)), np.full((2, 1), 0.5))


# --- names -----------------------------------------------------------------------------------------

def test_every_name_resolves_as_in_keras(tf):
    from keras.src.losses import ALL_OBJECTS_DICT as KERAS

    for name, cls in losses.ALL_OBJECTS_DICT.items():
        theirs = KERAS[name]
        # Keras maps a class name to the class and a function name to the function of the same loss.
        assert getattr(theirs, "__name__", None) in (cls.__name__, cls.default_name), name
        assert type(losses.get(name)) is cls
    ours = set(losses.ALL_OBJECTS_DICT)
    keras_names_for_ours = {k for k, v in KERAS.items()
                            if v.__name__ in {c.__name__ for c in losses.ALL_OBJECTS}
                            | {c.default_name for c in losses.ALL_OBJECTS}}
    assert keras_names_for_ours == ours


def test_get_passes_objects_and_classes_through():
    loss = losses.BinaryCrossentropy(from_logits=True)
    assert losses.get(loss) is loss
    assert isinstance(losses.get(losses.MeanAbsoluteError), losses.MeanAbsoluteError)
    assert losses.get(None) is None
    assert losses.get("CategoricalCrossentropy").from_logits is False


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"Could not interpret loss identifier: 'msee'.*'?mean_squared_error"):
        losses.get("msee")
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy"):
        losses.get("Mse")  # case-sensitive, as in Keras


def test_a_loss_without_gradient_is_refused():
    with pytest.raises(TypeError, match="knows its gradient"):
        losses.get(lambda y_true, y_pred: 0.0)


# --- bad input ---------------------------------------------------------------------------------------

def test_shape_mismatch_names_loss_and_shapes():
    with pytest.raises(ValueError, match=r"Loss 'mean_squared_error': `y_true` and `y_pred` must have the same "
                                         r"shape.*y_true.shape=\(4, 1\), y_pred.shape=\(4, 3\)"):
        losses.MeanSquaredError()(np.zeros((4, 1)), np.zeros((4, 3)))  # Keras would broadcast silently
    with pytest.raises(ValueError, match=r"Loss 'categorical_crossentropy'.*y_true.shape=\(4, 2\)"):
        losses.CategoricalCrossentropy().gradient(np.zeros((4, 2)), np.full((4, 3), 0.3))


@pytest.mark.parametrize("labels, message", [
    ([0, 3, 1], r"label value of 3 \(at y_true\[1\]\) which is outside the valid range of \[0, 3\)"),
    ([0, 1, -1], r"label value of -1 \(at y_true\[2\]\)"),
    ([[0], [1], [7]], r"label value of 7 \(at y_true\[2\]\)"),
    ([0.0, 1.5, 1.0], r"integer class indices; y_true\[1\] = 1\.5"),
    ([0.0, np.nan, 1.0], r"integer class indices; y_true\[1\] = nan"),
])
def test_sparse_labels_are_checked(labels, message):
    loss = losses.SparseCategoricalCrossentropy()
    with pytest.raises(ValueError, match=r"Loss 'sparse_categorical_crossentropy': .*" + message):
        loss(np.array(labels), np.full((3, 3), 1 / 3))
    with pytest.raises(ValueError, match=message):
        loss.gradient(np.array(labels), np.full((3, 3), 1 / 3))


def test_sparse_float_labels_that_are_whole_numbers_are_fine(tf):
    assert_matches_keras(tf, losses.SparseCategoricalCrossentropy(), np.array([2.0, 0.0]),
                         np.array([[0.1, 0.2, 0.7], [0.5, 0.25, 0.25]]))


def test_sparse_labels_shape_is_checked():
    with pytest.raises(ValueError, match=r"without its last \(classes\) axis.*y_true.shape=\(3, 2\)"):
        losses.SparseCategoricalCrossentropy()(np.zeros((3, 2)), np.full((3, 3), 1 / 3))


def test_non_numeric_inputs_are_type_errors():
    with pytest.raises(TypeError, match=r"Loss 'sparse_categorical_crossentropy': `y_true` must hold numbers"):
        losses.SparseCategoricalCrossentropy()(np.array(["cat", "dog"]), np.full((2, 2), 0.5))
    with pytest.raises(TypeError, match=r"Loss 'mean_absolute_error': `y_pred` must hold numbers"):
        losses.MeanAbsoluteError()([1.0], ["a"])


def test_empty_or_scalar_predictions_are_refused():
    with pytest.raises(ValueError, match=r"Loss 'mean_squared_error': `y_pred` must have at least one axis"):
        losses.MeanSquaredError()(np.zeros((0, 3)), np.zeros((0, 3)))
    with pytest.raises(ValueError, match="at least one axis"):
        losses.MeanSquaredError()(1.0, 2.0)


@pytest.mark.parametrize("value", [-0.1, 1.5, "0.1", None, True])
def test_label_smoothing_is_checked(value):
    with pytest.raises(ValueError, match=r"Loss 'binary_crossentropy': `label_smoothing` must be a number in \[0, 1\]"):
        losses.BinaryCrossentropy(label_smoothing=value)


def test_from_logits_and_axis_are_checked():
    with pytest.raises(TypeError, match=r"Loss 'categorical_crossentropy': `from_logits` must be True or False"):
        losses.CategoricalCrossentropy(from_logits="yes")
    with pytest.raises(TypeError, match=r"`axis` must be of type `int`"):
        losses.CategoricalCrossentropy(axis=True)
    with pytest.raises(ValueError, match=r"Loss 'cce': `axis`=2 is out of range for y_pred of rank 2"):
        losses.CategoricalCrossentropy(axis=2, name="cce")(np.eye(2), np.eye(2))
