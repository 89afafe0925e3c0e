"""BatchNormalization explorer (chapter 9): real conv feature maps, before and after BN, step by step.

The data are the feature maps of Grace Hopper's portrait (``kbook.images``, 128 x 128) under four
fixed 3 x 3 kernels (``CHANNELS``, from chapter 6's filter bank): an edge detector has mean 0 and a
small spread, a blur keeps the photo's mean and spread, so the four channels sit at very different
places and scales, as a real convolution's channels do.  A training batch is ``batch_size``
random 16 x 16 crops of those maps (a fixed, seeded sequence: step t always sees the same crops).

    [ before BN: histogram per channel ] [ after BN ] [ moving_mean by step ] [ moving_variance ]

``training=True`` normalises the batch with its own mean and variance; ``training=False`` with the
moving statistics after ``step`` training steps, which start at mean 0 and variance 1 and approach
the data's statistics by ``moving = moving * momentum + batch * (1 - momentum)``.
"""
import html

import ipywidgets as widgets
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.colors import to_hex

from kbook.images import sample_photo
from kbook.layers import BatchNormalization
from kbook.layers.conv2d import Conv2D
from kbook.widgets.conv_layer import FILTER_BANK, filter_bank
from kbook.widgets.fast_artists import Ticks
from kbook.widgets.live_figure import Explorer

CHANNELS = ("sobel_x", "edge", "sharpen", "blur")
COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red")
BATCH_SIZES = (1, 2, 4, 8, 16, 32, 64)
_BINS = 48
_AFTER_RANGE = 4.0  # after BN: [-4, 4], where a normalised channel lives


def feature_maps(size=128, dtype="float64"):
    """The photo's (size, size, 4) feature maps under the CHANNELS kernels (a kbook Conv2D, no bias)."""
    names = [name for name, _ in FILTER_BANK]
    kernel = filter_bank(len(FILTER_BANK), 3)[..., [names.index(c) for c in CHANNELS]]
    conv = Conv2D(len(CHANNELS), 3, padding="same", use_bias=False, dtype=dtype, name="feature_maps")
    conv.build((1, size, size, 1))
    conv.set_weights([kernel.astype(dtype)])
    return conv(sample_photo(size, dtype=dtype)[None, :, :, None])[0]


def _window_sums(a, crop):
    """Sum of every crop x crop window of a (H, W, C): (H - crop + 1, W - crop + 1, C), by a summed-area table."""
    table = np.zeros((a.shape[0] + 1, a.shape[1] + 1, a.shape[2]))
    table[1:, 1:] = a.cumsum(0).cumsum(1)
    return table[crop:, crop:] - table[:-crop, crop:] - table[crop:, :-crop] + table[:-crop, :-crop]


class CropBatches:
    """Training batches: random crop x crop windows of the feature maps, a fixed sequence.

    Step t (1, 2, ...) uses the first ``batch_size`` of the crops drawn for it, so a larger batch
    adds crops and never changes the others.  ``statistics(batch_size)`` gives every step's batch
    mean and biased variance per channel (from per-window sums, without building the batches).
    """

    def __init__(self, maps, crop=16, max_steps=1000, max_batch=64, seed=0):
        self.maps, self.crop, self.max_steps = maps, crop, max_steps
        rows, cols = maps.shape[0] - crop + 1, maps.shape[1] - crop + 1
        rng = np.random.default_rng(seed)
        self.corners = np.stack([rng.integers(0, rows, (max_steps, max_batch)),
                                 rng.integers(0, cols, (max_steps, max_batch))], axis=-1)
        pixels = crop * crop
        self._mean = _window_sums(maps, crop) / pixels            # every window's mean, (rows, cols, C)
        self._square = _window_sums(maps ** 2, crop) / pixels     # and mean of squares
        # What the moving statistics approach: the mean and variance of the pixels of all windows
        # (a pixel counts as often as windows cover it), i.e. of a batch as large as the data.
        self.data_mean = self._mean.mean(axis=(0, 1))
        self.data_variance = self._square.mean(axis=(0, 1)) - self.data_mean ** 2
        self._stats = {}

    def batch(self, step, batch_size):
        """The (batch_size, crop, crop, C) batch of step ``step`` (1-based)."""
        corner = self.corners[step - 1, :batch_size]
        offsets = np.arange(self.crop)
        r = corner[:, 0, None, None] + offsets[None, :, None]
        c = corner[:, 1, None, None] + offsets[None, None, :]
        return self.maps[r, c]

    def statistics(self, batch_size):
        """(means, variances), each (max_steps, C): every step's batch mean and biased variance."""
        if batch_size not in self._stats:
            corner = self.corners[:, :batch_size]
            mean = self._mean[corner[..., 0], corner[..., 1]].mean(axis=1)
            square = self._square[corner[..., 0], corner[..., 1]].mean(axis=1)
            self._stats[batch_size] = (mean, np.maximum(square - mean ** 2, 0.0))
        return self._stats[batch_size]


