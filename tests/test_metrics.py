"""kbook.metrics: Keras 3's accuracies (ties, thresholds, label shapes, nan) and compile's choice for "accuracy"."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kbook import metrics


def keras_fn(tf, name):
    return getattr(tf.keras.metrics, name)


def assert_same(ours, theirs):
    theirs = np.asarray(theirs)
    assert ours.dtype == np.float32 and ours.shape == theirs.shape, (ours, theirs)
    assert np.array_equal(ours, theirs), (ours, theirs)


def coarse(rng, shape):
    """Values on a grid of quarters: ties within a row and values exactly at the 0.5 threshold are common."""
    return rng.integers(0, 5, shape) / 4


@given(
    batch=st.integers(1, 6),
    extra=st.lists(st.integers(1, 3), max_size=1),
    classes=st.integers(1, 4),
    label_form=st.sampled_from(["flat", "column"]),
    with_nan=st.booleans(),
    seed=st.integers(0, 2**16),
)
@settings(max_examples=40)
def test_accuracies_match_keras(tf, batch, extra, classes, label_form, with_nan, seed):
    rng = np.random.default_rng(seed)
    shape = (batch, *extra, classes)
    y_pred = coarse(rng, shape)
    if with_nan:
        y_pred[rng.random(shape) < 0.2] = np.nan  # TF's argmax never picks a nan
    onehot = np.eye(classes)[rng.integers(0, classes, shape[:-1])]
    labels = rng.integers(0, classes, shape[:-1])
    if label_form == "column":
        labels = labels[..., None]
    binary = rng.integers(0, 2, shape)
    assert_same(metrics.binary_accuracy(binary, y_pred), keras_fn(tf, "binary_accuracy")(binary, y_pred))
    assert_same(metrics.categorical_accuracy(onehot, y_pred), keras_fn(tf, "categorical_accuracy")(onehot, y_pred))
    assert_same(metrics.sparse_categorical_accuracy(labels, y_pred),
                keras_fn(tf, "sparse_categorical_accuracy")(labels, y_pred))


@pytest.mark.parametrize("y_true, y_pred", [
    ([1, 0, 1], [[0.5], [0.5], [0.51]]),                       # (N,) against (N, 1), exactly at the threshold
    ([[1], [0], [1]], [0.2, 0.7, 0.9]),                         # (N, 1) against (N,)
    ([[0.7], [0.0], [1.0]], [[0.9], [0.2], [0.6]]),             # a soft target never matches
    ([[True], [False]], [[0.9], [0.9]]),                        # bool targets
])
@pytest.mark.parametrize("threshold", [0.5, 0.0, 0.8])
def test_binary_accuracy_shapes_threshold_and_targets(tf, y_true, y_pred, threshold):
    y_true, y_pred = np.array(y_true), np.array(y_pred)
    assert_same(metrics.binary_accuracy(y_true, y_pred, threshold=threshold),
                tf.keras.metrics.binary_accuracy(y_true, y_pred, threshold=threshold))


def test_ties_pick_the_first_class(tf):
    y_pred = np.array([[0.5, 0.5, 0.0], [0.2, 0.4, 0.4], [np.nan, 0.1, 0.1], [np.nan, np.nan, np.nan]])
    labels = np.array([0, 1, 1, 0])
    ours = metrics.sparse_categorical_accuracy(labels, y_pred)
    assert ours.tolist() == [1.0, 1.0, 1.0, 1.0]
    assert_same(ours, tf.keras.metrics.sparse_categorical_accuracy(labels, y_pred))
    assert_same(metrics.categorical_accuracy(np.eye(3)[labels], y_pred),
                tf.keras.metrics.categorical_accuracy(np.eye(3)[labels], y_pred))


def test_sparse_labels_compare_as_numbers(tf):
    y_pred = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    labels = np.array([1.0, 0.0, 1.5])
    assert metrics.sparse_categorical_accuracy(labels, y_pred).tolist() == [1.0, 1.0, 0.0]
    assert_same(metrics.sparse_categorical_accuracy(labels, y_pred),
                tf.keras.metrics.sparse_categorical_accuracy(labels, y_pred))


# --- compile's "accuracy" ---------------------------------------------------------------------------

SHAPE_PAIRS = [
    ((8, 1), (8, 1)), ((8,), (8, 1)), ((8, 1), (8, 5)), ((8,), (8, 5)), ((8, 5), (8, 5)),
    ((8, 2), (8, 2)), ((8, 4, 1), (8, 4, 3)), ((8, 4), (8, 4, 3)), ((8, 4, 3), (8, 4, 3)), ((8, 3), (8, 1)),
    ((8,), (8,)), ((1,), (1,)),
]
KERAS_CLASS = {"BinaryAccuracy": "binary_accuracy", "SparseCategoricalAccuracy": "sparse_categorical_accuracy",
               "CategoricalAccuracy": "categorical_accuracy"}


@pytest.mark.parametrize("identifier", ["accuracy", "acc", "ACCURACY"])
@pytest.mark.parametrize("y_true_shape, y_pred_shape", SHAPE_PAIRS)
def test_resolve_accuracy_is_compiles_choice(tf, identifier, y_true_shape, y_pred_shape):
    from keras.src.trainers.compile_utils import get_metric

    theirs = get_metric(identifier, tf.zeros(y_true_shape), tf.zeros(y_pred_shape))
    assert metrics.resolve_accuracy(y_true_shape, y_pred_shape).__name__ == KERAS_CLASS[type(theirs).__name__]


def test_resolve_accuracy_ignores_the_loss_as_keras_3_does(tf):
    """A (N, 1) output is binary accuracy even when the loss is categorical: the shapes decide."""
    assert metrics.resolve_accuracy((4, 1), (4, 1)) is metrics.binary_accuracy
    assert metrics.resolve_accuracy((4, 3), (4, 3)) is metrics.categorical_accuracy
    assert metrics.resolve_accuracy((None, 1), (None, 3)) is metrics.sparse_categorical_accuracy


def test_epoch_accuracy_equals_keras_metric_over_batches(tf):
    """accuracy_per_sample summed over batches / samples = Keras's metric object after update_state."""
    from keras.src.trainers.compile_utils import get_metric

    rng = np.random.default_rng(3)
    for y_shape, p_shape in [((10, 3), (10, 3)), ((10,), (10, 4)), ((10, 1), (10, 1))]:
        y_true = (rng.integers(0, 2, y_shape) if p_shape[-1] == 1 or len(y_shape) < len(p_shape)
                  else np.eye(3)[rng.integers(0, 3, 10)])
        y_pred = coarse(rng, p_shape)
        metric = get_metric("accuracy", tf.constant(y_true[:4]), tf.constant(y_pred[:4]))
        total, count = 0.0, 0
        for batch in (slice(0, 4), slice(4, 10)):  # batches of different sizes
            metric.update_state(y_true[batch], y_pred[batch])
            per_sample = metrics.accuracy_per_sample(y_true[batch], y_pred[batch])
            total, count = total + per_sample.sum(), count + len(per_sample)
        assert total / count == pytest.approx(float(metric.result().numpy()), abs=1e-7)


