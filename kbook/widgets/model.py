"""Model explorer (chapter 7): build a small Functional CNN from controls, watch its graph and summary.

The network::

    image (32, 32, 3) -> stem Conv2D(8, 3, "same", relu)
      -> blocks x [ Conv2D(8, kernel_size, padding, relu) -> Conv2D(8, kernel_size, padding)
                    -> Add([conv_b, block input])   (when ``residual``)
                    -> MaxPooling2D(2) ]
      -> Flatten -> Dense(10)

Every control change rebuilds it **symbolically** (``Input`` and layer calls on
KerasTensors: shapes and weights, no data), so a change costs a few milliseconds.  When a
layer refuses its input (a residual ``Add`` after ``"valid"`` convolutions that shrank the
map; a kernel larger than what is left of the image) the explorer keeps the graph up to
that layer and shows Keras's error in a red box, as the layer call would raise it.

Drawing: ``kbook.plot_model`` makes a new Figure per call, too slow for a slider, so the
explorer lays the graph out with the same helpers (``graph_of``, ``_levels``) inside one
persistent figure, and only replaces the paths of a handful of patches: all boxes of one
colour are one path, all arrows one path, all labels one path.  The labels are not
matplotlib ``Text`` artists (Agg lays out and rasterises every glyph of every label on
every draw, most of a redraw's cost): they are assembled from cached glyph outlines of
the monospace font.  The figure's height follows the number of layers, at a fixed scale.
"""
import html
import textwrap

import ipywidgets as widgets
import numpy as np
from matplotlib.font_manager import FontProperties
from matplotlib.patches import PathPatch
from matplotlib.path import Path
from matplotlib.textpath import TextPath, text_to_path

from kbook.layers import Add, Conv2D, Dense, Flatten, Input, MaxPooling2D
from kbook.models import Model
from kbook.plot_model import _levels, graph_of
from kbook.summary import format_layer_shape, format_shape, summary_text
from kbook.widgets.live_figure import Explorer

MAX_BLOCKS = 3
_MAX_BOXES = 2 + 4 * MAX_BLOCKS + 2 + 1   # input, stem, 4 per block, flatten, dense, the error box
_BOX_W, _BOX_H, _ROW_H = 3.0, 0.78, 1.0
_EDGE, _ARROW, _ERROR_EDGE = "#3c4043", "#3c4043", "#c5221f"
# kind of box -> (face, edge): as kbook.plot_model (inputs green, layers blue), merges yellow, errors red
_BOX_COLOURS = {"InputLayer": ("#e6f4ea", _EDGE), "layer": ("#e8f0fe", _EDGE), "Add": ("#fef7e0", _EDGE),
                "error": ("#fce8e6", _ERROR_EDGE)}


def build_cnn(blocks=2, kernel_size=3, padding="same", residual=True, filters=8, input_shape=(32, 32, 3),
              units=10, name="cnn"):
    """The explorer's network as a kbook Functional model (raises ValueError where Keras would)."""
    return _build(blocks, kernel_size, padding, residual, filters, input_shape, units, name)[0]


def _build(blocks, kernel_size, padding, residual, filters, input_shape, units, name, keep_going=False):
    """(model, error): with ``keep_going``, a layer that refuses its input ends the graph there
    and ``error`` is ``(layer, message)``; the model then reaches the last tensor that worked."""
    inputs = Input(input_shape, name="image")
    state = {"last": inputs}

    def call(layer, x):
        try:
            y = layer(x)
        except ValueError as e:
            if not keep_going:
                raise
            raise _Stop(layer, str(e)) from None
        state["last"] = y
        return y

    error = None
    try:
        x = call(Conv2D(filters, 3, padding="same", activation="relu", name="stem"), inputs)
        for b in range(1, blocks + 1):
            shortcut = x
            x = call(Conv2D(filters, kernel_size, padding=padding, activation="relu", name=f"block{b}_conv_a"), x)
            x = call(Conv2D(filters, kernel_size, padding=padding, name=f"block{b}_conv_b"), x)
            if residual:
                x = call(Add(name=f"block{b}_add"), [x, shortcut])
            x = call(MaxPooling2D(2, name=f"block{b}_pool"), x)
        x = call(Flatten(name="flatten"), x)
        call(Dense(units, name="dense"), x)
    except _Stop as stop:
        error = (stop.layer, stop.message)
    return Model(inputs, state["last"], name=name), error


class _Stop(Exception):
    def __init__(self, layer, message):
        super().__init__(message)
        self.layer, self.message = layer, message


_OUTLINES = {}  # (character, font size) -> glyph outline (vertices, codes) in points


