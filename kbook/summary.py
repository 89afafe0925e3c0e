"""``model.summary()``: the table Keras 3 prints, row for row.

Each row is one layer: ``name (Type)``, its output shape (``None`` is the batch) and
its number of weights.  A Functional model that is not a plain chain (branches,
merges, a shared layer) gets a fourth column, "Connected to": which call of which
layer feeds each layer, written ``layer[node_index][tensor_index]``.  The totals
count every weight once, with its size in bytes (4 per float32, 8 per float64).

The layout (column widths, wrapping of long names) is Keras's own: the same
positions and widths, drawn by the same table library (rich), so the text matches
``keras.Model.summary()`` character for character.
"""
import math
import shutil

from kbook.layers.base import flatten


def count_params(weights):
    return int(sum(math.prod(w.shape) for w in _unique(weights)))


def weight_memory_size(weights):
    """Bytes of the weights, each counted once."""
    return sum(w.size * w.dtype.itemsize for w in _unique(weights))


def _unique(weights):
    return list({id(w): w for w in weights}.values())


def readable_memory_size(size):
    """1536 -> '1.50 KB', as Keras writes it (powers of 1024)."""
    for unit in ["B", "KB", "MB", "GB", "TB", "PB"]:
        if size / 1024 < 1:
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} PB"


def format_shape(shape):
    return "(" + ", ".join(str(d) for d in shape) + ")"


def format_layer_shape(layer):
    """The output shape of the layer's last call on symbolic tensors, else from its build shape."""
    if layer._inbound_nodes:
        outputs = layer._inbound_nodes[-1].outputs
        shapes = [format_shape(t.shape) for t in flatten(outputs)]
        if len(shapes) == 1:
            return shapes[0]
        return "[" + ", ".join(shapes) + "]"
    if _keras_builds_at_init(layer):
        return "?"  # Keras: built in its constructor, so no build shape is ever recorded
    model_outputs = _model_output_tensors(layer)
    if model_outputs:  # Keras: a nested Functional/Sequential shows its ``output_shape``
        shapes = [format_shape(t.shape) for t in model_outputs]
        return shapes[0] if len(shapes) == 1 else "(" + ", ".join(shapes) + ")"
    if not layer.built or layer._build_shape is None:
        return "?"
    from kbook.layers.base import Layer

    if type(layer).compute_output_shape is Layer.compute_output_shape:
        return "?"  # Keras too: a layer made of layers has no compute_output_shape
    shape = layer.compute_output_shape(layer._build_shape)
    if isinstance(shape, list):
        return "[" + ", ".join(format_shape(s) for s in shape) + "]"
    return format_shape(shape)


def _is_sequential_like(model):
    from kbook.models.functional import Functional

    if not isinstance(model, Functional):
        return True
    nodes = []
    for group in model._nodes_by_depth.values():
        if len(group) > 1 or (len(group) == 1 and len(group[0].input_tensors) > 1):
            return False  # a branch or a merge
        nodes += group
    for layer in model.layers:  # a layer called twice inside the model: shared
        if sum(node in nodes for node in layer._inbound_nodes) > 1:
            return False
    return True


def _connections(layer, relevant_nodes):
    parts = []
    for node in layer._inbound_nodes:
        if relevant_nodes and node not in relevant_nodes:
            continue  # a call made outside this model
        for t in node.input_tensors:
            inbound, node_index, tensor_index = t._keras_history
            parts.append(f"{inbound.name}[{node_index}][{tensor_index}]")
    return ", ".join(parts) or "-"


# Keras layers whose constructor marks them built (``Layer._build_at_init``): inside a
# subclassed model Keras shows them as "?" with "0" parameters, called or not.
_BUILT_AT_INIT = frozenset({
    "Activation", "ReLU", "LeakyReLU", "ELU", "Softmax", "Dropout", "GaussianNoise", "GaussianDropout",
    "AlphaDropout", "ActivityRegularization", "Identity", "Masking", "UnitNormalization",
    "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D",
    "AveragePooling3D", "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D",
    "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D"})


def _keras_builds_at_init(layer):
    return any(c.__name__ in _BUILT_AT_INIT and c.__module__.startswith("kbook.layers")
               for c in type(layer).__mro__)


def _model_output_tensors(layer):
    """The symbolic outputs of a built Functional or Sequential (None for other layers)."""
    from kbook.models.functional import Functional
    from kbook.models.sequential import Sequential

    if isinstance(layer, Functional):
        return flatten(layer._outputs_struct)
    if isinstance(layer, Sequential) and layer._output_tensor is not None:
        return [layer._output_tensor]
    return None


def _params(layer):
    if not layer.built and not _keras_builds_at_init(layer):
        return "0 (unbuilt)"
    if not layer.built:
        return "0"
    return f"{layer.count_params():,}"


