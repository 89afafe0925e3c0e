"""``Input`` and symbolic tensors: how the Functional API describes a network before any data.

``Input(shape=(28, 28))`` returns a :class:`KerasTensor`: no numbers, only a shape
``(None, 28, 28)`` (``None`` is the batch, unknown until data comes) and a dtype.
Calling a layer on a KerasTensor does not compute anything.  The layer

1. builds its weights from the shape (``Dense`` now knows its kernel is (784, 10)),
2. works out the output shape (``compute_output_shape``), and
3. writes a :class:`Node` — "this layer was called on these tensors and made these" —
   and returns new KerasTensors that remember it (``_keras_history``).

Following ``_keras_history`` back from the outputs to the inputs gives the whole graph:
that is what ``kbook.models.Model(inputs=..., outputs=...)`` does.
"""
import itertools

import numpy as np

from kbook import tape
from kbook.layers.base import Layer, flatten, map_structure, unique_name

__all__ = ["Input", "InputLayer", "KerasTensor", "Node"]

_tracing = []  # non-empty while a composite layer's call runs on KerasTensors for shapes only
_tensor_count = [0]
_node_count = itertools.count()


class KerasTensor:
    """A symbolic tensor: a shape (``None`` for the batch) and a dtype, but no values.

    ``_keras_history`` is ``(layer, node_index, tensor_index)``: which call of which
    layer made it (``None`` for a tensor made while only tracing shapes).
    """

    _kbook_symbolic = True

    def __init__(self, shape, dtype="float32", name=None):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = dtype
        if name is None:
            name = "keras_tensor" if _tensor_count[0] == 0 else f"keras_tensor_{_tensor_count[0]}"
            _tensor_count[0] += 1
        self.name = name
        self._keras_history = None

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"

    def __array__(self, *args, **kwargs):
        raise TypeError(
            f"{self!r} is symbolic: it has a shape but no values, so NumPy cannot compute with "
            "it. Inside a Functional model, use kbook layers (Add, Multiply, Activation, ...); "
            "to compute, call the model on data."
        )

    def __bool__(self):
        raise TypeError(f"{self!r} is symbolic; it has no truth value.")


class Node:
    """One call of a layer on KerasTensors: the edge list of the Functional graph."""

    def __init__(self, layer, inputs, outputs):
        self.layer = layer
        self.inputs = inputs            # the structure the layer was called on
        self.outputs = outputs          # the structure it returned
        self.input_tensors = flatten(inputs) if inputs is not None else []
        self.output_tensors = flatten(outputs)
        self.is_input = isinstance(layer, InputLayer)
        self.serial = next(_node_count)  # creation order: a valid order to run the graph in

    @property
    def parent_nodes(self):
        """The nodes that made this node's inputs."""
        parents = []
        for t in self.input_tensors:
            layer, node_index, _ = t._keras_history
            parents.append(layer._inbound_nodes[node_index])
        return parents


class InputLayer(Layer):
    """The layer behind ``Input``: it has no weights and its only node has no inputs."""

    def __init__(self, shape=None, batch_size=None, dtype=None, name=None, batch_shape=None, **kwargs):
        super().__init__(name=name or unique_name("input_layer"), dtype=dtype or "float32", **kwargs)
        if batch_shape is None:
            if shape is None:
                raise ValueError("You must pass a `shape` argument to `Input`.")
            if isinstance(shape, (int, np.integer)):
                shape = (shape,)
            try:
                shape = tuple(shape)
            except TypeError:
                raise TypeError(f"Input '{self.name}': `shape` must be a tuple of ints, got {shape!r}.") from None
            batch_shape = (batch_size,) + shape
        for d in batch_shape[1:]:
            if d is not None and (not isinstance(d, (int, np.integer)) or isinstance(d, bool) or d < 0):
                raise ValueError(f"Input '{self.name}': `shape` must hold non-negative ints or None, "
                                 f"got {tuple(batch_shape[1:])!r}.")
        self.batch_shape = tuple(batch_shape)
        self.built = True
        self.output = KerasTensor(self.batch_shape, self.dtype, name=self.name)
        node = Node(self, None, self.output)
        self._inbound_nodes.append(node)
        self.output._keras_history = (self, 0, 0)
        self._build_shape = self.batch_shape

    def call(self, x, training=None):
        return x

    def backward(self, dy):
        return dy

    def compute_output_shape(self, input_shape):
        return self.batch_shape

    def get_config(self):
        return {"batch_shape": self.batch_shape, "dtype": self.dtype, "name": self.name}