class GlyphText:
    """Monospace text as one vector path, from cached glyph outlines (DejaVu Sans Mono).

    ``path(items)`` takes ``(text, x, y)`` items (``text`` may hold newlines; ``(x, y)`` is its
    centre in data units) and returns one Path in data units; ``scale`` is data units per point
    along x and y, so the glyphs keep their shape whatever the axes' aspect.
    """

    def __init__(self, size, scale, line_spacing=1.2):
        self.prop = FontProperties(family="monospace", size=size)
        self.size = size
        self.sx, self.sy = scale
        self.advance = text_to_path.get_text_width_height_descent("M" * 10, self.prop, ismath=False)[0] / 10
        self.line_height = size * line_spacing
        self._glyphs = {}

    def _glyph(self, char):
        if char not in self._glyphs:
            key = (char, self.size)
            if key not in _OUTLINES:  # in points; shared by every explorer (TextPath is slow)
                outline = TextPath((0, 0), char, prop=self.prop)
                _OUTLINES[key] = (outline.vertices.copy(), outline.codes.copy())
            vertices, codes = _OUTLINES[key]
            self._glyphs[char] = (vertices * (self.sx, self.sy), codes)
        return self._glyphs[char]

    def path(self, items):
        vertices, codes = [], []
        centre_offset = 0.36 * self.size  # from the baseline to the middle of a capital letter
        for text, x, y in items:
            lines = text.split("\n")
            for j, line in enumerate(lines):
                x0 = x - len(line) * self.advance * self.sx / 2
                baseline = y + ((len(lines) - 1) / 2 - j) * self.line_height * self.sy - centre_offset * self.sy
                for i, char in enumerate(line):
                    if char == " ":
                        continue
                    v, c = self._glyph(char)
                    if len(v):
                        vertices.append(v + (x0 + i * self.advance * self.sx, baseline))
                        codes.append(c)
        if not vertices:
            return Path(np.zeros((1, 2)), [Path.MOVETO])
        return Path(np.concatenate(vertices), np.concatenate(codes))


