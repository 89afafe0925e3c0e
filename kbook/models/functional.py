"""``Functional``: the model ``Model(inputs=..., outputs=...)`` returns (Keras's Functional API).

Making the model: start from the outputs and follow each tensor's ``_keras_history``
back to the layer call (the :class:`~kbook.layers.input_layer.Node`) that made it, then
to that call's inputs, until the ``Input`` tensors — the notes' "output부터 역으로"
(backwards from the output).  Every node gets a *depth*, its distance from the
outputs; running the model is visiting the nodes from the deepest (the inputs) to
depth 0 (the outputs), so each layer runs after everything it needs.

This is Keras 3's ``map_graph`` (keras/src/ops/function.py), with the same ordering
rules, so ``model.layers``, the weight order and ``summary()`` come out as in Keras.
"""
import collections

from kbook import tape
from kbook.layers.base import flatten, map_structure, unique_name
from kbook.layers.input_layer import InputLayer
from kbook.models.model import Model


class Functional(Model):
    """A model given by its input and output tensors.

    Args:
        inputs: a KerasTensor from ``Input``, or a list (or dict) of them.
        outputs: KerasTensor(s) computed from ``inputs`` by calling layers.
        name: the model's name (``functional``, ``functional_1``, ...).

    Example (the notes' ex1):
        >>> input_tensor = Input(shape=(28, 28))
        >>> x = Flatten()(input_tensor)
        >>> x = Dense(units=10, activation="sigmoid")(x)
        >>> output = Dense(units=20, activation="sigmoid")(x)
        >>> model = Model(inputs=input_tensor, outputs=output)
        >>> model(np.zeros((5, 28, 28))).shape
        (5, 20)
    """

    _keeps_input_dtypes = True  # data is cast to each Input's dtype, not to the model's

    def __init__(self, inputs, outputs, name=None, trainable=True, **kwargs):
        super().__init__(name=name or unique_name("functional"), trainable=trainable, **kwargs)
        for role, value in (("inputs", inputs), ("outputs", outputs)):
            if not flatten(value) or value is None:
                raise ValueError(f"`{role}` argument cannot be empty. Received:\ninputs={inputs}\n"
                                 f"outputs={outputs}")
            for t in flatten(value):
                if not tape.is_symbolic(t) or t._keras_history is None:
                    raise TypeError(
                        f"Model '{self.name}': every item of `{role}` must be a symbolic tensor made "
                        f"by `Input` or by calling a layer on one; got {type(t).__name__}."
                    )
        self._inputs_struct = inputs
        self._outputs_struct = outputs
        self.inputs = flatten(inputs)
        self.outputs = flatten(outputs)
        nodes_by_depth, operations = map_graph(self.inputs, self.outputs)
        self._nodes_by_depth = nodes_by_depth
        self._operations = operations
        self.built = True
        self._build_shape = map_structure(lambda t: t.shape, inputs)

    @property
    def input(self):
        """The input tensor(s), as given to the constructor (Keras's ``model.input``)."""
        return self._inputs_struct

    @property
    def output(self):
        """The output tensor(s), as given to the constructor (Keras's ``model.output``)."""
        return self._outputs_struct

    @property
    def layers(self):
        """Every layer of the graph, Input layers included (as in Keras), inputs first."""
        return list(getattr(self, "_operations", []))

    def _sublayers(self):
        return self.layers

    def _layers_for_lookup(self):
        return list(getattr(self, "_operations", []))

    # --- running the graph on data -------------------------------------------------------

    def _convert_inputs(self, inputs):
        """One array per Input, each cast to that Input's dtype (in ``inputs`` order)."""
        if isinstance(self._inputs_struct, dict) and isinstance(inputs, dict):
            missing = set(self._inputs_struct) - set(inputs)
            if missing:
                raise ValueError(f"Model '{self.name}': missing inputs {sorted(missing)}.")
            flat = [inputs[k] for k in self._inputs_struct]
        elif len(self.inputs) == 1 and not isinstance(inputs, (list, tuple, dict)):
            flat = [inputs]
        else:
            flat = list(inputs.values()) if isinstance(inputs, dict) else list(inputs)
            if len(flat) != len(self.inputs):
                raise ValueError(
                    f"Model '{self.name}' expects {len(self.inputs)} input(s), but it received "
                    f"{len(flat)} input tensors."
                )
        arrays = [self._as_numeric(v, "inputs").astype(t.dtype, copy=False) for v, t in zip(flat, self.inputs)]
        return arrays[0] if len(arrays) == 1 else arrays

    def _check_input_spec(self, shapes):
        shapes = [shapes] if len(self.inputs) == 1 else list(shapes)
        for k, (shape, t) in enumerate(zip(shapes, self.inputs)):
            expected = (None,) + t.shape[1:]
            compatible = len(shape) == len(expected) and all(
                e is None or s is None or e == s for s, e in zip(shape, expected))
            if not compatible:
                layer = t._keras_history[0]
                raise ValueError(
                    f"Input {k} with name '{layer.name}' of layer '{self.name}' is incompatible "
                    f"with the layer: expected shape={expected}, found shape={tuple(shape)}"
                )

    def call(self, inputs, training=None):
        values = {}
        for t, value in zip(self.inputs, [inputs] if len(self.inputs) == 1 else flatten(inputs)):
            values[id(t)] = value
        for depth in sorted(self._nodes_by_depth, reverse=True):
            for node in self._nodes_by_depth[depth]:
                if node.is_input:
                    continue
                args = map_structure(lambda t: values[id(t)], node.inputs)
                outputs = node.layer(args, training=training)
                for t, value in zip(node.output_tensors, flatten(outputs)):
                    values[id(t)] = value
        return map_structure(lambda t: values[id(t)], self._outputs_struct)

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable}


