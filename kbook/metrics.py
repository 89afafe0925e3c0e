"""Accuracy, as ``keras.metrics`` computes it, and how ``compile(metrics=["accuracy"])`` picks one.

The three functions return one match (1.0) or miss (0.0) per prediction, as
Keras's functions do (float32, Keras's floatx).  ``per_sample`` then averages
every axis but the first, which is how Keras's ``Mean`` metric reduces them before
it averages over all the samples of an epoch.

Keras 3 chooses the accuracy for the string ``"accuracy"`` (or ``"acc"``, any case)
from the shapes of the targets and the predictions alone (``compile_utils.get_metric``),
not from the loss as Keras 2 did; ``resolve_accuracy`` is that rule.

Example:
    >>> y_true, y_pred = np.array([0, 2]), np.array([[0.7, 0.2, 0.1], [0.3, 0.5, 0.2]])
    >>> fn = resolve_accuracy(y_true.shape, y_pred.shape)
    >>> fn.__name__, fn(y_true, y_pred)
    ('sparse_categorical_accuracy', array([1., 0.], dtype=float32))
"""
import numbers

import numpy as np

from kbook.losses import squeeze_or_expand_to_same_rank

FLOATX = np.float32  # Keras casts matches to backend.floatx()


def _numeric(value, function, argument):
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{function}: `{argument}` must hold numbers, got dtype {array.dtype}.")
    return array


def _argmax(x):
    """argmax over the last axis as TensorFlow does it: the first largest value, nan never chosen.

    (NumPy's argmax picks the first nan instead; TF skips nans, and a row with
    nothing else gives index 0.)
    """
    if x.dtype.kind == "f" and np.isnan(x).any():
        x = np.where(np.isnan(x), -np.inf, x)
    return np.argmax(x, axis=-1)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """1.0 where (y_pred > threshold) equals y_true, else 0.0, for every prediction.

    ``y_pred`` exactly at the threshold counts as 0 (the comparison is strict), and a
    target that is not exactly 0 or 1 (say 0.7) never matches.

    Args:
        y_true: targets in {0, 1}, shaped like y_pred (or (N,) against (N, 1)).
        y_pred: probabilities (or any scores compared with ``threshold``).
        threshold: the decision boundary, default 0.5.

    Shapes: (N, ..., d) -> (N, ..., d), float32.

    Example:
        >>> binary_accuracy(np.array([[1], [0], [1]]), np.array([[0.5], [0.2], [0.7]]))[:, 0]
        array([0., 1., 1.], dtype=float32)
    """
    y_true = _numeric(y_true, "binary_accuracy", "y_true")
    y_pred = _numeric(y_pred, "binary_accuracy", "y_pred")
    if not isinstance(threshold, numbers.Real):
        raise TypeError(f"binary_accuracy: `threshold` must be a number, got {threshold!r}.")
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"binary_accuracy: `y_true` and `y_pred` must have the same shape; got "
                         f"y_true.shape={y_true.shape}, y_pred.shape={y_pred.shape}.")
    predicted = (y_pred > threshold).astype(y_true.dtype)  # Keras casts the decision to y_true's dtype
    return (y_true == predicted).astype(FLOATX)


def categorical_accuracy(y_true, y_pred):
    """1.0 where argmax(y_true) equals argmax(y_pred) over the last axis, else 0.0.

    On a tie the first largest value wins (so [0.5, 0.5, 0] predicts class 0).

    Args:
        y_true: one-hot targets (N, ..., k).
        y_pred: probabilities or logits (N, ..., k).

    Shapes: (N, ..., k) -> (N, ...), float32.

    Example:
        >>> categorical_accuracy(np.array([[0, 1, 0], [1, 0, 0]]), np.array([[0.1, 0.9, 0.0], [0.4, 0.6, 0.0]]))
        array([1., 0.], dtype=float32)
    """
    y_true = _numeric(y_true, "categorical_accuracy", "y_true")
    y_pred = _numeric(y_pred, "categorical_accuracy", "y_pred")
    if y_true.ndim == 0 or y_pred.ndim == 0 or y_true.shape != y_pred.shape:
        raise ValueError(f"categorical_accuracy: `y_true` (one-hot) and `y_pred` must have the same shape, "
                         f"of rank >= 1; got y_true.shape={y_true.shape}, y_pred.shape={y_pred.shape}.")
    return (_argmax(y_true) == _argmax(y_pred)).astype(FLOATX)


