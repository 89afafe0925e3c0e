"""The machinery shared by every sliding-window explorer (Conv2D, MaxPooling2D, AveragePooling2D).

A window of ``k x k`` taps slides over an image with a stride, after TensorFlow's
padding, and each position produces one output pixel.  This module draws that
picture once, for any operation:

    [ padded input + receptive field ]  [ middle panel ]  [ output map + selected pixel ]

and keeps the output-size formula in the caption.  Subclasses only say *what* the
window computes (a convolution with a kernel, a max, a mean) and add their own controls.

How to subclass (e.g. a pooling explorer)::

    class PoolingExplorer(SlidingWindowExplorer):
        window_arg = "pool_size"          # the attribute (and Keras argument) of the size slider
        layer_name = "MaxPooling2D"       # used in the summary: MaxPooling2D(pool_size=2, ...)
        pad_value = np.nan                # pooling ignores padded cells: drawn as "not used"

        def _extra_controls(self):        # called by __init__; create, store, return them
            self.mode = widgets.ToggleButtons(options=["max", "average"], description="mode")
            return [self.mode]

        def _compute(self, image, window, strides, padding, dilation):
            ...                           # (H, W) -> (H_out, W_out); raise ValueError for bad args
            return out

        def _middle_panel(self, patch):   # optional; default shows the receptive field's values
            return patch, f"window {patch.shape}"

        def _extra_args(self):            # optional; extra Keras arguments for the summary
            return {}

        def _extra_summary(self):         # optional; extra lines for summary()
            return []

Everything else is inherited: the controls ``<window_arg>``, ``strides``, ``padding``,
``row`` and ``col`` (which output pixel's receptive field is outlined); ``update()``
(recompute, move the artists in place, render once); ``summary()`` (plain text a test or
an nbval cell can check); ``set_image(image)``; and the state after each update:
``output`` (the 2-D map or ``None``), ``pads`` (``((top, bottom), (left, right))``),
``output_shape`` and ``error`` (the ``ValueError`` message, when the arguments are invalid).
Extra artists can be made in ``_setup_extra(axes)`` and moved in ``_update_extra()``.
"""
import html
from abc import abstractmethod

import ipywidgets as widgets
import numpy as np

from kbook.images import sample_photo
from kbook.layers.conv_utils import conv_output_length, dilated_size, same_padding
from kbook.widgets.fast_artists import CellImage, CellLabels, Outline, single_frame
from kbook.widgets.live_figure import Explorer

_MAX_ANNOTATED = 25  # write the numbers into the middle panel up to 5 x 5 cells


