"""ConvLayer explorer (chapter 6): the notes' block Conv2D -> ReLU -> MaxPooling2D on a photo.

``ConvLayer`` is the study notes' Layer subclass with the explorer's arguments added
(``strides``, ``padding``, ``pool_size``; the notes fix ``padding='same'`` and a 2x2 pool).
``ConvLayerExplorer`` runs it on Grace Hopper's portrait (``kbook.images``) with a fixed,
deterministic filter bank (edge detectors and friends, one per filter), so the feature
maps mean something, and shows what comes out of each stage with its shape:

    [ input ]  [ Conv2D: one map per filter ]  [ ReLU ]  [ MaxPooling2D ]

Each stage is one mosaic of the filters' maps, painted into a pixel canvas that one artist
copies onto the figure, so a control change costs one forward pass, four titles and one PNG.
"""
import html
import math

import ipywidgets as widgets
import numpy as np

from kbook.images import sample_photo
from kbook.layers import Activation, Conv2D, Layer, MaxPooling2D
from kbook.layers.conv_utils import conv_output_length
from kbook.widgets.conv2d import make_kernel
from kbook.widgets.live_figure import Explorer, PixelCanvas, paint_cells

# One fixed kernel per filter, in this order; (name, what it responds to).
FILTER_BANK = (
    ("sobel_x", "vertical edges"),
    ("sobel_y", "horizontal edges"),
    ("edge", "edges in every direction"),
    ("emboss", "a diagonal relief"),
    ("sharpen", "the photo, sharpened"),
    ("blur", "the photo, blurred"),
)
_GAP_COLOR = "#f0a050"
_ZERO = 1e-12  # |value| below this counts as 0 (a flat region's edge response is 0 up to rounding)


class ConvLayer(Layer):
    """The notes' ``ConvLayer``: Conv2D(padding) -> Activation('relu') -> MaxPooling2D, as one layer.

    Args:
        filters, kernel_size, strides, padding: the Conv2D's arguments (the notes fix
            ``padding='same'`` and ``strides=1``).
        pool_size: the MaxPooling2D's window; its strides equal it (the notes' ``pool_size=2,
            strides=2``, which is also Keras's default).
        **kwargs: ``name``, ``dtype``, ``trainable`` (passed to Layer; the sublayers get the dtype).

    Example:
        >>> block = ConvLayer(16, 3)
        >>> block(np.zeros((8, 32, 32, 3))).shape
        (8, 16, 16, 16)
        >>> [w.shape for w in block.get_weights()]
        [(3, 3, 3, 16), (16,)]
    """

    def __init__(self, filters, kernel_size, strides=1, padding="same", pool_size=2, **kwargs):
        super().__init__(**kwargs)
        self.conv = Conv2D(filters=filters, kernel_size=kernel_size, strides=strides, padding=padding,
                           dtype=self.dtype, name=f"{self.name}_conv")
        self.conv_act = Activation("relu", dtype=self.dtype, name=f"{self.name}_relu")
        self.conv_pool = MaxPooling2D(pool_size=pool_size, strides=pool_size, dtype=self.dtype,
                                      name=f"{self.name}_pool")

    def call(self, x):
        x = self.conv(x)
        x = self.conv_act(x)
        x = self.conv_pool(x)
        return x


def filter_bank(filters, kernel_size, in_channels=1):
    """The explorer's kernel ``(kernel_size, kernel_size, in_channels, filters)``: FILTER_BANK's kernels.

    Each kernel is scaled so its absolute values sum to 1 (a photo in [0, 1] then gives
    responses in [-1, 1]), and spread evenly over the input channels.
    """
    if not 1 <= filters <= len(FILTER_BANK):
        raise ValueError(f"filter_bank: `filters` must be 1..{len(FILTER_BANK)}, got {filters!r}.")
    kernels = []
    for name, _ in FILTER_BANK[:filters]:
        k = make_kernel(name, kernel_size)
        total = np.abs(k).sum()
        kernels.append(k / total if total > 0 else k)
    kernel = np.stack(kernels, axis=-1)[:, :, None, :] / in_channels
    return np.repeat(kernel, in_channels, axis=2)


def _grid(filters):
    cols = math.ceil(math.sqrt(filters))
    return math.ceil(filters / cols), cols