def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where the label y_true equals argmax(y_pred) over the last axis, else 0.0.

    Labels are compared as numbers, so 2.0 matches class 2 and 1.5 matches nothing.

    Args:
        y_true: class indices, (N, ...) or (N, ..., 1).
        y_pred: probabilities or logits (N, ..., k).

    Shapes: -> (N, ...), float32 (shaped like y_true, less one trailing axis of 1, as in Keras).

    Example:
        >>> sparse_categorical_accuracy(np.array([[1], [0]]), np.array([[0.1, 0.9], [0.5, 0.5]]))
        array([1., 1.], dtype=float32)
    """
    y_true = _numeric(y_true, "sparse_categorical_accuracy", "y_true")
    y_pred = _numeric(y_pred, "sparse_categorical_accuracy", "y_pred")
    labels = y_true
    if y_pred.ndim >= 1 and y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:  # (N, 1) labels
        labels = y_true[..., 0]
    if y_pred.ndim == 0 or labels.shape != y_pred.shape[:-1]:
        raise ValueError(f"sparse_categorical_accuracy: `y_true` must have y_pred's shape without its last "
                         f"(classes) axis; got y_true.shape={y_true.shape}, y_pred.shape={y_pred.shape}.")
    # Keras's last steps: back to y_true's shape, then one trailing axis of 1 dropped.
    matches = (labels == _argmax(y_pred)).astype(FLOATX).reshape(y_true.shape)
    if matches.ndim > 1 and matches.shape[-1] == 1:
        matches = matches[..., 0]
    return matches


def per_sample(matches):
    """The mean over every axis but the first: Keras's ``Mean`` metric counts samples, not predictions.

    Shapes: (N, ...) -> (N,); a scalar counts as one sample, (1,).
    """
    matches = np.asarray(matches)
    if matches.ndim == 0:
        return matches.reshape(1)
    return matches.reshape(len(matches), -1).mean(axis=1) if matches.ndim > 1 else matches


def resolve_accuracy(y_true_shape, y_pred_shape):
    """The accuracy function Keras 3's ``compile`` uses for ``metrics=["accuracy"]`` (or ``"acc"``).

    Keras looks at the shapes of the first batch only:

    * binary when the predictions have one value per sample (last axis of size 1);
    * sparse categorical when the targets have fewer axes than the predictions, or
      end in an axis of size 1 while the predictions do not;
    * categorical otherwise.

    Args:
        y_true_shape, y_pred_shape: shapes (tuples; a ``None`` size counts as unknown).

    Example:
        >>> resolve_accuracy((32, 1), (32, 1)).__name__
        'binary_accuracy'
        >>> resolve_accuracy((32,), (32, 10)).__name__
        'sparse_categorical_accuracy'
        >>> resolve_accuracy((32, 10), (32, 10)).__name__
        'categorical_accuracy'
    """
    y_true_shape, y_pred_shape = tuple(y_true_shape), tuple(y_pred_shape)
    if not y_true_shape or not y_pred_shape:
        raise ValueError(f"resolve_accuracy: shapes of rank >= 1 are needed; got y_true_shape={y_true_shape}, "
                         f"y_pred_shape={y_pred_shape}.")
    is_binary = y_pred_shape[-1] == 1
    is_sparse = len(y_true_shape) < len(y_pred_shape) or (y_true_shape[-1] == 1 and y_pred_shape[-1] != 1)
    if is_binary:
        return binary_accuracy
    if is_sparse:
        return sparse_categorical_accuracy
    return categorical_accuracy


def accuracy_per_sample(y_true, y_pred):
    """What ``metrics=["accuracy"]`` adds up for one batch: ``resolve_accuracy``'s matches, per sample.

    An epoch's accuracy is the sum of these over its batches divided by the number of samples.

    Example:
        >>> accuracy_per_sample(np.array([[1.0], [0.0]]), np.array([[0.8], [0.6]]))
        array([1., 0.], dtype=float32)
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return per_sample(resolve_accuracy(y_true.shape, y_pred.shape)(y_true, y_pred))
