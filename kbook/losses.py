"""The losses of ``keras.losses``, with their gradients: how wrong a prediction is, as one number.

A loss works in two steps, as in Keras:

1. ``call(y_true, y_pred)`` gives one loss per sample (the last axis, or ``axis``,
   is reduced: a mean for mse/mae/binary crossentropy, a sum over the classes for
   the categorical ones);
2. ``__call__`` averages those per-sample losses (Keras's default reduction,
   ``"sum_over_batch_size"``) and returns a Python float.

``gradient(y_true, y_pred)`` returns dL/dy_pred, the array ``model.backward`` starts
from.  Each formula is the derivative of the value as TensorFlow computes it, so it
equals what ``tf.GradientTape`` returns through the Keras loss, including:

* Probabilities are clipped to [1e-7, 1 - 1e-7] before the log (Keras's
  ``epsilon``).  The clip passes the gradient on where the probability lies inside
  the interval *or on its bounds*, and stops it (0) strictly outside.
* Categorical crossentropy first divides ``y_pred`` by its sum over the classes.
* Sparse categorical crossentropy takes ``log(clip(y_pred))`` as logits, so its
  softmax renormalises the clipped probabilities.
* From logits, categorical crossentropy's gradient is ``softmax(logits) - y_true``
  (TensorFlow's fused kernel), which is the true derivative only when each row of
  ``y_true`` sums to 1.

Computation keeps ``y_pred``'s precision: float32 stays float32, float64 stays
float64 (anything else is computed in float64).  Keras computes in its ``dtype``
argument instead (float32 unless given).

Example:
    >>> loss = get("binary_crossentropy")
    >>> loss(np.array([[1.0], [0.0]]), np.array([[0.9], [0.2]]))   # -(log 0.9 + log 0.8) / 2
    0.164252033486018
    >>> loss.gradient(np.array([[1.0], [0.0]]), np.array([[0.9], [0.2]]))
    array([[-0.55555556],
           [ 0.625     ]])
"""
import numbers
import warnings

import numpy as np

from kbook import activations

EPSILON = 1e-7  # keras.backend.epsilon(): how far from 0 and 1 probabilities are clipped


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _is_bool(value):
    return isinstance(value, (bool, np.bool_))