def _rows(layer, sequential_like, relevant_nodes, expand_nested, show_trainable, level=0):
    prefix = "   " * level + "└ " if level else ""
    fields = [f"{prefix}{layer.name} ({type(layer).__name__})", format_layer_shape(layer), _params(layer)]
    if not sequential_like:
        fields.append(_connections(layer, relevant_nodes))
    if show_trainable:
        fields.append(("Y" if layer.trainable else "N") if layer.weights else "-")
    rows = [fields]
    if expand_nested and hasattr(layer, "layers") and layer.layers:
        for sub in layer.layers:
            rows += _rows(sub, sequential_like, relevant_nodes, expand_nested, show_trainable, level + 1)
    return rows


def summary_text(model, line_length=None, positions=None, expand_nested=False, show_trainable=False,
                 layer_range=None):
    """The summary as one string (what ``print_summary`` prints)."""
    import rich.console
    import rich.markup
    import rich.table

    sequential_like = _is_sequential_like(model)
    relevant_nodes = []
    if sequential_like:
        default_length, positions = 88, positions or [0.45, 0.80, 1.0]
        header, align = ["Layer (type)", "Output Shape", "Param #"], ["left", "left", "right"]
    else:
        default_length, positions = 108, positions or [0.3, 0.56, 0.74, 1.0]
        header = ["Layer (type)", "Output Shape", "Param #", "Connected to"]
        align = ["left", "left", "right", "left"]
        for group in model._nodes_by_depth.values():
            relevant_nodes += group
    if show_trainable:
        default_length += 12
        positions = [p * 0.90 for p in positions] + [1.0]
        header.append("Trainable")
        align.append("center")
    # Keras fits the table to the terminal (80 columns when there is none, as in a notebook).
    line_length = line_length or min(default_length, shutil.get_terminal_size().columns - 4)
    widths, current = [], 0
    for pos in positions:
        width = int(pos * line_length) - current
        if width < 4:
            raise ValueError("Insufficient console width to print summary.")
        widths.append(width)
        current += width

    columns = [rich.table.Column(name, justify=a, width=w) for name, a, w in zip(header, align, widths)]
    table = rich.table.Table(*columns, width=line_length, show_lines=True)
    from kbook.models.functional import Functional

    # A Functional model lists its Input layers too; Sequential and subclassed models do not.
    layers = model._operations if isinstance(model, Functional) else model.layers
    layers = _layer_range(layers, layer_range)
    for layer in layers:
        for row in _rows(layer, sequential_like, relevant_nodes, expand_nested, show_trainable):
            table.add_row(*[rich.markup.escape(field) for field in row])

    trainable, non_trainable = model.trainable_weights, model.non_trainable_weights
    total_count = count_params(trainable) + count_params(non_trainable)
    total_size = weight_memory_size(trainable) + weight_memory_size(non_trainable)
    # force_jupyter=False: in a notebook rich would otherwise also emit an (empty) HTML output
    console = rich.console.Console(highlight=False, force_terminal=False, color_system=None,
                                   force_jupyter=False)
    with console.capture() as capture:
        console.print(f'Model: "{rich.markup.escape(model.name)}"')
        console.print(table)
        console.print(f" Total params: {total_count:,} ({readable_memory_size(total_size)})")
        console.print(f" Trainable params: {count_params(trainable):,} "
                      f"({readable_memory_size(weight_memory_size(trainable))})")
        console.print(f" Non-trainable params: {count_params(non_trainable):,} "
                      f"({readable_memory_size(weight_memory_size(non_trainable))})")
        optimizer = getattr(model, "optimizer", None)
        if optimizer is not None and getattr(optimizer, "variables", None):
            variables = optimizer.variables
            console.print(f" Optimizer params: {count_params(variables):,} "
                          f"({readable_memory_size(weight_memory_size(variables))})")
    return capture.get()


def print_summary(model, line_length=None, positions=None, print_fn=None, expand_nested=False,
                  show_trainable=False, layer_range=None):
    text = summary_text(model, line_length, positions, expand_nested, show_trainable, layer_range)
    if print_fn is None:
        print(text, end="")
    else:
        print_fn(text)


def _layer_range(layers, layer_range):
    if layer_range is None:
        return layers
    import re

    if len(layer_range) != 2:
        raise ValueError(f"layer_range must be a list or tuple of length 2. Received: {layer_range}")
    names = [layer.name for layer in layers]
    starts = [k for k, n in enumerate(names) if re.match(layer_range[0], n)]
    ends = [k for k, n in enumerate(names) if re.match(layer_range[1], n)]
    if not starts or not ends:
        raise ValueError(f"Passed layer_range does not match any layer names: {layer_range}")
    return layers[starts[0]:ends[-1] + 1]