def _gap(h, w):
    return max(1, min(h, w) // 32)


def mosaic(maps, gap=None):
    """(H, W, F) maps -> one 2-D image: the F maps in a grid, separated by NaN gaps."""
    h, w, f = maps.shape
    rows, cols = _grid(f)
    gap = _gap(h, w) if gap is None else gap
    out = np.full((rows * h + (rows - 1) * gap, cols * w + (cols - 1) * gap), np.nan)
    for k in range(f):
        r, c = divmod(k, cols)
        out[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = maps[:, :, k]
    return out


class ConvLayerExplorer(Explorer):
    """Watch a photo flow through ConvLayer: Conv2D -> ReLU -> MaxPooling2D, with the shapes.

    Controls (Keras's argument names): ``filters`` (1..6, the first kernels of FILTER_BANK),
    ``kernel_size``, ``strides``, ``padding`` (of the Conv2D) and ``pool_size`` (the pool's
    window and strides).  After each change: ``stages`` (name -> output array),
    ``shapes`` (name -> shape), ``error`` (a ValueError message, or None).

    Example:
        >>> ex = ConvLayerExplorer()
        >>> ex.filters.value = 2
        >>> print(ex.summary())
    """

    figsize = (9.6, 2.65)
    dpi = 72
    STAGES = ("Conv2D", "Activation('relu')", "MaxPooling2D")

    def __init__(self, image=None, size=64, filters=4, kernel_size=3, strides=1, padding="same",
                 pool_size=2):
        super().__init__(figsize=self.figsize, layout=None)  # no axes: nothing for a layout engine
        self.live.figure.set_dpi(self.dpi)
        image = sample_photo(size) if image is None else np.asarray(image, dtype=np.float64)
        if image.ndim != 2:
            raise ValueError(f"ConvLayerExplorer: `image` must be 2-D (H, W), got shape {image.shape}.")
        self.image = image
        self.x = image[None, :, :, None]  # (1, H, W, 1): a batch of one gray image
        self.filters = widgets.IntSlider(value=filters, min=1, max=len(FILTER_BANK), description="filters")
        self.kernel_size = widgets.IntSlider(value=kernel_size, min=1, max=7, description="kernel_size")
        self.strides = widgets.IntSlider(value=strides, min=1, max=3, description="strides")
        self.padding = widgets.ToggleButtons(options=["valid", "same"], value=padding, description="padding",
                                             style={"button_width": "60px"})
        self.pool_size = widgets.IntSlider(value=pool_size, min=1, max=4, description="pool_size")
        self.layer = None
        self.stages = {}
        self.shapes = {}
        self.error = None
        self._build_figure()
        self._watch(*self.controls())
        self.update()

    def controls(self):
        return [self.filters, self.kernel_size, self.strides, self.padding, self.pool_size]

    def arguments(self):
        return {"filters": self.filters.value, "kernel_size": self.kernel_size.value,
                "strides": self.strides.value, "padding": self.padding.value,
                "pool_size": self.pool_size.value}

    def layer_call(self):
        return "ConvLayer(" + ", ".join(f"{k}={v!r}" for k, v in self.arguments().items()) + ")"

    # --- computing ----------------------------------------------------------------------

    def compute(self):
        """Run the block stage by stage on the photo; fills ``stages``, ``shapes``, ``error``."""
        args = self.arguments()
        self.stages, self.error = {}, None
        self.shapes = {"input": self.x.shape}
        try:
            layer = ConvLayer(**args, dtype="float64", name="explorer_conv_layer")
            layer.conv.build(self.x.shape)
            layer.conv.built = True
            layer.conv.set_weights([filter_bank(args["filters"], args["kernel_size"]),
                                    np.zeros(args["filters"])])
            # What ConvLayer.call does, one stage at a time so each stage's output can be shown.
            y = self.x
            for stage, sublayer in zip(self.STAGES, (layer.conv, layer.conv_act, layer.conv_pool)):
                y = sublayer(y)
                self.stages[stage] = y
                self.shapes[stage] = y.shape
            self.layer = layer
        except ValueError as e:
            self.error = str(e)

    # --- drawing ------------------------------------------------------------------------
    # The four panels are pixels that the explorer composes itself: each stage's mosaic is
    # coloured and enlarged (nearest neighbour, so every cell stays a sharp square) into its
    # slot of one RGBA canvas the size of the figure, and one artist copies that canvas onto
    # the figure (no resampling, no axes).  Only the four titles are matplotlib text.  This
    # keeps a control change well under 30 ms; four axes of images cost several times more.

    _MARGIN, _GAP, _TOP = 6, 14, 22  # pixels: left/right margin, between panels, title band

    def _build_figure(self):
        import matplotlib

        fig = self.live.figure
        width, height = fig.canvas.get_width_height()
        self._slot = min((width - 2 * self._MARGIN - 3 * self._GAP) // 4, height - self._TOP - 4)
        # The gaps between the filters' maps (NaN) in one colour that no value takes.
        self._cmaps = [matplotlib.colormaps["gray"].with_extremes(bad=_GAP_COLOR),
                       matplotlib.colormaps["RdBu_r"].with_extremes(bad=_GAP_COLOR),
                       matplotlib.colormaps["gray"].with_extremes(bad=_GAP_COLOR),
                       matplotlib.colormaps["gray"].with_extremes(bad=_GAP_COLOR)]
        self._pixels = PixelCanvas(fig)
        self.rgba = {}
        self._titles = [fig.text((self._slot_x(k) + self._slot / 2) / width, 1 - 3 / height, "",
                                 ha="center", va="top", fontsize=9) for k in range(4)]
        self._paint(self._pixels.background, 0, self.image)  # the input never changes: paint it once
        self._titles[0].set_text(f"input {self.x.shape}")

    def _slot_x(self, k):
        return self._MARGIN + k * (self._slot + self._GAP)

    def _colour(self, k, data):
        """Panel k's RGBA: Conv2D maps in [-1, 1] on a diverging map, the others in [0, 1]."""
        values = (data + 1.0) / 2.0 if k == 1 else data
        return self._cmaps[k](np.clip(values, 0.0, 1.0), bytes=True)

    def _paint(self, canvas, k, data):
        """Colour ``data`` and paint it, enlarged to fit and framed, into slot ``k`` of ``canvas``."""
        rgba = self._colour(k, data)
        paint_cells(canvas, rgba, self._slot_x(k), self._TOP, self._slot)
        return rgba

    @property
    def canvas(self):
        return self._pixels.pixels

    def _draw(self):
        self._pixels.clear()
        self.rgba = {}
        if self.error is not None:
            for k, stage in enumerate(self.STAGES, start=1):  # empty grey slots: no output
                x0 = self._slot_x(k)
                self.canvas[self._TOP:self._TOP + self._slot, x0:x0 + self._slot] = (235, 235, 235, 255)
                self._titles[k].set_text(f"{stage}: ValueError")
                self._titles[k].set_color("#d62728")
            return
        conv = self.stages["Conv2D"][0]
        # One display scale per filter, shared by its three stages (so ReLU visibly keeps the
        # positive half of the Conv2D map): a high percentile, so a few strong edges do not
        # leave the rest of the map black.
        scale = np.percentile(np.abs(conv).reshape(-1, conv.shape[-1]), 99, axis=0)
        scale[scale < _ZERO] = 1.0
        titles = {"Conv2D": "Conv2D", "Activation('relu')": "ReLU", "MaxPooling2D": "MaxPooling2D"}
        for k, stage in enumerate(self.STAGES, start=1):
            self.rgba[stage] = self._paint(self.canvas, k, mosaic(self.stages[stage][0] / scale))
            self._titles[k].set_text(f"{titles[stage]} \u2192 {self.shapes[stage]}")
            self._titles[k].set_color("black")

    def update(self):
        self.compute()
        self._draw()
        self.caption.value = self._caption_html()
        self.live.render()

    def _caption_html(self):
        call = html.escape(self.layer_call())
        if self.error is not None:
            return f"<code>{call}</code><br><b style='color:#cf222e'>ValueError:</b> {html.escape(self.error)}"
        flow = " &rarr; ".join(f"{html.escape(name)} <b>{self.shapes[name]}</b>"
                               for name in ("input",) + self.STAGES)
        order = ", ".join(name for name, _ in FILTER_BANK[:self.filters.value])
        return (f"<code>{call}</code><br>{flow}<br>"
                f"<small>maps, left to right then top to bottom: {html.escape(order)}</small>")

    # --- text -----------------------------------------------------------------------------

    def _conv_formula(self, length):
        k, s, padding = self.kernel_size.value, self.strides.value, self.padding.value
        out = conv_output_length(length, k, padding, s)
        if padding == "same":
            return f"ceil({length} / {s}) = {out}"
        return f"floor(({length} - {k}) / {s}) + 1 = {out}"

    def _pool_formula(self, length):
        p = self.pool_size.value
        out = conv_output_length(length, p, "valid", p)
        return f"floor(({length} - {p}) / {p}) + 1 = {out}"

    def _sizes(self, formula, h, w):
        """'H, W: formula' when both axes give the same text, else 'H: ..., W: ...'."""
        rows, cols = formula(h), formula(w)
        return f"H, W: {rows}" if rows == cols else f"H: {rows}; W: {cols}"

    def summary(self):
        args = self.arguments()
        f, k = args["filters"], args["kernel_size"]
        lines = [self.layer_call()]
        if self.error is not None:
            lines.append(f"input {self.x.shape} -> ValueError: {self.error}")
            return "\n".join(lines)
        _, h, w, _ = self.x.shape
        conv_h, conv_w = self.shapes["Conv2D"][1:3]
        relu = self.stages["Activation('relu')"]
        zeros = float(np.mean(np.abs(relu) <= _ZERO)) * 100
        params = k * k * 1 * f + f
        rows = [
            ("input", self.x.shape, "one gray image: (batch, height, width, channels)"),
            ("Conv2D", self.shapes["Conv2D"],
             f"kernel ({k}, {k}, 1, {f}) + bias ({f},) = {params} params; "
             + self._sizes(self._conv_formula, h, w)),
            ("Activation('relu')", self.shapes["Activation('relu')"],
             f"same shape; negatives -> 0 ({zeros:.0f}% of the values are 0 now)"),
            ("MaxPooling2D", self.shapes["MaxPooling2D"],
             f"max of each {args['pool_size']}x{args['pool_size']} window; "
             + self._sizes(self._pool_formula, conv_h, conv_w)),
        ]
        width = max(len(name) for name, _, _ in rows)
        shape_width = max(len(str(shape)) for _, shape, _ in rows)
        lines += [f"{name:<{width}}  {str(shape):<{shape_width}}  {text}" for name, shape, text in rows]
        lines.append("filters: " + ", ".join(f"{name} ({what})" for name, what in FILTER_BANK[:f]))
        return "\n".join(lines)
