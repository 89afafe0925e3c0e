"""Convolution explorers: slide a kernel over a real photograph and watch the shapes, and see
how a filter sums over the input channels.

``Conv2DExplorer`` is built on :class:`kbook.widgets.sliding_window.SlidingWindowExplorer`
(which draws the padded input with the receptive field, the output map and the output-size
formula); this module adds what is special to ``Conv2D``: the ``dilation_rate`` slider, a
choice of ``kernel`` and the kernel panel.  ``Conv2DChannelsExplorer`` works on the RGB photo:
each input channel correlated with its own kernel slice, their sum (one map per filter).
Both outputs are computed by ``kbook.layers.Conv2D`` itself.
"""
import html

import ipywidgets as widgets
import numpy as np
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure

from kbook.images import sample_photo
from kbook.layers.conv2d import Conv2D
from kbook.widgets.fast_agg import LiveCanvas
from kbook.widgets.live_figure import Explorer, PixelCanvas, paint_cells
from kbook.widgets.sliding_window import SlidingWindowExplorer

KERNELS = ("edge", "blur", "sharpen", "emboss", "sobel_x", "sobel_y", "identity", "random")


def make_kernel(name, size, seed=0):
    """A ``size x size`` image kernel by name; every one is defined for any size >= 1.

    edge: -1 around, the rest in the centre (sums to 0: flat regions go to 0);
    blur: the mean of the window; sharpen: 2 * identity - blur; emboss: a diagonal
    gradient plus identity; sobel_x / sobel_y: a derivative across columns / rows,
    smoothed along the other axis with binomial weights; identity: copies the centre
    pixel; random: standard normal numbers (seeded).

    Example:
        >>> make_kernel("edge", 3)
        array([[-1., -1., -1.],
               [-1.,  8., -1.],
               [-1., -1., -1.]])
    """
    if name not in KERNELS:
        raise ValueError(f"make_kernel: `name` must be one of {KERNELS}, got {name!r}.")
    k = int(size)
    c = (k - 1) / 2
    centre = np.zeros((k, k))
    centre[k // 2, k // 2] = 1.0  # for even sizes: the cell just below-right of the middle
    offsets = np.arange(k) - c
    if name == "edge":
        return np.full((k, k), -1.0) + k * k * centre
    if name == "blur":
        return np.full((k, k), 1.0 / (k * k))
    if name == "sharpen":
        return 2 * centre - 1.0 / (k * k)
    if name == "emboss":
        return (offsets[:, None] + offsets[None, :]) / max(c, 1.0) + centre
    if name in ("sobel_x", "sobel_y"):
        smooth = _binomial(k)
        derivative = offsets / max(c, 1.0)
        kernel = smooth[:, None] * derivative[None, :]
        return kernel if name == "sobel_x" else kernel.T.copy()
    if name == "identity":
        return centre
    return np.random.default_rng(seed).standard_normal((k, k))


def _binomial(k):
    row = np.ones(1)
    for _ in range(k - 1):
        row = np.convolve(row, [1.0, 1.0])
    return row


class Conv2DExplorer(SlidingWindowExplorer):
    """Conv2D on a photo. Controls (Keras's names): ``kernel_size``, ``strides``, ``padding``,
    ``dilation_rate``, plus ``kernel`` (which image kernel) and ``row`` / ``col`` (the output
    pixel whose receptive field is outlined).

    Example:
        >>> ex = Conv2DExplorer()
        >>> ex.strides.value = 2
        >>> ex.padding.value = "same"
        >>> print(ex.summary())
    """

    window_arg = "kernel_size"
    layer_name = "Conv2D"
    middle_cmap = "coolwarm"

    def __init__(self, image=None, size=64, kernel_size=3, strides=1, padding="valid", dilation_rate=1,
                 kernel="edge", seed=0):
        self._initial = {"dilation_rate": dilation_rate, "kernel": kernel}
        self.seed = seed
        super().__init__(image=image, size=size, window=kernel_size, strides=strides, padding=padding)

    def _extra_controls(self):
        self.dilation_rate = widgets.IntSlider(value=self._initial["dilation_rate"], min=1, max=4,
                                               description="dilation_rate")
        self.kernel = widgets.Dropdown(options=KERNELS, value=self._initial["kernel"], description="kernel")
        return [self.dilation_rate, self.kernel]

    def _dilation(self):
        return self.dilation_rate.value

    def current_kernel(self):
        return make_kernel(self.kernel.value, self.kernel_size.value, self.seed)

    def _compute(self, image, window, strides, padding, dilation):
        layer = Conv2D(1, window, strides=strides, padding=padding, dilation_rate=dilation,
                       use_bias=False, dtype="float64", name="explorer_conv2d")
        x = image[None, :, :, None]
        layer.build(x.shape)
        layer.set_weights([self.current_kernel()[:, :, None, None]])
        self.layer = layer
        return layer(x)[0, :, :, 0]

    def _middle_panel(self, patch):
        kernel = self.current_kernel()
        self.patch = patch
        return kernel, f"kernel '{self.kernel.value}' {kernel.shape[0]}x{kernel.shape[1]}"

    def _middle_clim(self, data):
        bound = float(np.abs(data).max()) or 1.0
        return -bound, bound

    def _output_clim(self, output):
        return SlidingWindowExplorer._middle_clim(self, output)

    def _extra_args(self):
        return {"dilation_rate": self.dilation_rate.value}

    def _extra_summary(self):
        kernel = self.current_kernel()
        return [f"kernel '{self.kernel.value}' {kernel.shape}, sum of weights {kernel.sum():.3f}"]


# --- channels and filters -----------------------------------------------------------------------

# One kernel per filter, as (name, what it responds to, the per-channel recipe): each recipe entry
# is (image kernel, weight) for the red, green and blue channel.  Filter 1 is why the sum over
# channels matters: its red and blue slices cancel on gray, so it sees colour only.
CHANNEL_FILTERS = (
    ("edges", "vertical edges of the brightness", (("sobel_x", 1 / 3), ("sobel_x", 1 / 3), ("sobel_x", 1 / 3))),
    ("red - blue", "red against blue, blind to gray", (("blur", 1.0), ("blur", 0.0), ("blur", -1.0))),
    ("green blur", "the green channel, blurred", (("blur", 0.0), ("blur", 1.0), ("blur", 0.0))),
    ("rows", "horizontal edges of the brightness", (("sobel_y", 1 / 3), ("sobel_y", 1 / 3), ("sobel_y", 1 / 3))),
)
CHANNEL_NAMES = ("R", "G", "B")
_CHANNEL_COLOURS = (("red", "#e03020"), ("green", "#20a040"), ("blue", "#2060e0"))  # black -> the colour
_CHOSEN = (20, 20, 20, 255)  # the frame around the chosen filter's bias and map


def _words(rgba):
    """An (H, W, 4) uint8 RGBA array seen as (H, W) uint32, one word a pixel: ``paint_cells`` then
    moves a pixel per index instead of four bytes (10x faster, the same pixels)."""
    return rgba.view(np.uint32)[..., 0]


_FRAME = _words(np.array([[[85, 85, 85, 255]]], dtype=np.uint8))[0, 0]   # paint_cells' frame colour, as a word


def channel_kernel(filters, kernel_size):
    """The channels explorer's kernel ``(kernel_size, kernel_size, 3, filters)``: CHANNEL_FILTERS' recipes.

    Each slice is ``make_kernel``'s kernel scaled so its absolute values sum to 1, times the
    recipe's weight: filter 0 (edges) is a vertical-edge detector (sobel_x) on every channel,
    a third each, so it sees the brightness; filter 1 (red - blue) blurs red with weight +1 and
    blue with -1 and ignores green; filter 2 (green blur) blurs green only; filter 3 (rows) is
    sobel_y on every channel, horizontal edges of the brightness.
    """
    if not 1 <= filters <= len(CHANNEL_FILTERS):
        raise ValueError(f"channel_kernel: `filters` must be 1..{len(CHANNEL_FILTERS)}, got {filters!r}.")
    kernel = np.zeros((kernel_size, kernel_size, 3, filters))
    for f, (_, _, recipe) in enumerate(CHANNEL_FILTERS[:filters]):
        for c, (name, weight) in enumerate(recipe):
            slice_ = make_kernel(name, kernel_size)
            total = np.abs(slice_).sum()
            kernel[:, :, c, f] = weight * (slice_ / total if total > 0 else slice_)
    return kernel


class TextStamps:
    """Titles as pixels: matplotlib draws each distinct string once, centred at the top of a small
    figure of its own, and the explorer copies that stamp into its ``PixelCanvas``.  A redraw then
    draws no text at all: even from ``fast_agg``'s glyph cache each glyph costs ~30 us to draw, and
    the channels explorer's ten two-line titles hold ~250 of them.

    Example:
        >>> stamps = TextStamps(138, 24, dpi=72)
        >>> stamps.paint(canvas.pixels, "kernel (3, 3, 3, 4)\\n[:, :, c, 1]", x0=0, y0=2)
    """

    def __init__(self, width, height, dpi, fontsize=8, size=1024):
        self._figure = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
        LiveCanvas(self._figure)
        self.width, self.height = self._figure.canvas.get_width_height()
        self._text = self._figure.text(0.5, 1.0 - 1.0 / self.height, "", ha="center", va="top", fontsize=fontsize)
        self._stamps = {}
        self._size = size

    def stamp(self, text):
        """(height, width, 4) uint8: ``text`` in black on white."""
        stamp = self._stamps.get(text)
        if stamp is None:
            if len(self._stamps) >= self._size:  # a bound, never reached by the explorer's few hundred titles
                self._stamps.clear()
            self._text.set_text(text)
            self._figure.canvas.draw()
            stamp = self._stamps[text] = np.asarray(self._figure.canvas.buffer_rgba()).copy()
        return stamp

    def paint(self, pixels, text, x0, y0):
        """Darken ``pixels`` with the stamp of ``text`` at (x0, y0), clipped to ``pixels``."""
        stamp = self.stamp(text)
        top, left = max(y0, 0), max(x0, 0)
        bottom, right = min(y0 + self.height, pixels.shape[0]), min(x0 + self.width, pixels.shape[1])
        region = pixels[top:bottom, left:right]
        np.minimum(region, stamp[top - y0:bottom - y0, left - x0:right - x0], out=region)


class Conv2DChannelsExplorer(Explorer):
    """Conv2D on an RGB photo: the sum over input channels, and one output map per filter.

    Top row: the photo's red, green and blue channels (input (H, W, 3)), the chosen filter's
    three kernel slices ``kernel[:, :, c, i]`` and the bias.  Bottom row: each channel correlated
    with its slice, their sum plus ``bias[i]`` -- that filter's output map, as
    ``kbook.layers.Conv2D`` computes it -- and every filter's map (the chosen one framed).
    The kernels (``channel_kernel``, from CHANNEL_FILTERS): filter 0 vertical edges on every
    channel, filter 1 red minus blue (blind to gray), filter 2 the green channel blurred,
    filter 3 horizontal edges; the bias is ``BIAS[:filters]``.

    Controls (Keras's names where Keras has one): ``filters`` (1..4), ``kernel_size`` (1..7),
    ``padding`` ("valid" or "same") and ``filter_index`` (whose sum is shown, 0..filters - 1:
    fewer filters clamp it).  After each change: ``output`` (1, H', W', F), the layer's
    output, and ``contributions`` (3, H', W'), the chosen filter's term from each channel.

    Example:
        >>> ex = Conv2DChannelsExplorer()
        >>> ex.filter_index.value = 1
        >>> print(ex.summary())
    """

    figsize = (9.6, 4.5)
    dpi = 72
    BIAS = (0.0, 0.05, 0.0, -0.05)
    _MARGIN, _GAP, _TOP, _COLS = 6, 12, 26, 5   # pixels; _TOP: the band of a two-line title

    def __init__(self, image=None, size=48, filters=4, kernel_size=3, padding="same", filter_index=1):
        image = sample_photo(size, color=True) if image is None else np.asarray(image, dtype=np.float64)
        if image.ndim != 3 or image.shape[-1] != 3:
            raise ValueError(f"Conv2DChannelsExplorer: `image` must be RGB (H, W, 3), got shape {image.shape}.")
        largest = min(7, *image.shape[:2])  # "valid" needs the kernel inside the image
        for name, value, low, high in (("filters", filters, 1, len(CHANNEL_FILTERS)),
                                       ("kernel_size", kernel_size, 1, largest), ("filter_index", filter_index, 0, None)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low or (
                    high is not None and value > high):
                span = f"{low}..{high}" if high is not None else f">= {low}"
                raise ValueError(f"Conv2DChannelsExplorer: `{name}` must be an integer {span}, got {value!r}.")
        if padding not in ("valid", "same"):
            raise ValueError(f"Conv2DChannelsExplorer: `padding` must be 'valid' or 'same', got {padding!r}.")
        super().__init__(figsize=self.figsize, layout=None)  # no axes: nothing for a layout engine
        self.live.figure.set_dpi(self.dpi)
        self.x = image[None]  # (1, H, W, 3)
        self.filters = widgets.IntSlider(value=filters, min=1, max=len(CHANNEL_FILTERS), description="filters")
        self.kernel_size = widgets.IntSlider(value=kernel_size, min=1, max=largest, description="kernel_size")
        self.padding = widgets.ToggleButtons(options=["valid", "same"], value=padding, description="padding",
                                             style={"button_width": "60px"})
        self.filter_index = widgets.IntSlider(value=min(filter_index, filters - 1), min=0, max=filters - 1,
                                              description="filter_index")
        self._clamping = False
        self._build_figure()
        self._watch(self.filters, self.kernel_size, self.padding, self.filter_index)
        self.update()

    def controls(self):
        return [self.filters, self.kernel_size, self.padding, self.filter_index]

    def layer_call(self):
        return (f"Conv2D(filters={self.filters.value}, kernel_size={self.kernel_size.value}, "
                f"padding={self.padding.value!r})")

    # --- computing ----------------------------------------------------------------------

    def compute(self):
        """The layer's output, and the chosen filter's term from each input channel."""
        f, k, padding = self.filters.value, self.kernel_size.value, self.padding.value
        self.index = min(self.filter_index.value, f - 1)
        self.kernel = channel_kernel(f, k)
        self.bias = np.array(self.BIAS[:f])
        self.layer = Conv2D(f, k, padding=padding, dtype="float64", name="explorer_conv2d")
        self.layer.build(self.x.shape)
        self.layer.set_weights([self.kernel, self.bias])
        self.output = self.layer(self.x)
        # Channel c's term (channel c alone through slice c, no bias), for the three channels in one
        # call: output channel c of a layer whose kernel holds slice c at [:, :, c, c] and zeros elsewhere.
        diagonal = np.zeros((k, k, 3, 3))
        for c in range(3):
            diagonal[:, :, c, c] = self.kernel[:, :, c, self.index]
        terms = Conv2D(3, k, padding=padding, use_bias=False, dtype="float64", name="explorer_terms")
        terms.build(self.x.shape)
        terms.set_weights([diagonal])
        self.contributions = np.moveaxis(terms(self.x)[0], -1, 0)

    # --- drawing ------------------------------------------------------------------------

    def _build_figure(self):
        import matplotlib

        fig = self.live.figure
        width, height = fig.canvas.get_width_height()
        self._box = min((width - 2 * self._MARGIN - (self._COLS - 1) * self._GAP) // self._COLS,
                        (height - 2 * self._TOP - 4) // 2)
        self._pixels = PixelCanvas(fig)
        self._stamps = TextStamps(self._box + self._GAP, self._TOP - 3, self.dpi)
        self.titles = {}  # (row, col) -> the title drawn there
        self._cmaps = {"diverging": matplotlib.colormaps["RdBu_r"].with_extremes(bad="#f0a050")}
        for c, (name, colour) in zip(CHANNEL_NAMES, _CHANNEL_COLOURS):
            self._cmaps[c] = LinearSegmentedColormap.from_list(name, ["black", colour])
        h, w = self.x.shape[1:3]
        for c, name in enumerate(CHANNEL_NAMES):  # the photo and its titles never change: painted once
            rgba = self._cmaps[name](self.x[0, :, :, c], bytes=True)
            paint_cells(_words(self._pixels.background), _words(rgba), *self._slot(0, c), self._box, frame=_FRAME)
            header = f"input {(h, w, 3)}" if c == 1 else ""
            self._title(self._pixels.background, 0, c, f"{header}\nx[..., {c}]: {_CHANNEL_COLOURS[c][0]}")

    def _slot(self, row, col):
        """(x, y) of the top-left corner of a panel's box, in pixels from the top-left."""
        return (self._MARGIN + col * (self._box + self._GAP),
                self._TOP + row * (self._box + self._TOP))

    def _title(self, pixels, row, col, text):
        self.titles[row, col] = text
        x, y = self._slot(row, col)
        self._stamps.paint(pixels, text, x - self._GAP // 2, y - self._TOP + 1)

    def _diverging(self, data, bound):
        return self._cmaps["diverging"](np.clip((data / bound + 1.0) / 2.0, 0.0, 1.0), bytes=True)

    def _paint(self, data, bound, row, col):
        return paint_cells(_words(self._pixels.pixels), _words(self._diverging(data, bound)), *self._slot(row, col),
                           self._box, frame=_FRAME)

    def _frame(self, painted, shape, top, left, height, width):
        """Frame cells [top:top + height, left:left + width] of a grid of ``shape`` that ``paint_cells`` painted."""
        y0, x0, th, tw = painted
        rows, cols = shape
        y1, y2 = y0 + top * th // rows, y0 + (top + height) * th // rows
        x1, x2 = x0 + left * tw // cols, x0 + (left + width) * tw // cols
        pixels = self._pixels.pixels
        for band in (pixels[y1:y1 + 2, x1:x2], pixels[y2 - 2:y2, x1:x2], pixels[y1:y2, x1:x1 + 2], pixels[y1:y2, x2 - 2:x2]):
            band[...] = _CHOSEN

    def _draw(self):
        from kbook.widgets.conv_layer import _gap, _grid, mosaic

        self._pixels.clear()
        f, k, i = self.filters.value, self.kernel_size.value, self.index
        pixels = self._pixels.pixels
        # One scale for the three terms and their sum, so the sum's colours are comparable.
        chosen = self.output[0, :, :, i]
        bound = float(np.percentile(np.abs(np.concatenate([self.contributions.ravel(), chosen.ravel()])), 99)) or 1.0
        slices = self.kernel[:, :, :, i]
        gap = np.full((k, 1), np.nan)
        strip = np.concatenate([slices[:, :, 0], gap, slices[:, :, 1], gap, slices[:, :, 2]], axis=1)
        self._paint(strip, float(np.abs(slices).max()) or 1.0, 0, 3)
        self._title(pixels, 0, 3, f"kernel {self.kernel.shape}\n[:, :, c, {i}] for c = 0, 1, 2")
        bias = np.full(2 * f - 1, np.nan)
        bias[::2] = self.bias
        painted = self._paint(bias[None], float(np.abs(self.BIAS).max()), 0, 4)
        self._frame(painted, (1, 2 * f - 1), 0, 2 * i, 1, 1)
        self._title(pixels, 0, 4, f"bias {self.bias.shape}\nbias[{i}] = {self.bias[i]:+.2f}")
        for c in range(3):
            self._paint(self.contributions[c], bound, 1, c)
            header = f"channel \u22c6 slice, filter {i}" if c == 1 else ""
            self._title(pixels, 1, c, f"{header}\nx[..., {c}] \u22c6 kernel[..., {c}, {i}]")
        self._paint(chosen, bound, 1, 3)
        self._title(pixels, 1, 3, f"sum + bias[{i}]\n= output[..., {i}]")
        maps = self.output[0]
        scale = np.percentile(np.abs(maps).reshape(-1, f), 99, axis=0)
        scale[scale < 1e-12] = 1.0
        grid = mosaic(maps / scale)
        painted = self._paint(grid, 1.0, 1, 4)
        h, w = maps.shape[:2]
        g = _gap(h, w)
        row, col = divmod(i, _grid(f)[1])
        self._frame(painted, grid.shape, row * (h + g), col * (w + g), h, w)
        self._title(pixels, 1, 4, f"output {self.output.shape[1:]}\none map per filter")

    def update(self):
        if self._clamping:
            return
        self._clamping = True
        try:  # fewer filters may clamp filter_index, whose observer would redraw a second time
            self.filter_index.max = self.filters.value - 1
        finally:
            self._clamping = False
        self.compute()
        self._draw()
        self.caption.value = (f"<code>{html.escape(self.layer_call())}</code> on one RGB image "
                              f"{self.x.shape} &rarr; <b>{self.output.shape}</b>; kernel "
                              f"{self.kernel.shape}: one (kh, kw) slice per input channel and filter")
        self.live.render()

    # --- text -----------------------------------------------------------------------------

    def summary(self):
        f, k, i = self.filters.value, self.kernel_size.value, self.index
        total = self.contributions.sum(axis=0) + self.bias[i]
        error = float(np.abs(total - self.output[0, :, :, i]).max())
        energy = (self.contributions ** 2).sum(axis=(1, 2))
        shares = energy / energy.sum() if energy.sum() > 0 else energy
        name, what, _ = CHANNEL_FILTERS[i]
        r, c = (s // 2 for s in self.output.shape[1:3])
        terms = " + ".join(f"{CHANNEL_NAMES[ch]} {self.contributions[ch, r, c]:+.4f}" for ch in range(3))
        return "\n".join([
            f"{self.layer_call()} on one RGB image {self.x.shape} -> {self.output.shape}",
            f"kernel {self.kernel.shape} + bias {self.bias.shape} = {self.kernel.size + self.bias.size} params "
            f"= {k}*{k}*3*{f} + {f}",
            f"filter {i} ({name}: {what}): map {i} = R * kernel[:, :, 0, {i}] + G * kernel[:, :, 1, {i}] "
            f"+ B * kernel[:, :, 2, {i}] + bias[{i}]",
            f"  at the centre, output[0, {r}, {c}, {i}]: {terms} + bias {self.bias[i]:+.4f} "
            f"= {self.output[0, r, c, i]:+.4f}",
            f"  that sum equals Conv2D's map {i} everywhere (to 1e-12): {error < 1e-12}",
            "  share of each channel in it (sum of squares): "
            + ", ".join(f"{ch} {s:.2f}" for ch, s in zip(CHANNEL_NAMES, shares)),
        ])