class Loss:
    """The base class: ``__call__`` averages ``call``'s per-sample losses; ``gradient`` differentiates that.

    A subclass writes ``call(y_true, y_pred)`` (per-sample losses) and
    ``sample_gradient(y_true, y_pred)`` (the derivative of each sample's loss with
    respect to that sample's ``y_pred``); the base class checks and aligns the
    arrays, and divides by the number of samples, because the mean gives each of
    them the weight 1 / n.

    Args:
        name: the loss's name, used in error messages (Keras's default name when omitted).

    Example (a loss of your own):
        >>> class MeanCubicError(Loss):
        ...     default_name = "mean_cubic_error"
        ...     def call(self, y_true, y_pred):
        ...         return np.mean(np.abs(y_pred - y_true) ** 3, axis=-1)
        ...     def sample_gradient(self, y_true, y_pred):
        ...         d = y_pred - y_true
        ...         return 3 * d * np.abs(d) / y_pred.shape[-1]
        >>> MeanCubicError()(np.zeros((2, 1)), np.full((2, 1), 2.0))
        8.0
        >>> MeanCubicError().gradient(np.zeros((2, 1)), np.full((2, 1), 2.0))[:, 0]   # 3 * 2^2 / 2 samples
        array([6., 6.])
    """

    default_name = "loss"
    axis = -1  # the axis ``call`` reduces (the features, or classes, axis)

    def __init__(self, name=None):
        self.name = name or self.default_name

    # --- what a learner calls ------------------------------------------------------------

    def __call__(self, y_true, y_pred):
        """The mean of the per-sample losses, a Python float (Keras's ``"sum_over_batch_size"``)."""
        y_true, y_pred = self._prepare(y_true, y_pred)
        return float(np.mean(self.call(y_true, y_pred)))

    def gradient(self, y_true, y_pred):
        """dL/dy_pred for L = ``self(y_true, y_pred)``: an array shaped (and typed) like ``y_pred``."""
        shape = np.shape(y_pred)
        y_true, y_pred = self._prepare(y_true, y_pred)
        n_samples = y_pred.size // y_pred.shape[self.axis]  # how many per-sample losses are averaged
        return (self.sample_gradient(y_true, y_pred) / n_samples).reshape(shape)

    def call(self, y_true, y_pred):
        raise NotImplementedError

    def sample_gradient(self, y_true, y_pred):
        raise NotImplementedError

    def get_config(self):
        return {"name": self.name, "reduction": "sum_over_batch_size"}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k not in ("name", "reduction"))
        return f"<{type(self).__name__}({args}) '{self.name}'>"

    # --- checks and Keras's shape rule ---------------------------------------------------

    def _error(self, message):
        return f"Loss '{self.name}': {message}"

    def _numeric(self, value, argument):
        array = np.asarray(value)
        if array.dtype.kind not in "biuf":
            raise TypeError(self._error(f"`{argument}` must hold numbers, got dtype {array.dtype}."))
        return array

    def _prepare(self, y_true, y_pred):
        """Numeric arrays in y_pred's float dtype, aligned by Keras's rank rule, shapes checked."""
        y_pred = self._numeric(y_pred, "y_pred")
        if y_pred.dtype not in (np.float32, np.float64):
            y_pred = y_pred.astype(np.float64)
        y_true = self._numeric(y_true, "y_true")
        if y_pred.ndim == 0 or y_pred.size == 0:
            raise ValueError(self._error(f"`y_pred` must have at least one axis and one value; "
                                         f"got y_pred.shape={y_pred.shape}."))
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        return self._check_targets(y_true, y_pred), y_pred

    def _check_targets(self, y_true, y_pred):
        if y_true.shape != y_pred.shape:
            raise ValueError(self._error(
                f"`y_true` and `y_pred` must have the same shape (a trailing axis of size 1 may be "
                f"missing on one side); got y_true.shape={y_true.shape}, y_pred.shape={y_pred.shape}."))
        return y_true.astype(y_pred.dtype, copy=False)

    def _check_from_logits(self, from_logits):
        if not _is_bool(from_logits):
            raise TypeError(self._error(f"`from_logits` must be True or False, got {from_logits!r}."))
        return bool(from_logits)

    def _check_label_smoothing(self, label_smoothing):
        if not _is_number(label_smoothing) or not 0 <= label_smoothing <= 1:
            raise ValueError(self._error(
                f"`label_smoothing` must be a number in [0, 1], got {label_smoothing!r}."))
        return float(label_smoothing)


def squeeze_or_expand_to_same_rank(y_true, y_pred):
    """Keras's rule for targets one axis short or long: labels (N,) against predictions (N, 1) and vice versa.

    When the ranks differ by one and the longer array ends in an axis of size 1,
    a rank-1 shorter array gains that axis; otherwise the longer one loses it.
    """
    if y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1:
        if y_pred.ndim == 1:
            y_pred = y_pred[:, None]
        else:
            y_true = y_true[..., 0]
    if y_pred.ndim == y_true.ndim + 1 and y_pred.shape[-1] == 1:
        if y_true.ndim == 1:
            y_true = y_true[:, None]
        else:
            y_pred = y_pred[..., 0]
    return y_true, y_pred


def _clip_probabilities(p):
    """p clipped to [eps, 1 - eps] in p's dtype, and where the clip lets the gradient through.

    TensorFlow clips with minimum(p, 1 - eps) then maximum(., eps); on a tie both
    pass the gradient to p, so the bounds themselves still get a gradient.
    """
    low, high = np.asarray(EPSILON, p.dtype), np.asarray(1.0 - EPSILON, p.dtype)
    return np.clip(p, low, high), (p >= low) & (p <= high)


# --- regression ---------------------------------------------------------------------------

class MeanSquaredError(Loss):
    """mean((y_true - y_pred)^2) over the last axis, then over the samples.

    Args:
        name: default ``"mean_squared_error"``.

    Shapes: y_true and y_pred: (N, ..., d) (or one of them (N,) against (N, 1)).

    Example:
        >>> MeanSquaredError()(np.array([[1.0, 0.0]]), np.array([[0.5, 0.5]]))
        0.25
    """

    default_name = "mean_squared_error"

    def call(self, y_true, y_pred):
        return np.mean(np.square(y_true - y_pred), axis=-1)

    def sample_gradient(self, y_true, y_pred):
        # d/dy_pred of mean over d of (y_true - y_pred)^2
        return 2 * (y_pred - y_true) / y_pred.shape[-1]