def Input(shape=None, batch_size=None, dtype=None, name=None, batch_shape=None):
    """A symbolic input of shape ``(batch_size, *shape)``: the start of a Functional model.

    Args:
        shape: the shape of ONE sample, without the batch axis: ``(28, 28)`` for
            28x28 grayscale images, ``(224, 224, 3)`` for RGB ones (height, width,
            channels).
        batch_size: fixed batch size, or ``None`` (any).
        dtype: ``"float32"`` (default) or ``"float64"``; data given to the model is cast to it.
        name: the name of the input (``input_layer``, ``input_layer_1``, ...).

    Example:
        >>> x = Input(shape=(28, 28))
        >>> x.shape
        (None, 28, 28)
    """
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, name=name,
                      batch_shape=batch_shape).output


def _check_all_symbolic(layer, inputs):
    if not all(tape.is_symbolic(t) for t in flatten(inputs)):
        raise ValueError(
            f"Layer '{layer.name}': all inputs must be symbolic (from `Input`) or all arrays; "
            "got a mix. Use Input() for every input of a Functional model."
        )


def call_symbolic(layer, inputs, training=None, kwargs=None):
    """Call ``layer`` on KerasTensors: build it, compute output shapes, record a Node."""
    _check_all_symbolic(layer, inputs)
    shapes = map_structure(lambda t: t.shape, inputs)
    if not layer.built:
        layer._check_input_spec(shapes)
        layer.build(shapes)
        layer.built = True
        layer._build_shape = shapes
    layer._check_input_spec(shapes)
    outputs = _output_tensors(layer, inputs, shapes, training, kwargs or {})
    if _tracing:
        return outputs
    node = Node(layer, inputs, outputs)
    layer._inbound_nodes.append(node)
    node_index = len(layer._inbound_nodes) - 1
    for k, t in enumerate(node.output_tensors):
        t._keras_history = (layer, node_index, k)
    return outputs


def _output_tensors(layer, inputs, shapes, training, kwargs):
    if type(layer).compute_output_shape is not Layer.compute_output_shape:
        out_shape = layer.compute_output_shape(shapes)
        if isinstance(out_shape, list):
            return [KerasTensor(s, layer.dtype) for s in out_shape]
        return KerasTensor(out_shape, layer.dtype)
    # A layer made of layers (or a model): run its call on the symbolic tensors, with
    # the sublayers only tracing shapes; the graph gets one node for the whole layer.
    _tracing.append(True)
    try:
        if "training" in kwargs or _accepts_training(layer):
            kwargs = {**kwargs, "training": training}
        traced = layer.call(_cast_symbolic(layer, inputs), **kwargs)
    finally:
        _tracing.pop()
    return map_structure(lambda t: KerasTensor(t.shape, t.dtype), traced)


def _accepts_training(layer):
    from kbook.layers.base import _call_accepts_training

    return _call_accepts_training(type(layer))


def _cast_symbolic(layer, inputs):
    """What ``call`` sees: fresh KerasTensors in the layer's dtype (as data would be cast)."""
    if getattr(layer, "_keeps_input_dtypes", False):
        return inputs
    return map_structure(lambda t: KerasTensor(t.shape, layer.dtype), inputs)
