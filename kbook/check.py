"""Put a kbook layer beside its tf.keras twin and prove they agree.

``check_layer(layer, x)`` builds the Keras layer of the same class from
``layer.get_config()``, copies kbook's weights into it, runs both on ``x`` and
compares: the outputs, then (through ``tf.GradientTape``) dL/dx and dL/dw for
every weight, with the same random upstream gradient dL/dy on both sides.
The result is a report that shows itself in a notebook; a mismatch raises
``CheckFailed`` so a notebook run under nbval fails.

Errors are relative to the scale of what is compared: max|kbook - keras| /
max(max|keras|, 1) (see ``relative_error`` for why the floor).
Tolerances: 1e-10 in float64 (exactness), 1e-5 in float32 (realism).
This is the only kbook module that imports TensorFlow.
"""
import html
import os

import numpy as np

from kbook import activations

TOLERANCES = {"float64": 1e-10, "float32": 1e-5}


class CheckFailed(AssertionError):
    """kbook and tf.keras disagree beyond the tolerance."""


def import_tensorflow():
    """Import TensorFlow without its start-up chatter (both variables are needed)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    import tensorflow as tf

    return tf


def relative_error(ours, theirs):
    """max|ours - theirs| / max(max|theirs|, 1): relative for values of size 1 and
    more, absolute below.

    Why the floor of 1: a result that saturates (tanh or sigmoid far from 0, a
    peaked softmax's gradient) or cancels (x - tanh(x) near 0) differs from
    TensorFlow's by a few ulps of its *inputs*.  That is tiny in absolute terms but
    large relative to a tiny output, and it is floating point working as designed,
    not a disagreement about the maths.
    """
    ours = np.asarray(ours, dtype=np.float64)
    theirs = np.asarray(theirs, dtype=np.float64)
    if ours.shape != theirs.shape:
        return np.inf
    same = (ours == theirs) | (np.isnan(ours) & np.isnan(theirs))  # inf == inf counts as agreement
    with np.errstate(invalid="ignore"):
        diff = np.where(same, 0.0, np.abs(ours - theirs))
    if diff.size == 0 or diff.max() == 0.0:
        return 0.0
    finite = np.abs(theirs[np.isfinite(theirs)])
    return float(diff.max() / max(finite.max(initial=0.0), 1.0))


class Row:
    def __init__(self, quantity, ours, theirs, tolerance):
        self.quantity = quantity
        self.shape = tuple(np.shape(theirs))
        self.shape_ok = np.shape(ours) == np.shape(theirs)
        self.error = relative_error(ours, theirs)
        self.tolerance = tolerance
        self.ok = self.shape_ok and self.error <= tolerance

    def status(self):
        if not self.shape_ok:
            return "shape differs"
        # The exact error depends on the CPU, so the report shows only the verdict.
        return f"match (<= {self.tolerance:.0e})" if self.ok else f"MISMATCH ({self.error:.1e})"


class Report:
    """The rows of one comparison; ``ok`` is True when every row matches."""

    def __init__(self, title, dtype, rows):
        self.title = title
        self.dtype = dtype
        self.rows = rows
        self.ok = all(row.ok for row in rows)
        self.max_error = max((row.error for row in rows), default=0.0)

    def _header(self):
        verdict = "identical to tf.keras" if self.ok else "DIFFERS from tf.keras"
        return f"{self.title} [{self.dtype}]: {verdict}"

    def __repr__(self):
        width = max(len(row.quantity) for row in self.rows)
        lines = [self._header()]
        for row in self.rows:
            lines.append(f"  {row.quantity:<{width}}  {str(row.shape):<18} {row.status()}")
        return "\n".join(lines)

    def _repr_html_(self):
        color = "#1a7f37" if self.ok else "#cf222e"
        cells = "".join(
            f"<tr><td><code>{html.escape(row.quantity)}</code></td><td>{row.shape}</td>"
            f"<td style='color:{'#1a7f37' if row.ok else '#cf222e'}'>{html.escape(row.status())}</td></tr>"
            for row in self.rows
        )
        return (
            f"<div><b style='color:{color}'>{html.escape(self._header())}</b>"
            f"<table><tr><th>quantity</th><th>shape</th><th>kbook vs tf.keras</th></tr>{cells}</table></div>"
        )

    def raise_if_failed(self):
        if not self.ok:
            raise CheckFailed("\n" + repr(self))
        return self


def keras_twin(layer):
    """A fresh ``keras.layers`` layer with the same class name and config as ``layer``."""
    tf = import_tensorflow()
    config = dict(layer.get_config())
    config.pop("name", None)  # Keras makes its own unique name
    cls = getattr(tf.keras.layers, type(layer).__name__, None)
    if cls is None:
        raise TypeError(f"No keras.layers.{type(layer).__name__} to compare '{layer.name}' with.")
    return cls(**config)


def _upstream_gradient(shape, dtype, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def check_layer(layer, x, seed=0, raise_on_failure=True):
    """Compare ``layer`` with its tf.keras twin on input ``x``: forward and all gradients.

    Example:
        >>> check_layer(Dense(3, activation="tanh", dtype="float64"), np.ones((4, 5)))
        Dense 'dense' [float64]: identical to tf.keras ...
    """
    tf = import_tensorflow()
    x = np.asarray(x)
    y = layer(x)
    twin = keras_twin(layer)
    twin.build(x.shape)
    twin.set_weights(layer.get_weights())

    dy = _upstream_gradient(y.shape, layer.dtype, seed)
    dx = layer.backward(dy)

    x_tf = tf.constant(x.astype(layer.dtype))
    with tf.GradientTape() as tape:
        tape.watch(x_tf)
        y_tf = twin(x_tf)
        loss = tf.reduce_sum(y_tf * tf.constant(dy))
    grads_tf = tape.gradient(loss, [x_tf] + list(twin.weights))

    tol = TOLERANCES[layer.dtype]
    rows = [Row("output y", y, y_tf.numpy(), tol),
            Row("dL/dx", dx, grads_tf[0].numpy(), tol)]
    for name, g_tf in zip(layer.weight_names, grads_tf[1:]):
        rows.append(Row(f"dL/d{name}", layer.grads.get(name), g_tf.numpy(), tol))
    report = Report(f"{type(layer).__name__} '{layer.name}'", layer.dtype, rows)
    return report.raise_if_failed() if raise_on_failure else report


def check_activation(identifier, x, seed=0, raise_on_failure=True, **kwargs):
    """Compare ``kbook.activations.get(identifier)`` with Keras's, forward and gradient.

    ``x`` keeps its dtype (float32 or float64); extra keyword arguments go to both
    functions (e.g. ``alpha=0.5`` for elu).
    """
    tf = import_tensorflow()
    x = np.asarray(x)
    dtype = x.dtype.name
    if dtype not in TOLERANCES:
        raise TypeError(f"check_activation needs a float32 or float64 array, got dtype {dtype}.")
    ours = activations.get(identifier)
    theirs = tf.keras.activations.get(identifier)
    y = ours(x, **kwargs)
    dy = _upstream_gradient(y.shape, dtype, seed)
    dx = activations.gradient(ours, x, dy, **kwargs)

    x_tf = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x_tf)
        y_tf = theirs(x_tf, **kwargs)
        loss = tf.reduce_sum(y_tf * tf.constant(dy))
    dx_tf = tape.gradient(loss, x_tf)

    tol = TOLERANCES[dtype]
    rows = [Row("output y", y, y_tf.numpy(), tol), Row("dL/dx", dx, dx_tf.numpy(), tol)]
    name = identifier if isinstance(identifier, str) else getattr(identifier, "__name__", "custom")
    report = Report(f"activation '{name}'", dtype, rows)
    return report.raise_if_failed() if raise_on_failure else report