class MeanAbsoluteError(Loss):
    """mean(|y_true - y_pred|) over the last axis, then over the samples.

    The gradient of |x| at 0 is 0 (TensorFlow's sign(0)), so a perfect prediction gets none.

    Args:
        name: default ``"mean_absolute_error"``.

    Shapes: y_true and y_pred: (N, ..., d).

    Example:
        >>> MeanAbsoluteError()(np.array([[1.0, 0.0]]), np.array([[0.5, 1.0]]))
        0.75
    """

    default_name = "mean_absolute_error"

    def call(self, y_true, y_pred):
        return np.mean(np.abs(y_true - y_pred), axis=-1)

    def sample_gradient(self, y_true, y_pred):
        return np.sign(y_pred - y_true) / y_pred.shape[-1]


# --- crossentropies -----------------------------------------------------------------------

class BinaryCrossentropy(Loss):
    """-(y log p + (1 - y) log(1 - p)), averaged over the last axis, then over the samples.

    Args:
        from_logits: whether ``y_pred`` holds logits (any real number; p = sigmoid(y_pred))
            rather than probabilities in [0, 1].
        label_smoothing: in [0, 1]; the targets become y (1 - s) + s / 2, pulled towards 0.5.
        name: default ``"binary_crossentropy"``.

    Shapes: y_true and y_pred: (N, ..., d), typically (N, 1) with y_true in {0, 1}.

    Example:
        >>> bce = BinaryCrossentropy(from_logits=True)
        >>> round(bce(np.array([[0.0, 1.0]]), np.array([[-18.6, 0.51]])), 4)
        0.2352
    """

    default_name = "binary_crossentropy"

    def __init__(self, from_logits=False, label_smoothing=0.0, name=None):
        super().__init__(name)
        self.from_logits = self._check_from_logits(from_logits)
        self.label_smoothing = self._check_label_smoothing(label_smoothing)

    def _smooth(self, y_true):
        if not self.label_smoothing:
            return y_true
        return y_true * (1.0 - self.label_smoothing) + 0.5 * self.label_smoothing

    def call(self, y_true, y_pred):
        y_true = self._smooth(y_true)
        if self.from_logits:
            return np.mean(sigmoid_crossentropy_with_logits(y_true, y_pred), axis=-1)
        p, _ = _clip_probabilities(y_pred)
        return np.mean(-(y_true * np.log(p) + (1 - y_true) * np.log(1 - p)), axis=-1)

    def sample_gradient(self, y_true, y_pred):
        y_true = self._smooth(y_true)
        d = y_pred.shape[-1]
        if self.from_logits:
            return sigmoid_crossentropy_gradient(y_true, y_pred) / d
        p, passes = _clip_probabilities(y_pred)
        return (-y_true / p + (1 - y_true) / (1 - p)) * passes / d

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing}


def sigmoid_crossentropy_with_logits(labels, logits):
    """-(y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))), never overflowing (tf.nn's form).

    The same value rewritten as max(x, 0) - x y + log(1 + exp(-|x|)): exp only ever
    sees a number <= 0, and log1p keeps its precision when exp(-|x|) is tiny.
    """
    return np.maximum(logits, 0) - logits * labels + np.log1p(np.exp(-np.abs(logits)))


def sigmoid_crossentropy_gradient(labels, logits):
    """sigmoid(x) - y, the derivative of ``sigmoid_crossentropy_with_logits``, without cancellation.

    For x >> 0, sigmoid(x) rounds to nearly 1 and sigmoid(x) - 1 keeps few correct digits.
    With s = sigmoid(-|x|) = e / (1 + e), e = exp(-|x|) <= 1, the same number is
    (1 - y) - s for x >= 0 and s - y for x < 0, which is how TensorFlow's gradient adds it up.
    """
    e = np.exp(-np.abs(logits))
    s = e / (1 + e)
    return np.where(logits >= 0, (1 - labels) - s, s - labels)


