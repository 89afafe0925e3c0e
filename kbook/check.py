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


def keras_twin(layer, keep_name=False):
    """A fresh ``keras.layers`` layer with the same class name and config as ``layer``."""
    tf = import_tensorflow()
    config = dict(layer.get_config())
    if not keep_name:
        config.pop("name", None)  # Keras makes its own unique name
    cls = getattr(tf.keras.layers, type(layer).__name__, None)
    if cls is None:
        raise TypeError(f"No keras.layers.{type(layer).__name__} to compare '{layer.name}' with.")
    return cls(**config)


def _upstream_gradient(shape, dtype, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def check_layer(layer, x, seed=0, raise_on_failure=True, training=None):
    """Compare ``layer`` with its tf.keras twin on input ``x``: forward and all gradients.

    ``training`` goes to both calls (BatchNormalization uses batch statistics when True).
    A weight the output does not depend on (BatchNormalization's moving mean in training
    mode) has no gradient in TensorFlow; kbook must then have none or zeros.

    Example:
        >>> check_layer(Dense(3, activation="tanh", dtype="float64"), np.ones((4, 5)))
        Dense 'dense' [float64]: identical to tf.keras ...
    """
    tf = import_tensorflow()
    x = np.asarray(x)
    twin = keras_twin(layer)
    twin.build(x.shape)
    if not layer.built:
        layer._check_input_spec(x.shape)
        layer.build(x.shape)
        layer.built = True
    twin.set_weights(layer.get_weights())  # before the call: a training call updates state
    y = layer(x, training=training)

    dy = _upstream_gradient(y.shape, layer.dtype, seed)
    dx = layer.backward(dy)

    x_tf = tf.constant(x.astype(layer.dtype))
    with tf.GradientTape() as tape:
        tape.watch(x_tf)
        y_tf = twin(x_tf, training=training) if training is not None else twin(x_tf)
        loss = tf.reduce_sum(y_tf * tf.constant(dy))
    grads_tf = tape.gradient(loss, [x_tf] + list(twin.weights))

    tol = TOLERANCES[layer.dtype]
    rows = [Row("output y", y, y_tf.numpy(), tol),
            Row("dL/dx", dx, grads_tf[0].numpy(), tol)]
    for (owner, name, weight), g_tf in zip(layer._weight_entries(), grads_tf[1:]):
        rows.append(gradient_row(f"dL/d{name}", owner.grads.get(name), g_tf, weight, tol))
    report = Report(f"{type(layer).__name__} '{layer.name}'", layer.dtype, rows)
    return report.raise_if_failed() if raise_on_failure else report


def gradient_row(quantity, ours, theirs, weight, tol):
    """A weight-gradient row; TensorFlow's None (no dependence) is compared as zeros."""
    theirs = np.zeros(weight.shape) if theirs is None else np.asarray(theirs)
    ours = np.zeros(weight.shape) if ours is None else ours
    return Row(quantity, ours, theirs, tol)


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


# --- whole models ------------------------------------------------------------------------

def keras_model_twin(model):
    """A tf.keras model wired like ``model`` (Sequential or Functional), one twin per layer.

    A layer used twice stays one (shared) layer in the twin; a nested model becomes a
    nested twin.  Subclassed models have no recipe to copy: pass their twin to
    ``check_model``.
    """
    tf = import_tensorflow()
    from kbook.models import Functional, Sequential

    twins = {}

    def twin_of(layer):
        if id(layer) not in twins:
            if isinstance(layer, (Sequential, Functional)):
                twins[id(layer)] = keras_model_twin(layer)
            else:
                twins[id(layer)] = keras_twin(layer, keep_name=True)  # same names: same summary
        return twins[id(layer)]

    if isinstance(model, Sequential):
        layers = [twin_of(layer) for layer in model.layers]
        if model._input_layer is not None:  # an Input first: Keras casts data to its dtype, as kbook
            first = model._input_layer
            layers = [tf.keras.Input(batch_shape=(None,) + tuple(first.batch_shape[1:]), dtype=first.dtype)] + layers
        return tf.keras.Sequential(layers, name=model.name)
    if isinstance(model, Functional):
        tensors = {}
        for t in model.inputs:
            layer = t._keras_history[0]
            tensors[id(t)] = tf.keras.Input(batch_shape=t.shape, dtype=t.dtype, name=layer.name)
        nodes = sorted((n for group in model._nodes_by_depth.values() for n in group if not n.is_input),
                       key=lambda n: n.serial)  # the calls in the order they were made: same node indices
        for node in nodes:
            args = _map(lambda t: tensors[id(t)], node.inputs)
            outs = twin_of(node.layer)(args)
            for t, out in zip(node.output_tensors, _flat(outs)):
                tensors[id(t)] = out
        outputs = _map(lambda t: tensors[id(t)], model._outputs_struct)
        inputs = _map(lambda t: tensors[id(t)], model._inputs_struct)
        twin = tf.keras.Model(inputs=inputs, outputs=outputs, name=model.name)
        for layer in model.layers:  # frozen layers stay frozen
            twin_of(layer).trainable = layer.trainable
        return twin
    raise TypeError(
        f"check_model: '{model.name}' is a subclassed {type(model).__name__}; kbook cannot copy its "
        "`call`. Write the same model with tf.keras and pass it: check_model(model, x, twin=...)."
    )


def _flat(structure):
    from kbook.layers.base import flatten

    return flatten(structure)


def _map(fn, structure):
    from kbook.layers.base import map_structure

    return map_structure(fn, structure)


def check_model(model, x, twin=None, seed=0, raise_on_failure=True, training=None):
    """Compare a kbook model (or layer made of layers) with its tf.keras twin on ``x``.

    Copies kbook's weights into the twin (``twin.set_weights(model.get_weights())``: the
    weight order is Keras's), then compares every output, the gradient of every input
    and of **every** weight, with random upstream gradients, through ``tf.GradientTape``.

    Args:
        model: a kbook Sequential, Functional or subclassed model (or composite layer).
        x: the input array, or a list of arrays for several inputs.
        twin: the tf.keras model to compare with; built from ``model`` when omitted
            (Sequential and Functional only).
        training: passed to both calls.
    """
    tf = import_tensorflow()
    several_inputs = isinstance(x, (list, tuple))
    xs = [np.asarray(a) for a in (x if several_inputs else [x])]
    if not model.built:
        model(x if several_inputs else xs[0], training=False)  # build, so weights exist to copy
    if twin is None:
        twin = keras_model_twin(model)
    twin_args = [tf.constant(a) for a in xs]
    if not twin.built:
        twin(twin_args if several_inputs else twin_args[0])
    twin.set_weights(model.get_weights())

    y = model(x if several_inputs else xs[0], training=training)
    ys = _flat(y)
    dys = [_upstream_gradient(a.shape, a.dtype.name, seed + k) for k, a in enumerate(ys)]
    dxs = model.backward(dys if len(ys) > 1 else dys[0])
    dxs = list(dxs) if isinstance(dxs, list) else [dxs]

    with tf.GradientTape() as tape:
        for a in twin_args:
            tape.watch(a)
        y_tf = twin(twin_args if several_inputs else twin_args[0], training=training)
        ys_tf = _flat(y_tf)
        loss = tf.add_n([tf.reduce_sum(tf.cast(a, tf.float64) * tf.constant(d, tf.float64))
                         for a, d in zip(ys_tf, dys)])
    grads_tf = tape.gradient(loss, twin_args + list(twin.weights))

    tol = TOLERANCES[ys[0].dtype.name]
    rows = []
    for k, (a, a_tf) in enumerate(zip(ys, ys_tf)):
        rows.append(Row("output" + (f" {k}" if len(ys) > 1 else ""), a, a_tf.numpy(), tol))
    for k, (d, d_tf) in enumerate(zip(dxs, grads_tf[:len(xs)])):
        rows.append(Row("dL/dx" + (f" {k}" if len(xs) > 1 else ""), d,
                        np.zeros(xs[k].shape) if d_tf is None else d_tf.numpy(), tol))
    for entry, g_tf in zip(model._weight_entries(), grads_tf[len(xs):]):
        owner, name, weight = entry
        if model._entry_is_trainable(entry):
            rows.append(gradient_row(f"dL/d {owner.name}/{name}", owner.grads.get(name), g_tf, weight, tol))
        else:  # frozen or non-trainable: kbook must leave it without a gradient, as fit leaves it unchanged
            rows.append(gradient_row(f"dL/d {owner.name}/{name} (frozen: none)", owner.grads.get(name),
                                     None, weight, tol))
    report = Report(f"{type(model).__name__} '{model.name}'", ys[0].dtype.name, rows)
    return report.raise_if_failed() if raise_on_failure else report