def test_multi_output_binary_accuracy_counts_samples(tf):
    """Binary accuracy on (N, 3): Keras's Mean averages each sample's 3 matches, then the samples."""
    y_true = np.array([[1, 0, 1], [0, 0, 0]])
    y_pred = np.array([[0.9, 0.9, 0.9], [0.1, 0.1, 0.1]])
    assert metrics.per_sample(metrics.binary_accuracy(y_true, y_pred)).tolist() == pytest.approx([2 / 3, 1.0])
    metric = tf.keras.metrics.BinaryAccuracy()
    metric.update_state(y_true, y_pred)
    assert metrics.per_sample(metrics.binary_accuracy(y_true, y_pred)).mean() == pytest.approx(
        float(metric.result()), abs=1e-7)
    # But compile's "accuracy" on these shapes is *categorical* in Keras 3 (a multi-label trap).
    assert metrics.resolve_accuracy(y_true.shape, y_pred.shape) is metrics.categorical_accuracy


# --- bad input ---------------------------------------------------------------------------------------

def test_shape_mismatch_names_the_function():
    with pytest.raises(ValueError, match=r"binary_accuracy: `y_true` and `y_pred` must have the same shape"):
        metrics.binary_accuracy(np.zeros((4, 2)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"categorical_accuracy: .*y_true.shape=\(4, 2\)"):
        metrics.categorical_accuracy(np.zeros((4, 2)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"sparse_categorical_accuracy: .*y_true.shape=\(5,\), y_pred.shape=\(4, 3\)"):
        metrics.sparse_categorical_accuracy(np.zeros(5), np.zeros((4, 3)))


def test_non_numeric_and_bad_threshold():
    with pytest.raises(TypeError, match=r"sparse_categorical_accuracy: `y_true` must hold numbers"):
        metrics.sparse_categorical_accuracy(np.array(["a", "b"]), np.zeros((2, 3)))
    with pytest.raises(TypeError, match=r"binary_accuracy: `threshold` must be a number"):
        metrics.binary_accuracy(np.zeros(2), np.zeros(2), threshold="0.5")
    with pytest.raises(ValueError, match=r"resolve_accuracy: shapes of rank >= 1"):
        metrics.resolve_accuracy((), (3,))