class CategoricalCrossentropy(Loss):
    """-sum(y_true log p) over the classes, averaged over the samples.

    From probabilities, Keras first rescales each row of ``y_pred`` to sum to 1, then
    clips it to [1e-7, 1 - 1e-7]; from logits, log p = log_softmax(y_pred).

    Args:
        from_logits: whether ``y_pred`` holds logits rather than probabilities.
        label_smoothing: in [0, 1]; the targets become y (1 - s) + s / k, where k is the
            size of the *last* axis (Keras uses the last axis even when ``axis`` is another).
        axis: the classes axis, default -1.
        name: default ``"categorical_crossentropy"``.

    Shapes: y_true and y_pred: (N, ..., k), y_true one-hot (or any distribution).

    Example:
        >>> cce = CategoricalCrossentropy()
        >>> round(cce(np.array([[0, 1, 0], [0, 0, 1]]), np.array([[0.05, 0.95, 0], [0.1, 0.8, 0.1]])), 4)
        1.1769
    """

    default_name = "categorical_crossentropy"

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, name=None):
        super().__init__(name)
        self.from_logits = self._check_from_logits(from_logits)
        self.label_smoothing = self._check_label_smoothing(label_smoothing)
        if not isinstance(axis, (int, np.integer)) or _is_bool(axis):
            raise TypeError(self._error(f"`axis` must be of type `int`. Received: axis={axis!r}"))
        self.axis = int(axis)

    def _check_targets(self, y_true, y_pred):
        if not -y_pred.ndim <= self.axis < y_pred.ndim:
            raise ValueError(self._error(f"`axis`={self.axis} is out of range for y_pred of rank "
                                         f"{y_pred.ndim} (shape {y_pred.shape})."))
        if y_pred.shape[-1] == 1:
            warnings.warn(  # Keras's warning, and its category
                f"In loss categorical_crossentropy, expected y_pred.shape to be (batch_size, num_classes) "
                f"with num_classes > 1. Received: y_pred.shape={y_pred.shape}. Consider using "
                "'binary_crossentropy' if you only have 2 classes.", SyntaxWarning, stacklevel=4)
        return super()._check_targets(y_true, y_pred)

    def _smooth(self, y_true):
        if not self.label_smoothing:
            return y_true
        return y_true * (1.0 - self.label_smoothing) + self.label_smoothing / y_true.shape[-1]

    def _probabilities(self, y_pred):
        """y_pred / its sum over the classes: Keras makes every row a distribution first."""
        total = np.sum(y_pred, axis=self.axis, keepdims=True)
        return y_pred / total, total

    def call(self, y_true, y_pred):
        y_true = self._smooth(y_true)
        if self.from_logits:
            log_p = activations.log_softmax(y_pred, axis=self.axis)  # max-shifted: no overflow
        else:
            p, _ = _clip_probabilities(self._probabilities(y_pred)[0])
            log_p = np.log(p)
        return -np.sum(y_true * log_p, axis=self.axis)

    def sample_gradient(self, y_true, y_pred):
        y_true = self._smooth(y_true)
        if self.from_logits:
            return activations.softmax(y_pred, axis=self.axis) - y_true
        q, total = self._probabilities(y_pred)
        p, passes = _clip_probabilities(q)
        d_q = -y_true / p * passes
        # q = y_pred / total, and total depends on every y_pred of the row:
        # dq_j/dy_i = ([i == j] - q_j) / total.
        return (d_q - np.sum(d_q * q, axis=self.axis, keepdims=True)) / total

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis}