def moving_statistics(means, variances, momentum, steps):
    """Keras's moving mean and variance after 0..steps steps: two (steps + 1, C) arrays.

    Starts at mean 0, variance 1 (Keras's initializers); each step does
    ``moving = moving * momentum + batch * (1 - momentum)``, in that order of operations.
    """
    channels = means.shape[1]
    batches = np.concatenate([means[:steps], variances[:steps]], axis=1) * (1 - momentum)
    moving = np.empty((steps + 1, 2 * channels))
    moving[0] = np.concatenate([np.zeros(channels), np.ones(channels)])
    for t in range(steps):  # one update for both statistics: the loop, not the arithmetic, is the cost
        moving[t + 1] = moving[t] * momentum + batches[t]
    return moving[:, :channels], moving[:, channels:]


def _number(value, width, decimals):
    """A float rounded for print, with no "-0.000" (a mean that is 0 up to rounding has either sign)."""
    return f"{round(float(value), decimals) + 0.0:{width}.{decimals}f}"


def _stairs(edges, counts):
    """x, y of a histogram's outline (a step line from the first edge to the last)."""
    x = np.repeat(edges, 2)
    y = np.concatenate([[0.0], np.repeat(counts, 2), [0.0]])
    return x, y


class BatchNormalizationExplorer(Explorer):
    """Normalise batches of conv feature maps step by step; watch the moving statistics approach the data's.

    Controls (Keras's argument names): ``momentum``, ``epsilon``, ``batch_size``, ``training``
    (the call's flag) and ``step`` (training steps taken: each updates the moving statistics with
    one batch).  After each change: ``batch`` (the step's input), ``output`` (what the layer returns
    for it), ``moving_mean`` and ``moving_variance`` (after ``step`` steps).

    Example:
        >>> ex = BatchNormalizationExplorer()
        >>> ex.step.value = 100
        >>> print(ex.summary())
    """

    figsize = (11.0, 2.9)

    def __init__(self, momentum=0.99, epsilon=1e-3, batch_size=16, training=True, step=0, max_steps=1000):
        super().__init__(figsize=self.figsize, layout="none")
        self.data = CropBatches(feature_maps(), max_steps=max_steps, max_batch=max(BATCH_SIZES))
        self.momentum = widgets.FloatSlider(value=momentum, min=0.0, max=0.999, step=0.001, readout_format=".3f",
                                            description="momentum")
        self.epsilon = widgets.FloatLogSlider(value=epsilon, base=10, min=-5, max=0, step=0.5,
                                              readout_format=".0e", description="epsilon")
        self.batch_size = widgets.SelectionSlider(options=BATCH_SIZES, value=batch_size, description="batch_size")
        self.training = widgets.ToggleButtons(options=[("training=True", True), ("training=False", False)],
                                              value=training, style={"button_width": "110px"})
        self.step = widgets.IntSlider(value=step, min=0, max=max_steps, description="step")
        self.batch = self.output = self.moving_mean = self.moving_variance = None
        self._curves_key = None
        self._build_figure()
        self._watch(*self.controls())
        self.update()

    def controls(self):
        return [self.step, self.momentum, self.batch_size, self.epsilon, self.training]

    # --- computing ----------------------------------------------------------------------

    def shown_step(self):
        """The step whose batch the histograms show: the last one taken (the first before any)."""
        return max(self.step.value, 1)

    def compute(self):
        key = (self.batch_size.value, self.momentum.value)
        if key != self._curves_key:  # a step change reuses the curves: they cost 1000 small updates
            means, variances = self.data.statistics(self.batch_size.value)
            self.mean_curve, self.variance_curve = moving_statistics(means, variances, self.momentum.value,
                                                                     self.data.max_steps)
            self._curves_key = key
        self.moving_mean = self.mean_curve[self.step.value]
        self.moving_variance = self.variance_curve[self.step.value]
        self.batch = self.data.batch(self.shown_step(), self.batch_size.value)
        layer = BatchNormalization(momentum=self.momentum.value, epsilon=self.epsilon.value,
                                   dtype="float64", name="explorer_batch_normalization")
        layer.build(self.batch.shape)
        layer.set_weights([np.ones(len(CHANNELS)), np.zeros(len(CHANNELS)), self.moving_mean,
                           self.moving_variance])
        self.output = layer(self.batch, training=self.training.value)

    # --- drawing ------------------------------------------------------------------------

    def _build_figure(self):
        fig = self.live.figure
        axes = fig.subplots(1, 4, gridspec_kw=dict(left=0.015, right=0.99, bottom=0.17, top=0.88, wspace=0.28))
        self.ax_before, self.ax_after, self.ax_mean, self.ax_var = axes
        low, high = self.data.maps.min(), self.data.maps.max()
        pad = 0.05 * (high - low)
        self._edges_before = np.linspace(low - pad, high + pad, _BINS + 1)
        self._edges_after = np.linspace(-_AFTER_RANGE, _AFTER_RANGE, _BINS + 1)
        self._hist = {}
        for ax, edges in ((self.ax_before, self._edges_before), (self.ax_after, self._edges_after)):
            ax.set_xlim(edges[0], edges[-1])
            ax.yaxis.set_visible(False)
            ax.xaxis.set_visible(False)
            Ticks(ax, "x", fontsize=8, nbins=5).set_range(edges[0], edges[-1])
            # One collection per panel (a line per channel): a Line2D apiece costs a draw call each.
            self._hist[ax] = ax.add_collection(LineCollection([], colors=COLORS, linewidths=1.2), autolim=False)
        z = np.linspace(-_AFTER_RANGE, _AFTER_RANGE, 161)
        self._normal = self.ax_after.plot(z, np.exp(-z ** 2 / 2) / np.sqrt(2 * np.pi), ":", color="0.4", lw=1)[0]
        steps = np.arange(self.data.max_steps + 1)
        self._steps = steps
        self._curves = {}
        for ax, target, bounds in ((self.ax_mean, self.data.data_mean, None),
                                   (self.ax_var, self.data.data_variance, None)):
            ax.set_xlim(0, self.data.max_steps)
            ax.add_collection(LineCollection([[(0, v), (self.data.max_steps, v)] for v in target], colors=COLORS,
                                             linestyles="--", linewidths=0.8, alpha=0.7), autolim=False)
            self._curves[ax] = ax.add_collection(LineCollection([], colors=COLORS, linewidths=1.4), autolim=False)
            ax.xaxis.set_visible(False)
            ax.yaxis.set_visible(False)
            Ticks(ax, "x", fontsize=8, nbins=6).set_range(0, self.data.max_steps)
        low, high = min(0.0, self.data.data_mean.min()), max(0.0, self.data.data_mean.max())
        self.ax_mean.set_ylim(low - 0.1 * (high - low), high + 0.2 * (high - low))
        Ticks(self.ax_mean, "y", fontsize=8, nbins=5, grid=True).set_range(*self.ax_mean.get_ylim())
        self.ax_var.set_yscale("log")
        self.ax_var.set_ylim(3e-4, 2.0)  # batch_size 1 ends below the data's variance (crops are uniform)
        Ticks(self.ax_var, "y", fontsize=8, grid=True).set_values([1e-3, 1e-2, 1e-1, 1], ["0.001", "0.01", "0.1", "1"])
        self._now = [ax.axvline(0, color="0.3", lw=0.8) for ax in (self.ax_mean, self.ax_var)]
        self.ax_mean.set_title("moving_mean by step", fontsize=9, y=1.0)
        self.ax_var.set_title("moving_variance by step", fontsize=9, y=1.0)
        self._title_before = self.ax_before.set_title("", fontsize=9, y=1.0)
        self._title_after = self.ax_after.set_title("", fontsize=9, y=1.0)
        # What a control changes; the frames, ticks, grids and targets are drawn once (LiveFigure.blit).
        # The normal curve moves with the panel's y limits, so it is redrawn too.
        self.live.blit(self._hist[self.ax_before], self._hist[self.ax_after], self._normal, self._title_before,
                       self._title_after, self._curves[self.ax_mean], self._curves[self.ax_var], *self._now)

    def _draw_histograms(self, ax, values, edges):
        peak = 0.0
        flat = values.reshape(-1, values.shape[-1])
        width = edges[1] - edges[0]
        outlines = []
        for k in range(flat.shape[1]):
            counts = np.bincount(np.clip(((flat[:, k] - edges[0]) / width).astype(np.intp), 0, _BINS - 1),
                                 minlength=_BINS) / (len(flat) * width)
            outlines.append(np.column_stack(_stairs(edges, counts)))
            peak = max(peak, counts.max())
        self._hist[ax].set_segments(outlines)
        return peak

    def update(self):
        self.compute()
        t = self.shown_step()
        peak = self._draw_histograms(self.ax_before, self.batch, self._edges_before)
        self.ax_before.set_ylim(0, 1.08 * peak)
        peak = self._draw_histograms(self.ax_after, self.output, self._edges_after)
        self.ax_after.set_ylim(0, 1.08 * max(peak, 0.4))
        self._title_before.set_text(f"before BN: step {t}'s batch")
        self._title_after.set_text(f"after BN, training={self.training.value}")
        n = self.step.value + 1
        for ax, curve in ((self.ax_mean, self.mean_curve), (self.ax_var, self.variance_curve)):
            self._curves[ax].set_segments([np.column_stack([self._steps[:n], curve[:n, k]])
                                           for k in range(curve.shape[1])])
        for line in self._now:
            line.set_xdata([self.step.value, self.step.value])
        self.caption.value = self._caption_html()
        self.live.render()

    def _caption_html(self):
        call = (f"BatchNormalization(momentum={self.momentum.value:g}, epsilon={self.epsilon.value:.0e})"
                f"(batch, training={self.training.value})")
        covered = 1 - self.momentum.value ** self.step.value
        legend = " ".join(f"<b style='color:{to_hex(color)}'>&#9632; {name}</b>" for name, color in zip(CHANNELS, COLORS))
        return (f"{legend}<br><code>{html.escape(call)}</code> &mdash; after {self.step.value} steps the moving statistics "
                f"have moved {covered:.0%} of the way from their start (mean 0, variance 1) "
                f"towards the batches' (1 &minus; momentum<sup>step</sup>)")

    # --- text -----------------------------------------------------------------------------

    def summary(self):
        flat_in = self.batch.reshape(-1, len(CHANNELS))
        flat_out = self.output.reshape(-1, len(CHANNELS))
        lines = [f"momentum={self.momentum.value:g}, epsilon={self.epsilon.value:.0e}, "
                 f"batch_size={self.batch_size.value}, training={self.training.value}, step={self.step.value}",
                 f"{'channel':8} {'batch mean':>10} {'batch var':>9} {'moving mean':>11} {'moving var':>10} "
                 f"{'data mean':>9} {'data var':>8} {'out mean':>8} {'out std':>7}"]
        for k, name in enumerate(CHANNELS):
            numbers = [(flat_in[:, k].mean(), 10, 3), (flat_in[:, k].var(), 9, 4), (self.moving_mean[k], 11, 3),
                       (self.moving_variance[k], 10, 4), (self.data.data_mean[k], 9, 3),
                       (self.data.data_variance[k], 8, 4), (flat_out[:, k].mean(), 8, 3), (flat_out[:, k].std(), 7, 3)]
            lines.append(f"{name:8} " + " ".join(_number(*n) for n in numbers))
        return "\n".join(lines)