# --- the graph: Keras 3's map_graph -------------------------------------------------------

def map_graph(inputs, outputs):
    """Nodes by depth and operations (layers) in Keras's order; checks the graph is connected."""
    nodes_in_order, operation_indices = _build_map(inputs, outputs)
    in_graph = set(nodes_in_order)
    nodes_depths, operations_depths = {}, {}
    for node in reversed(nodes_in_order):
        depth = nodes_depths.setdefault(node, 0)
        # a shared layer takes the largest depth of its nodes
        depth = max(depth, operations_depths.get(node.layer, 0))
        operations_depths[node.layer] = depth
        nodes_depths[node] = depth
        for parent in node.parent_nodes:
            if parent in in_graph:
                nodes_depths[parent] = max(depth + 1, nodes_depths.get(parent, 0))

    for t in inputs:  # an Input that does not reach the outputs is still part of the model
        layer, node_index, _ = t._keras_history
        if layer not in operations_depths:
            node = layer._inbound_nodes[node_index]
            if node.is_input:
                operations_depths[layer] = 0
                operation_indices[layer] = -1
                nodes_depths[node] = 0

    nodes_by_depth = collections.defaultdict(list)
    for node, depth in nodes_depths.items():
        nodes_by_depth[depth].append(node)
    operations_by_depth = collections.defaultdict(list)
    for operation, depth in operations_depths.items():
        operations_by_depth[depth].append(operation)
    operations = []
    for depth in sorted(operations_by_depth, reverse=True):
        operations.extend(sorted(operations_by_depth[depth], key=lambda op: operation_indices[op]))

    _check_connected(inputs, nodes_by_depth)
    names = [op.name for op in operations]
    for name in names:
        if names.count(name) != 1:
            raise ValueError(f'The name "{name}" is used {names.count(name)} times in the model. '
                             "All operation names should be unique.")
    return dict(nodes_by_depth), operations


def _check_connected(inputs, nodes_by_depth):
    computable = {id(t) for t in inputs}
    seen = []
    for depth in sorted(nodes_by_depth, reverse=True):
        for node in nodes_by_depth[depth]:
            if node.is_input and id(node.output_tensors[0]) not in computable:
                raise ValueError(
                    f"Graph disconnected: the outputs depend on Input '{node.layer.name}', which is "
                    "not in `inputs`. Pass every Input the outputs are computed from."
                )
            for t in node.input_tensors:
                if id(t) not in computable:
                    raise ValueError(
                        f"Graph disconnected: cannot find parent for tensor {t!r} at layer "
                        f"'{node.layer.name}'. The following previous layers were accessed without "
                        f"issue: {seen}. Is every `Input` the output depends on in `inputs`?"
                    )
            seen.append(node.layer.name)
            for t in node.output_tensors:
                computable.add(id(t))
    for t in inputs:
        if not t._keras_history[0]._inbound_nodes[t._keras_history[1]].is_input and id(t) not in computable:
            raise ValueError(f"Input {t!r} is not an `Input`.")


def _build_map(inputs, outputs):
    """Depth-first from the outputs: nodes from the inputs to the outputs, and first-visit order."""
    finished, in_progress = set(), set()
    ordered, operation_indices = [], {}
    input_ids = {id(t) for t in inputs}

    def visit(tensor):
        layer, node_index, _ = tensor._keras_history
        node = layer._inbound_nodes[node_index]
        if node in finished:
            return
        if not node.is_input and id(tensor) in input_ids:
            finished.add(node)  # an intermediate tensor given as an input: the graph starts here
            return
        if node in in_progress:
            raise ValueError(f"Tensor {tensor!r} from layer '{layer.name}' is part of a cycle.")
        operation_indices.setdefault(layer, len(operation_indices))
        in_progress.add(node)
        if not node.is_input:
            for t in node.input_tensors:
                visit(t)
        finished.add(node)
        in_progress.discard(node)
        ordered.append(node)

    for t in outputs:
        visit(t)
    return ordered, operation_indices