class SlidingWindowExplorer(Explorer):
    """A window sliding over a photo: padded input, receptive field, output map, output-size formula.

    Args:
        image: a 2-D array (H, W); default ``kbook.images.sample_photo(size)``.
        size: the photo's size when ``image`` is not given (int or (H, W)).
        window: the initial window size (the ``<window_arg>`` slider).
        strides, padding: initial values of those controls.
        max_window, max_strides: the sliders' ranges.

    Subclasses set ``window_arg`` / ``layer_name`` and implement ``_compute`` (see the module
    docstring for the full recipe).
    """

    window_arg = "kernel_size"
    layer_name = "Conv2D"
    pad_value = 0.0          # what the padded cells hold; np.nan draws them as "ignored"
    input_cmap = "gray"
    output_cmap = "gray"
    middle_cmap = "gray"
    figsize = (9.6, 3.3)
    dpi = 72

    def __init__(self, image=None, size=64, window=3, strides=1, padding="valid",
                 max_window=7, max_strides=4):
        super().__init__(figsize=self.figsize)
        self.live.figure.set_dpi(self.dpi)
        self.image = self._as_image(sample_photo(size) if image is None else image)
        window_control = widgets.IntSlider(value=window, min=1, max=max_window,
                                           description=self.window_arg)
        setattr(self, self.window_arg, window_control)
        self.strides = widgets.IntSlider(value=strides, min=1, max=max_strides, description="strides")
        self.padding = widgets.ToggleButtons(options=["valid", "same"], value=padding,
                                             description="padding", style={"button_width": "60px"})
        self.row = widgets.IntSlider(value=0, min=0, max=0, description="output row")
        self.col = widgets.IntSlider(value=0, min=0, max=0, description="output col")
        self._extras = list(self._extra_controls())
        self._syncing = False
        self.output = None
        self.error = None
        self._build_figure()
        self._watch(window_control, self.strides, self.padding, *self._extras, self.row, self.col)
        self.update()
        self.live.freeze_layout()  # artists only move from now on: no need to re-solve the layout
        self._centre()

    def _centre(self):
        """Select the output pixel at the centre of the map (one redraw): where the photo has
        something to show, rather than the corner."""
        if self.output_shape is None:
            return
        self._syncing = True  # two slider moves, one update
        try:
            self.row.value, self.col.value = (n // 2 for n in self.output_shape)
        finally:
            self._syncing = False
        self.update()

    # --- hooks for subclasses ------------------------------------------------------

    def _extra_controls(self):
        """Create the subclass's own controls (store them as attributes) and return them."""
        return []

    def _dilation(self):
        """The dilation rate of the window (Conv2D's ``dilation_rate``); pooling has none."""
        return 1

    @abstractmethod
    def _compute(self, image, window, strides, padding, dilation):
        """``image`` (H, W) -> output map (H_out, W_out). Raise ValueError for invalid arguments."""

    def _middle_panel(self, patch):
        """What the middle panel shows: ``(2-D array, title)``. Default: the window's input values."""
        return patch, f"receptive field {patch.shape}"

    def _middle_clim(self, data):
        finite = data[np.isfinite(data)]
        if finite.size == 0:
            return 0.0, 1.0
        lo, hi = float(finite.min()), float(finite.max())
        return (lo, hi) if hi > lo else (lo - 0.5, hi + 0.5)

    def _output_clim(self, output):
        return self._middle_clim(output)

    def _extra_args(self):
        """Extra Keras arguments shown in the summary, e.g. ``{"dilation_rate": 2}``."""
        return {}

    def _extra_summary(self):
        """Extra lines for ``summary()``."""
        return []

    def _setup_extra(self, axes):
        """Create extra artists on ``axes = (ax_input, ax_middle, ax_output)``."""

    def _update_extra(self):
        """Move the extra artists; called by ``update()`` before rendering."""

    # --- public ----------------------------------------------------------------------

    @property
    def window(self):
        """The window-size control, whatever its Keras name."""
        return getattr(self, self.window_arg)

    def controls(self):
        return [self.window, self.strides, self.padding, *self._extras, self.row, self.col]

    def set_image(self, image):
        """Slide over another 2-D array (e.g. a feature map) instead of the photo."""
        self.image = self._as_image(image)
        self.update()

    def params(self):
        return {"window": self.window.value, "strides": self.strides.value,
                "padding": self.padding.value, "dilation": self._dilation()}

    def layer_call(self):
        """The Keras call the current controls stand for, e.g. ``Conv2D(kernel_size=3, ...)``."""
        p = self.params()
        args = {self.window_arg: p["window"], "strides": p["strides"], "padding": p["padding"]}
        args.update(self._extra_args())
        return f"{self.layer_name}(" + ", ".join(f"{k}={v!r}" for k, v in args.items()) + ")"

    def axis_formula(self, axis):
        """Output length along ``axis`` (0 rows, 1 cols) with the arithmetic that gives it."""
        p = self.params()
        length = self.image.shape[axis]
        k, s, d = p["window"], p["strides"], p["dilation"]
        span = dilated_size(k, d)
        out = conv_output_length(length, k, p["padding"], s, d)
        span_text = f"{span}" if d == 1 else f"{span} [= ({k}-1)*{d}+1]"
        if p["padding"] == "valid":
            text = f"ceil(({length} - {span_text} + 1) / {s}) = {out}"
            if out <= 0:
                text = f"ceil(({length} - {span_text} + 1) / {s}) <= 0"
        else:
            before, after = same_padding(length, k, s, d)
            names = ("top", "bottom") if axis == 0 else ("left", "right")
            text = (f"ceil({length} / {s}) = {out}; padding max(({out}-1)*{s} + {span} - {length}, 0)"
                    f" = {before + after} -> {names[0]} {before}, {names[1]} {after}")
        return out, text

    def summary(self):
        h, w = self.image.shape
        lines = [self.layer_call()]
        lines += self._extra_summary()
        if self.error is not None:
            lines.append(f"input ({h}, {w}) -> ValueError: {self.error}")
            return "\n".join(lines)
        lines.append(f"input ({h}, {w}) -> output {self.output_shape}")
        lines.append(f"rows: {self.axis_formula(0)[1]}")
        lines.append(f"cols: {self.axis_formula(1)[1]}")
        (r0, r1), (c0, c1) = self.receptive_field()
        lines.append(f"output[{self.row.value}, {self.col.value}] sees input rows {r0}..{r1}, "
                     f"cols {c0}..{c1} (negative or >= size: padding)")
        return "\n".join(lines)

    def receptive_field(self):
        """Input rows and columns (first, last; unpadded coordinates) under the selected output pixel."""
        p = self.params()
        span = dilated_size(p["window"], p["dilation"])
        (top, _), (left, _) = self.pads
        r0 = self.row.value * p["strides"] - top
        c0 = self.col.value * p["strides"] - left
        return (r0, r0 + span - 1), (c0, c0 + span - 1)

    # --- machinery -------------------------------------------------------------------

    @staticmethod
    def _as_image(image):
        image = np.asarray(image, dtype=np.float64)
        if image.ndim != 2:
            raise ValueError(f"the explorer slides over a 2-D (H, W) image, got shape {image.shape}.")
        return image

    def _build_figure(self):
        fig = self.live.figure
        self.axes = fig.subplots(1, 3, width_ratios=[1.25, 0.75, 1.25])
        ax_in, ax_mid, ax_out = self.axes
        for ax in self.axes:  # no ticks (titles give the sizes): hidden Axis objects cost nothing to draw
            ax.xaxis.set_visible(False)
            ax.yaxis.set_visible(False)
            single_frame(ax)  # the cells fill each panel: its background would never show
        # CellImage rather than imshow: the same cells, drawn without resampling (see fast_artists).
        self._input_artist = CellImage(ax_in, self.image, cmap=self._cmap(self.input_cmap), vmin=0.0, vmax=1.0)
        h, w = self.image.shape
        self._border = Outline((-0.5, -0.5), w, h, fill=False, ec="#1f77b4", ls="--", lw=1.0)
        self._field = Outline((-0.5, -0.5), 1, 1, fill=False, ec="#d62728", lw=1.6)
        ax_in.add_patch(self._border)
        ax_in.add_patch(self._field)
        self._taps = ax_in.scatter([], [], s=6, c="#d62728", marker="s", linewidths=0)
        self._middle_artist = CellImage(ax_mid, np.zeros((1, 1)), cmap=self._cmap(self.middle_cmap))
        self._middle_labels = CellLabels(fontsize=7)  # up to 25 numbers: one path, not 25 Texts
        ax_mid.add_artist(self._middle_labels)
        self._output_artist = CellImage(ax_out, np.zeros((1, 1)), cmap=self._cmap(self.output_cmap))
        self._pixel = Outline((-0.5, -0.5), 1, 1, fill=False, ec="#d62728", lw=1.6)
        ax_out.add_patch(self._pixel)
        self._setup_extra(self.axes)

    @staticmethod
    def _cmap(name):
        import matplotlib

        return matplotlib.colormaps[name].with_extremes(bad="#f7d6a8")  # NaN cells: padding that is ignored

    def _padded(self, pads):
        (top, bottom), (left, right) = pads
        return np.pad(self.image, ((top, bottom), (left, right)), constant_values=self.pad_value)

    def _sync_position_sliders(self, out_shape):
        self._syncing = True
        try:
            for slider, n in zip((self.row, self.col), out_shape):
                top = max(n - 1, 0)
                if slider.value > top:
                    slider.value = top
                slider.max = top
        finally:
            self._syncing = False

    def update(self):
        if self._syncing:
            return
        p = self.params()
        h, w = self.image.shape
        if p["padding"] == "same":
            self.pads = (same_padding(h, p["window"], p["strides"], p["dilation"]),
                         same_padding(w, p["window"], p["strides"], p["dilation"]))
        else:
            self.pads = ((0, 0), (0, 0))
        expected = (self.axis_formula(0)[0], self.axis_formula(1)[0])
        try:
            output = np.asarray(self._compute(self.image, **p), dtype=np.float64)
            if output.shape != expected:
                raise AssertionError(f"{type(self).__name__}._compute returned {output.shape}, "
                                     f"the formula gives {expected}")
            self.output, self.output_shape, self.error = output, expected, None
        except ValueError as e:
            self.output, self.output_shape, self.error = None, None, str(e)
        if self.error is None:  # an invalid setting keeps the selected pixel for when it is fixed
            self._sync_position_sliders(expected)
        self._draw_input(p)
        self._draw_middle(p)
        self._draw_output()
        self._update_extra()
        self.caption.value = self._caption_html()
        self.live.render()

    def _draw_input(self, p):
        ax = self.axes[0]
        (top, bottom), (left, right) = self.pads
        h, w = self.image.shape
        self._input_artist.set_data(self._padded(self.pads))
        extent = (-left - 0.5, w + right - 0.5, h + bottom - 0.5, -top - 0.5)
        self._input_artist.set_extent(extent)
        ax.set_xlim(extent[0], extent[1])
        ax.set_ylim(extent[2], extent[3])
        (r0, r1), (c0, c1) = self.receptive_field()
        self._field.set_xy((c0 - 0.5, r0 - 0.5))
        self._field.set_width(c1 - c0 + 1)
        self._field.set_height(r1 - r0 + 1)
        taps = np.arange(p["window"]) * p["dilation"]
        cols, rows = np.meshgrid(c0 + taps, r0 + taps)
        self._taps.set_offsets(np.column_stack([cols.ravel(), rows.ravel()]))
        self._taps.set_visible(p["dilation"] > 1)
        self._field.set_visible(self.error is None)
        pad_text = "" if p["padding"] == "valid" else f" + pad \u2191{top} \u2193{bottom} \u2190{left} \u2192{right}"
        ax.set_title(f"input {h}x{w}{pad_text}", fontsize=9, y=1.0)  # y given: no search for a free spot

    def _patch(self, p):
        """The input values under the selected window's taps (k x k; padding as ``pad_value``)."""
        (r0, _), (c0, _) = self.receptive_field()
        (top, _), (left, _) = self.pads
        padded = self._padded(self.pads)
        taps = np.arange(p["window"]) * p["dilation"]
        rows, cols = r0 + top + taps, c0 + left + taps
        inside = (rows < padded.shape[0])[:, None] & (cols < padded.shape[1])[None, :]
        patch = padded[np.ix_(np.minimum(rows, padded.shape[0] - 1), np.minimum(cols, padded.shape[1] - 1))]
        return np.where(inside, patch, np.nan)  # taps past the input (invalid arguments) hold nothing

    def _draw_middle(self, p):
        ax = self.axes[1]
        data, title = self._middle_panel(self._patch(p))
        data = np.asarray(data, dtype=np.float64)
        rows, cols = data.shape
        self._middle_artist.set_data(data)
        self._middle_artist.set_clim(*self._middle_clim(data))
        self._middle_artist.set_extent((-0.5, cols - 0.5, rows - 0.5, -0.5))
        ax.set_xlim(-0.5, cols - 0.5)
        ax.set_ylim(rows - 0.5, -0.5)
        ax.set_title(title, fontsize=9, y=1.0)
        if data.size > _MAX_ANNOTATED:
            self._middle_labels.set_labels([], [])
            return
        lo, hi = self._middle_artist.get_clim()
        texts, colors = [], []
        for value in data.ravel():
            texts.append("-" if not np.isfinite(value) else f"{value:.2f}".replace("-0.00", "0.00"))
            light = np.isfinite(value) and (value - lo) / ((hi - lo) or 1.0) < 0.5
            colors.append("white" if light and self.middle_cmap == "gray" else "black")
        r, c = np.divmod(np.arange(data.size), cols)
        self._middle_labels.set_labels(texts, np.column_stack([c, r]), colors)

    def _draw_output(self):
        ax = self.axes[2]
        if self.output is None:
            self._output_artist.set_data(np.full((1, 1), np.nan))
            self._output_artist.set_extent((-0.5, 0.5, 0.5, -0.5))
            ax.set_xlim(-0.5, 0.5)
            ax.set_ylim(0.5, -0.5)
            self._pixel.set_visible(False)
            ax.set_title("no output (ValueError)", fontsize=9, color="#d62728", y=1.0)
            return
        rows, cols = self.output.shape
        self._output_artist.set_data(self.output)
        self._output_artist.set_clim(*self._output_clim(self.output))
        self._output_artist.set_extent((-0.5, cols - 0.5, rows - 0.5, -0.5))
        ax.set_xlim(-0.5, cols - 0.5)
        ax.set_ylim(rows - 0.5, -0.5)
        self._pixel.set_xy((self.col.value - 0.5, self.row.value - 0.5))
        self._pixel.set_visible(True)
        value = self.output[self.row.value, self.col.value]
        ax.set_title(f"output {rows}x{cols}; [{self.row.value},{self.col.value}] = {value:.3f}",
                     fontsize=9, color="black", y=1.0)

    def _caption_html(self):
        call = html.escape(self.layer_call())
        if self.error is not None:
            return f"<code>{call}</code><br><b style='color:#cf222e'>ValueError:</b> {html.escape(self.error)}"
        h, w = self.image.shape
        rows, cols = self.output_shape
        return (f"<code>{call}</code>: input ({h}, {w}) &rarr; output <b>({rows}, {cols})</b><br>"
                f"<code>H_out = {html.escape(self.axis_formula(0)[1])}</code><br>"
                f"<code>W_out = {html.escape(self.axis_formula(1)[1])}</code>")