class SparseCategoricalCrossentropy(Loss):
    """Categorical crossentropy with integer labels: -log p[label], averaged over the samples.

    From probabilities, Keras takes log(clip(y_pred)) as logits and applies
    log_softmax, so a row that does not sum to 1 is renormalised (after clipping).

    Args:
        from_logits: whether ``y_pred`` holds logits rather than probabilities.
        name: default ``"sparse_categorical_crossentropy"``.

    Shapes: y_true: (N, ...) or (N, ..., 1) integer class indices in [0, k);
    y_pred: (N, ..., k).

    Example:
        >>> scce = SparseCategoricalCrossentropy()
        >>> round(scce(np.array([1, 2]), np.array([[0.05, 0.95, 0], [0.1, 0.8, 0.1]])), 4)
        1.1769
    """

    default_name = "sparse_categorical_crossentropy"

    def __init__(self, from_logits=False, name=None):
        super().__init__(name)
        self.from_logits = self._check_from_logits(from_logits)

    def _check_targets(self, labels, y_pred):
        if labels.ndim == y_pred.ndim and labels.shape[-1] == 1:  # (N, 1) labels
            labels = labels[..., 0]
        if labels.shape != y_pred.shape[:-1]:
            raise ValueError(self._error(
                f"`y_true` must have y_pred's shape without its last (classes) axis; got "
                f"y_true.shape={labels.shape}, y_pred.shape={y_pred.shape}."))
        if labels.dtype.kind == "f":
            whole = np.isfinite(labels) & (labels == np.floor(labels))
            if not whole.all():
                where = tuple(int(i) for i in np.argwhere(~whole)[0])
                raise ValueError(self._error(
                    f"`y_true` must hold integer class indices; y_true{list(where)} = {labels[where].item()!r} "
                    "is not a whole number."))
        classes = y_pred.shape[-1]
        outside = (labels < 0) | (labels >= classes)
        if outside.any():
            where = tuple(int(i) for i in np.argwhere(outside)[0])
            raise ValueError(self._error(
                f"Received a label value of {labels[where]:g} (at y_true{list(where)}) which is outside "
                f"the valid range of [0, {classes}): y_pred has {classes} classes."))
        return labels.astype(np.int64)

    def _logits(self, y_pred):
        if self.from_logits:
            return y_pred, None
        p, passes = _clip_probabilities(y_pred)
        return np.log(p), (p, passes)

    def call(self, labels, y_pred):
        logits, _ = self._logits(y_pred)
        log_p = activations.log_softmax(logits, axis=-1)
        return -np.take_along_axis(log_p, labels[..., None], axis=-1)[..., 0]

    def sample_gradient(self, labels, y_pred):
        logits, clipped = self._logits(y_pred)
        one_hot = labels[..., None] == np.arange(y_pred.shape[-1])
        d_logits = activations.softmax(logits, axis=-1) - one_hot
        if clipped is None:
            return d_logits
        p, passes = clipped
        return d_logits / p * passes  # d log(p) / dp = 1 / p, inside the clip

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits}


# --- lookup -------------------------------------------------------------------------------

ALL_OBJECTS = (MeanSquaredError, MeanAbsoluteError, BinaryCrossentropy, CategoricalCrossentropy,
               SparseCategoricalCrossentropy)
# Keras's names (keras.losses.ALL_OBJECTS_DICT): the class names, the function names, and
# the short aliases in both cases.  Lookup is case-sensitive, as in Keras.
ALL_OBJECTS_DICT = {cls.__name__: cls for cls in ALL_OBJECTS}
ALL_OBJECTS_DICT.update({cls.default_name: cls for cls in ALL_OBJECTS})
ALL_OBJECTS_DICT.update({"mse": MeanSquaredError, "MSE": MeanSquaredError,
                         "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
                         "bce": BinaryCrossentropy, "BCE": BinaryCrossentropy})


def get(identifier):
    """A loss object from a Keras name, a kbook loss class, or a kbook loss (returned as is).

    ``None`` gives ``None``, as in Keras.  A name gives the loss with its default
    arguments (``get("mse")`` is ``MeanSquaredError()``).

    Example:
        >>> get("sparse_categorical_crossentropy")
        <SparseCategoricalCrossentropy(from_logits=False) 'sparse_categorical_crossentropy'>
    """
    if identifier is None or isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        if identifier not in ALL_OBJECTS_DICT:
            raise ValueError(f"Could not interpret loss identifier: {identifier!r}. kbook knows "
                             f"{', '.join(sorted(ALL_OBJECTS_DICT))}.")
        return ALL_OBJECTS_DICT[identifier]()
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    raise TypeError(f"Could not interpret loss identifier: {identifier!r}. kbook needs a loss that knows its "
                    "gradient: a name such as 'mse', or a kbook.losses.Loss (class or instance).")