class ModelExplorer(Explorer):
    """A Functional CNN rebuilt from controls: its graph (like ``kbook.plot_model``) and ``summary()``.

    Controls: ``blocks`` (1-3 convolution blocks), ``kernel_size`` and ``padding`` (of the
    blocks' Conv2D layers, Keras's names), ``residual`` (an ``Add`` joining each block's input
    to its second convolution).  ``model`` is the current kbook model (up to the failing
    layer when ``error`` is set); ``summary()`` is plain text a test can check, and the
    widget shows ``model.summary()`` beside the graph.

    Example:
        >>> ex = ModelExplorer()
        >>> ex.blocks.value = 3
        >>> ex.padding.value = "valid"          # with residual=True: the Add refuses
        >>> print(ex.summary())
    """

    width = 3.4          # inches; the height follows the number of layers (a fixed scale in both directions)
    inches_per_row = 0.36
    dpi = 80

    def __init__(self, blocks=2, kernel_size=3, padding="same", residual=True, filters=8,
                 input_shape=(32, 32, 3), units=10):
        super().__init__(figsize=(self.width, self.inches_per_row * _MAX_BOXES))
        self.live.figure.set_dpi(self.dpi)
        self.live.figure.set_layout_engine("none")
        self.filters, self.input_shape, self.units = filters, tuple(input_shape), units
        self.blocks = widgets.IntSlider(value=blocks, min=1, max=MAX_BLOCKS, description="blocks")
        self.kernel_size = widgets.IntSlider(value=kernel_size, min=1, max=7, description="kernel_size")
        self.padding = widgets.ToggleButtons(options=["valid", "same"], value=padding, description="padding",
                                             style={"button_width": "60px"})
        self.residual = widgets.Checkbox(value=residual, description="residual (Add)", indent=False)
        self.summary_html = widgets.HTML()
        self.model = None
        self._summaries = {}
        self.error = None
        self._setup_figure()
        self._watch(self.blocks, self.kernel_size, self.padding, self.residual)
        self.update()

    # --- public ----------------------------------------------------------------------

    def controls(self):
        return [self.blocks, self.kernel_size, self.padding, self.residual]

    def text_widgets(self):
        return [self.caption, self.summary_html]  # the summary table: a large block for the page to lay out

    @property
    def widget(self):
        return widgets.VBox([
            widgets.HBox(self.controls(), layout={"flex_flow": "row wrap"}),
            self.caption,
            widgets.HBox([self.live.image, self.summary_html], layout={"flex_flow": "row wrap"}),
        ])

    def call_text(self):
        """The arguments the controls stand for."""
        return (f"build_cnn(blocks={self.blocks.value}, kernel_size={self.kernel_size.value}, "
                f"padding={self.padding.value!r}, residual={self.residual.value})")

    def model_summary(self):
        """``self.model.summary()`` as text (Keras's table).

        Kept per setting of the controls: the model is a function of them, and drawing the table
        with rich is more than half of a redraw's cost (measured: 18 of 32 ms)."""
        from IPython.utils.capture import capture_output

        key = self.call_text()
        if key not in self._summaries:
            with capture_output():  # rich, which draws the table, also sends an empty display to a notebook
                self._summaries[key] = summary_text(self.model)
        return self._summaries[key]

    def summary(self):
        model = self.model
        lines = [self.call_text()]
        path = [f"{layer.name} {format_layer_shape(layer)}" for layer in model.layers
                if layer.name in ("image", "stem", "flatten", "dense") or layer.name.endswith("_pool")]
        lines.append(" -> ".join(path))
        if self.error is not None:
            layer, message = self.error
            lines.append(f"{layer.name} ({type(layer).__name__}) refuses its input -> ValueError: {message}")
            lines.append(f"built up to {model.layers[-1].name}: {len(model.layers)} layers, "
                         f"{model.count_params():,} params so far")
            return "\n".join(lines)
        trainable = sum(int(w.size) for w in model.trainable_weights)
        lines.append(f"{len(model.layers)} layers (Input included), output {format_shape(model.outputs[0].shape)}, "
                     f"total params {model.count_params():,} (trainable {trainable:,})")
        per_layer = [f"{layer.name} {layer.count_params():,}" for layer in model.layers if layer.weights]
        lines.append("params: " + ", ".join(per_layer))
        return "\n".join(lines)

    # --- machinery -------------------------------------------------------------------

    def _rebuild(self):
        from kbook.layers.base import _name_counts

        saved = dict(_name_counts)  # every layer is named; keep the reader's auto-name counters untouched
        try:
            self.model, self.error = _build(self.blocks.value, self.kernel_size.value, self.padding.value,
                                            self.residual.value, self.filters, self.input_shape, self.units,
                                            name="cnn", keep_going=True)
        finally:
            _name_counts.clear()
            _name_counts.update(saved)

    def _setup_figure(self):
        fig = self.live.figure
        self.ax = ax = fig.add_axes([0, 0, 1, 1])
        ax.set_axis_off()
        x_lim = (-_BOX_W / 2 - 0.1, _BOX_W / 2 + 0.9)
        ax.set_xlim(*x_lim)
        points_to_data = ((x_lim[1] - x_lim[0]) / (self.width * 72), _ROW_H / (self.inches_per_row * 72))
        self._font = GlyphText(7, points_to_data)
        self._small_font = GlyphText(6, points_to_data)
        self._points_to_data = points_to_data
        self._box_template = _rounded_box(_BOX_W, _BOX_H, 4 * points_to_data[0], 4 * points_to_data[1])
        # One patch per kind of thing drawn: a few paths per redraw, however many layers.
        empty = Path(np.zeros((1, 2)), [Path.MOVETO])
        self._box_patches = {}
        for kind, (face, edge) in _BOX_COLOURS.items():
            self._box_patches[kind] = ax.add_patch(PathPatch(empty, facecolor=face, edgecolor=edge, linewidth=0.8))
        self._shafts = {c: ax.add_patch(PathPatch(empty, facecolor="none", edgecolor=c, linewidth=0.8))
                        for c in (_ARROW, _ERROR_EDGE)}
        self._heads = {c: ax.add_patch(PathPatch(empty, facecolor=c, edgecolor="none"))
                       for c in (_ARROW, _ERROR_EDGE)}
        self._labels = ax.add_patch(PathPatch(empty, facecolor="#202124", edgecolor="none"))
        self._error_label = ax.add_patch(PathPatch(empty, facecolor="#a50e0e", edgecolor="none"))
        self._title_y = _BOX_H / 2 + 0.22

    def _arrow_paths(self, arrows):
        """Shafts (lines, or quadratic curves for shortcuts) and filled heads, as two paths."""
        sx, sy = self._points_to_data
        shaft_v, shaft_c, head_v = [], [], []
        for start, end, control in arrows:
            start, end = np.asarray(start, float), np.asarray(end, float)
            if control is None:
                shaft_v += [start, end]
                shaft_c += [Path.MOVETO, Path.LINETO]
                tangent = end - start
            else:
                control = np.asarray(control, float)
                shaft_v += [start, control, end]
                shaft_c += [Path.MOVETO, Path.CURVE3, Path.CURVE3]
                tangent = end - control
            # the head: a triangle 6 points long, 4 wide, drawn in points so it keeps its shape
            t = tangent / (sx, sy)
            t = t / np.hypot(*t)
            n = np.array([-t[1], t[0]])
            tip = end / (sx, sy)
            base = tip - 6 * t
            head = np.array([tip, base + 2.2 * n, base - 2.2 * n, tip]) * (sx, sy)
            head_v.append(head)
        empty = Path(np.zeros((1, 2)), [Path.MOVETO])
        if not shaft_v:
            return empty, empty
        head_c = [Path.MOVETO, Path.LINETO, Path.LINETO, Path.CLOSEPOLY] * len(head_v)
        return Path(np.array(shaft_v), shaft_c), Path(np.concatenate(head_v), head_c)

    def update(self):
        self._rebuild()
        layers, edges = graph_of(self.model)
        level = _levels(layers, edges)
        centre = {id(layer): (0.0, -level[id(layer)] * _ROW_H) for layer in layers}
        title = f'Model: "{self.model.name}"' + ("  (stopped at an error)" if self.error else "")
        texts = [(title, -_BOX_W / 2 + len(title) * self._font.advance * self._font.sx / 2, self._title_y)]
        boxes = {kind: [] for kind in _BOX_COLOURS}
        for layer in layers:
            kind = type(layer).__name__
            x, y = centre[id(layer)]
            boxes[kind if kind in boxes else "layer"].append((x, y))
            texts.append((f"{layer.name} ({kind})\n{format_layer_shape(layer)}", x, y))
        arrows = {_ARROW: [], _ERROR_EDGE: []}
        for a, b in edges:
            (xa, ya), (xb, yb) = centre[id(a)], centre[id(b)]
            if round((ya - yb) / _ROW_H) > 1:  # a shortcut: around the boxes it skips, on the right
                right = xa + _BOX_W / 2
                arrows[_ARROW].append(((right, ya), (right, yb), (right + 0.8, (ya + yb) / 2)))
            else:
                arrows[_ARROW].append(((xa, ya - _BOX_H / 2), (xb, yb + _BOX_H / 2), None))
        error_texts = []
        if self.error is not None:
            layer, message = self.error
            y = -(max(level.values()) + 1) * _ROW_H
            wrapped = textwrap.wrap(textwrap.shorten(message, 84, placeholder=" ..."), 42)[:2]
            boxes["error"].append((0.0, y))
            error_texts.append(("\n".join([f"{layer.name} ({type(layer).__name__}): ValueError"] + wrapped),
                                0.0, y))
            last = centre[id(layers[-1])]
            arrows[_ERROR_EDGE].append(((last[0], last[1] - _BOX_H / 2), (0.0, y + _BOX_H / 2), None))
        rows = max(level.values()) + 1 + (self.error is not None)
        top, bottom = _BOX_H / 2 + 0.45, -(rows - 1) * _ROW_H - _BOX_H / 2 - 0.1
        self.ax.set_ylim(bottom, top)  # the figure grows and shrinks with the model, at a fixed scale
        self.live.figure.set_size_inches(self.width, (top - bottom) * self.inches_per_row / _ROW_H)
        for kind, patch in self._box_patches.items():
            patch.set_path(_boxes_path(self._box_template, boxes[kind]))
        for colour, items in arrows.items():
            shafts, heads = self._arrow_paths(items)
            self._shafts[colour].set_path(shafts)
            self._heads[colour].set_path(heads)
        self._labels.set_path(self._font.path(texts))
        self._error_label.set_path(self._small_font.path(error_texts))
        if self.error is None:
            self.caption.value = (f"output {html.escape(format_shape(self.model.outputs[0].shape))} · "
                                  f"{self.model.count_params():,} parameters · {len(layers)} layers")
        else:
            layer, message = self.error
            self.caption.value = (f"<span style='color:#c5221f'><b>{html.escape(layer.name)}</b>: ValueError: "
                                  f"{html.escape(message)}</span>")
        self.summary_html.value = ("<pre style='font-size:11px; line-height:1.15; margin:0'>"
                                   f"{html.escape(self.model_summary())}</pre>")
        self.live.render()


def _rounded_box(width, height, rx, ry):
    """A rounded rectangle centred on (0, 0): (vertices, codes), corners as quadratic curves."""
    w, h = width / 2, height / 2
    v = [(-w + rx, -h), (w - rx, -h), (w, -h), (w, -h + ry), (w, h - ry), (w, h), (w - rx, h),
         (-w + rx, h), (-w, h), (-w, h - ry), (-w, -h + ry), (-w, -h), (-w + rx, -h), (-w + rx, -h)]
    c = [Path.MOVETO, Path.LINETO, Path.CURVE3, Path.CURVE3, Path.LINETO, Path.CURVE3, Path.CURVE3,
         Path.LINETO, Path.CURVE3, Path.CURVE3, Path.LINETO, Path.CURVE3, Path.CURVE3, Path.CLOSEPOLY]
    return np.array(v, dtype=float), np.array(c, dtype=Path.code_type)


def _boxes_path(template, centres):
    vertices, codes = template
    if not centres:
        return Path(np.zeros((1, 2)), [Path.MOVETO])
    offsets = np.asarray(centres, dtype=float)[:, None, :]
    return Path((vertices[None] + offsets).reshape(-1, 2), np.tile(codes, len(centres)))
