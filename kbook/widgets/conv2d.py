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

from kbook.images import sample_photo
from kbook.layers.conv2d import Conv2D
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


def channel_kernel(filters, kernel_size):
    """The channels explorer's kernel ``(kernel_size, kernel_size, 3, filters)``: CHANNEL_FILTERS' recipes."""
    if not 1 <= filters <= len(CHANNEL_FILTERS):
        raise ValueError(f"channel_kernel: `filters` must be 1..{len(CHANNEL_FILTERS)}, got {filters!r}.")
    kernel = np.zeros((kernel_size, kernel_size, 3, filters))
    for f, (_, _, recipe) in enumerate(CHANNEL_FILTERS[:filters]):
        for c, (name, weight) in enumerate(recipe):
            slice_ = make_kernel(name, kernel_size)
            total = np.abs(slice_).sum()
            kernel[:, :, c, f] = weight * (slice_ / total if total > 0 else slice_)
    return kernel


class Conv2DChannelsExplorer(Explorer):
    """Conv2D on an RGB photo: the sum over input channels, and one output map per filter.

    Top row: the photo's red, green and blue channels, and the chosen filter's three kernel
    slices.  Bottom row: each channel correlated with its slice, their sum plus the bias (that
    filter's output map, as ``kbook.layers.Conv2D`` computes it), and every filter's map.
    Controls (Keras's names where Keras has one): ``filters`` (1..4, the first kernels of
    CHANNEL_FILTERS), ``kernel_size``, ``padding``, and ``filter_index`` (whose sum is shown).
    After each change: ``output`` (1, H', W', F) and ``contributions`` (3, H', W'), the chosen
    filter's per-channel terms.

    Example:
        >>> ex = Conv2DChannelsExplorer()
        >>> ex.filter_index.value = 1
        >>> print(ex.summary())
    """

    figsize = (9.6, 4.3)
    dpi = 72
    BIAS = (0.0, 0.05, 0.0, -0.05)
    _MARGIN, _GAP, _TOP, _COLS = 6, 12, 20, 5

    def __init__(self, image=None, size=48, filters=4, kernel_size=3, padding="same", filter_index=1):
        super().__init__(figsize=self.figsize, layout=None)  # no axes: nothing for a layout engine
        self.live.figure.set_dpi(self.dpi)
        image = sample_photo(size, color=True) if image is None else np.asarray(image, dtype=np.float64)
        if image.ndim != 3 or image.shape[-1] != 3:
            raise ValueError(f"Conv2DChannelsExplorer: `image` must be RGB (H, W, 3), got shape {image.shape}.")
        self.x = image[None]  # (1, H, W, 3)
        self.filters = widgets.IntSlider(value=filters, min=1, max=len(CHANNEL_FILTERS), description="filters")
        self.kernel_size = widgets.IntSlider(value=kernel_size, min=1, max=7, description="kernel_size")
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
        f, k = self.filters.value, self.kernel_size.value
        self.kernel = channel_kernel(f, k)
        self.bias = np.array(self.BIAS[:f])
        layer = Conv2D(f, k, padding=self.padding.value, dtype="float64", name="explorer_conv2d")
        layer.build(self.x.shape)
        layer.set_weights([self.kernel, self.bias])
        self.output = layer(self.x)
        # Channel c's term: the same layer on the photo with every other channel zeroed, minus the bias.
        index = min(self.filter_index.value, f - 1)
        terms = []
        for c in range(3):
            only_c = np.zeros_like(self.x)
            only_c[..., c] = self.x[..., c]
            terms.append(layer(only_c)[0, :, :, index] - self.bias[index])
        self.contributions = np.stack(terms)
        self.index = index

    # --- drawing ------------------------------------------------------------------------

    def _build_figure(self):
        import matplotlib

        fig = self.live.figure
        width, height = fig.canvas.get_width_height()
        self._box = min((width - 2 * self._MARGIN - (self._COLS - 1) * self._GAP) // self._COLS,
                        (height - 2 * self._TOP - 4) // 2)
        self._pixels = PixelCanvas(fig)
        self._cmaps = {"diverging": matplotlib.colormaps["RdBu_r"].with_extremes(bad="#f0a050")}
        for c, (name, colour) in zip(CHANNEL_NAMES, _CHANNEL_COLOURS):
            self._cmaps[c] = LinearSegmentedColormap.from_list(name, ["black", colour])
        self._titles = {}
        for row in range(2):
            for col in range(self._COLS):
                x, y = self._slot(row, col)
                self._titles[row, col] = fig.text((x + self._box / 2) / width, 1 - (y - self._TOP + 3) / height, "",
                                                  ha="center", va="top", fontsize=8)
        for c, name in enumerate(CHANNEL_NAMES):  # the photo never changes: paint its channels once
            rgba = self._cmaps[name](self.x[0, :, :, c], bytes=True)
            paint_cells(self._pixels.background, rgba, *self._slot(0, c), self._box)
            self._titles[0, c].set_text(f"x[..., {c}] ({_CHANNEL_COLOURS[c][0]})")

    def _slot(self, row, col):
        """(x, y) of the top-left corner of a panel's box, in pixels from the top-left."""
        return (self._MARGIN + col * (self._box + self._GAP),
                self._TOP + row * (self._box + self._TOP))

    def _diverging(self, data, bound):
        return self._cmaps["diverging"](np.clip((data / bound + 1.0) / 2.0, 0.0, 1.0), bytes=True)

    def _draw(self):
        from kbook.widgets.conv_layer import mosaic

        self._pixels.clear()
        f, k, i = self.filters.value, self.kernel_size.value, self.index
        # One scale for the three terms and their sum, so the sum's colours are comparable.
        chosen = self.output[0, :, :, i]
        bound = float(np.percentile(np.abs(np.concatenate([self.contributions.ravel(), chosen.ravel()])), 99)) or 1.0
        slices = self.kernel[:, :, :, i]
        gap = np.full((k, 1), np.nan)
        strip = np.concatenate([slices[:, :, 0], gap, slices[:, :, 1], gap, slices[:, :, 2]], axis=1)
        paint_cells(self._pixels.pixels, self._diverging(strip, float(np.abs(slices).max()) or 1.0),
                    *self._slot(0, 3), self._box)
        self._titles[0, 3].set_text(f"kernel[:, :, c, {i}], c = 0, 1, 2")
        self._titles[0, 4].set_text(f"bias[{i}] = {self.bias[i]:+.2f}")
        for c, channel in enumerate(CHANNEL_NAMES):
            paint_cells(self._pixels.pixels, self._diverging(self.contributions[c], bound), *self._slot(1, c), self._box)
            self._titles[1, c].set_text(f"x[..., {c}] \u22c6 slice {c}")
        paint_cells(self._pixels.pixels, self._diverging(chosen, bound), *self._slot(1, 3), self._box)
        self._titles[1, 3].set_text(f"sum + bias = map {i}")
        maps = self.output[0]
        scale = np.percentile(np.abs(maps).reshape(-1, f), 99, axis=0)
        scale[scale < 1e-12] = 1.0
        paint_cells(self._pixels.pixels, self._diverging(mosaic(maps / scale), 1.0), *self._slot(1, 4), self._box)
        self._titles[1, 4].set_text(f"all {f} maps: {self.output.shape[1:]}")

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
        return "\n".join([
            f"{self.layer_call()} on one RGB image {self.x.shape} -> {self.output.shape}",
            f"kernel {self.kernel.shape} + bias {self.bias.shape} = {self.kernel.size + self.bias.size} params "
            f"= {k}*{k}*3*{f} + {f}",
            f"filter {i} ({name}: {what}): map {i} = R * kernel[:, :, 0, {i}] + G * kernel[:, :, 1, {i}] "
            f"+ B * kernel[:, :, 2, {i}] + bias[{i}]",
            f"  that sum equals Conv2D's map {i}: {error < 1e-12}",
            "  share of each channel in it (sum of squares): "
            + ", ".join(f"{c} {s:.2f}" for c, s in zip(CHANNEL_NAMES, shares)),
        ])
