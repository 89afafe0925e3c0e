"""``kbook.plot_model(model)``: a picture of the layer graph, drawn with matplotlib alone.

Keras's ``keras.utils.plot_model`` needs pydot and a system Graphviz; this one needs
nothing beyond matplotlib.  One box per layer (name, type, output shape), one arrow per
connection, the inputs at the top and the outputs at the bottom: a layer sits one row
below the lowest of the layers it reads from, so branches sit side by side and merges
show where they meet.
"""
from kbook.summary import format_layer_shape

BOX_W, BOX_H, ROW_H, COL_W = 3.0, 0.8, 1.3, 3.4


def graph_of(model):
    """(layers, edges): every layer to draw, and (from, to) pairs, for any kind of model."""
    from kbook.models.functional import Functional
    from kbook.models.sequential import Sequential

    if isinstance(model, Functional):
        layers = list(model._operations)
        edges = []
        relevant = {id(n) for group in model._nodes_by_depth.values() for n in group}
        for layer in layers:
            for node in layer._inbound_nodes:
                if id(node) not in relevant:
                    continue
                for t in node.input_tensors:
                    edge = (t._keras_history[0], layer)
                    if not any(edge[0] is a and edge[1] is b for a, b in edges):
                        edges.append(edge)
        return layers, edges
    layers = list(model.layers)
    if isinstance(model, Sequential) and model._input_layer is not None:
        layers = [model._input_layer] + layers
    return layers, list(zip(layers[:-1], layers[1:]))  # subclassed: attribute order, as Keras lists it


def _levels(layers, edges):
    """Row of each layer: one below the deepest layer feeding it."""
    level = {}
    for layer in layers:  # layers come inputs-first, so parents are placed before children
        parents = [a for a, b in edges if b is layer]
        level[id(layer)] = 1 + max((level.get(id(p), 0) for p in parents), default=-1)
    return level


def plot_model(model, show_shapes=True, show_layer_names=True, rankdir="TB", dpi=80, to_file=None):
    """Draw ``model``'s layers and connections; returns a matplotlib Figure.

    Args:
        model: a kbook Sequential, Functional or subclassed model.
        show_shapes: write each layer's output shape in its box.
        show_layer_names: write each layer's name (else only its type).
        rankdir: ``"TB"`` (top to bottom, default) or ``"LR"`` (left to right).
        dpi: resolution of the figure.
        to_file: if given, also save the picture there (e.g. ``"model.png"``).

    Example:
        >>> fig = plot_model(model)      # shows itself in a notebook
    """
    if rankdir not in ("TB", "LR"):
        raise ValueError(f"plot_model: `rankdir` must be 'TB' or 'LR', got {rankdir!r}.")
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    layers, edges = graph_of(model)
    level = _levels(layers, edges)
    rows = {}
    for layer in layers:
        rows.setdefault(level[id(layer)], []).append(layer)
    n_rows = max(rows) + 1 if rows else 1
    n_cols = max((len(r) for r in rows.values()), default=1)
    centre = {}
    for r, members in rows.items():
        for k, layer in enumerate(members):
            x = (k - (len(members) - 1) / 2) * COL_W
            y = -r * ROW_H
            centre[id(layer)] = (x, y) if rankdir == "TB" else (-y * 2.2, -x / 2.2 * 1.0)

    if rankdir == "TB":
        size = (max(4.0, n_cols * COL_W * 0.75), max(2.0, n_rows * ROW_H * 0.75))
    else:
        size = (max(4.0, n_rows * ROW_H * 2.2 * 0.75), max(2.0, n_cols * BOX_H * 2.0))
    fig = Figure(figsize=size, dpi=dpi)
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_axis_off()
    for layer in layers:
        x, y = centre[id(layer)]
        text = type(layer).__name__
        if show_layer_names:
            text = f"{layer.name} ({text})"
        if show_shapes:
            text += f"\n{format_layer_shape(layer)}"
        colour = "#e8f0fe" if type(layer).__name__ != "InputLayer" else "#e6f4ea"
        ax.add_patch(FancyBboxPatch((x - BOX_W / 2, y - BOX_H / 2), BOX_W, BOX_H,
                                    boxstyle="round,pad=0.02,rounding_size=0.12",
                                    facecolor=colour, edgecolor="#3c4043", linewidth=1))
        ax.text(x, y, text, ha="center", va="center", fontsize=8, family="monospace")
    bulge = 0.0
    for a, b in edges:
        (xa, ya), (xb, yb) = centre[id(a)], centre[id(b)]
        style = "arc3,rad=0"
        if rankdir == "TB" and level[id(b)] - level[id(a)] > 1:  # a shortcut: around the boxes it skips
            style = "arc3,rad=-0.4"
            bulge = max(bulge, 0.2 * (ya - yb))
            start, end = (xa + BOX_W / 2, ya), (xb + BOX_W / 2, yb)
        elif rankdir == "TB":
            start, end = (xa, ya - BOX_H / 2), (xb, yb + BOX_H / 2)
        else:
            start, end = (xa + BOX_W / 2, ya), (xb - BOX_W / 2, yb)
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=10, connectionstyle=style,
                                     color="#3c4043", linewidth=1, shrinkA=0, shrinkB=0))
    xs = [c[0] for c in centre.values()] or [0]
    ys = [c[1] for c in centre.values()] or [0]
    ax.set_xlim(min(xs) - BOX_W / 2 - 0.2, max(xs) + BOX_W / 2 + 0.2 + bulge)
    ax.set_ylim(min(ys) - BOX_H / 2 - 0.2, max(ys) + BOX_H / 2 + 0.45)  # room for the title
    ax.set_aspect("equal" if rankdir == "TB" else "auto")
    fig.text(0.01, 0.99, f'Model: "{model.name}"', ha="left", va="top", fontsize=8)
    if to_file:
        fig.savefig(to_file, dpi=dpi)
    return fig
