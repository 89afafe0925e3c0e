"""Activation explorer: pick an activation, see f(x) and its derivative f'(x).

The derivative is kbook's backward pass with dL/dy = 1, the same numbers
``tf.GradientTape`` gives (kinks included), so the plot shows what training sees.
Where a curve jumps (relu' at 0, hard_sigmoid' at +-3, hard_shrink itself at +-0.5)
the line is broken rather than joined by a steep segment that is not there.
"""
import ipywidgets as widgets
import numpy as np

from kbook import activations
from kbook.widgets.fast_artists import Ticks, single_frame
from kbook.widgets.live_figure import Explorer

ELEMENTWISE = sorted(n for n in activations.ALL_OBJECTS_DICT
                     if n not in activations.NOT_ELEMENTWISE and n != "threshold")


def jumps(y):
    """Indices i where y jumps between samples i and i + 1 (a kink of f becomes a jump of f').

    On a fine grid a smooth curve's steps change slowly: a step far larger than the steps two
    samples before and after it (and not negligible next to the curve's span) is a jump.
    """
    step = np.abs(np.diff(y))
    if step.size < 5:
        return np.array([], dtype=int)
    around = np.maximum(np.concatenate([step[:2], step[:-2]]), np.concatenate([step[2:], step[-2:]]))
    span = float(np.ptp(y)) if np.isfinite(y).all() else 0.0
    return np.flatnonzero((step > 10 * around + 1e-12) & (step > 1e-3 * span))


def with_breaks(x, y):
    """x and y with a NaN point inserted at every jump of y, so a line plot breaks there."""
    at = jumps(y) + 1
    if at.size == 0:
        return x, y
    return (np.insert(x, at, (x[at - 1] + x[at]) / 2), np.insert(y.astype(float), at, np.nan))


class ActivationExplorer(Explorer):
    """Controls: ``activation`` (any elementwise name Keras accepts) and ``x_range``.

    Example:
        >>> ex = ActivationExplorer()
        >>> ex.activation.value = "gelu"
        >>> print(ex.summary())
    """

    def __init__(self, activation="relu", x_range=5.0, points=801):
        super().__init__(figsize=(8, 3), layout="none")
        self.points = points
        self.activation = widgets.Dropdown(options=ELEMENTWISE, value=activation, description="activation")
        self.x_range = widgets.FloatSlider(value=x_range, min=1.0, max=10.0, step=0.5, description="x range")
        # Fixed margins (room for 5-digit tick labels: exponential reaches 22026 at x = 10)
        # rather than a layout engine re-measuring every tick label on every redraw.
        self.ax_f, self.ax_df = self.live.figure.subplots(
            1, 2, gridspec_kw=dict(left=0.08, right=0.99, bottom=0.1, top=0.9, wspace=0.2))
        (self.line_f,) = self.ax_f.plot([], [], color="tab:blue")
        (self.line_df,) = self.ax_df.plot([], [], color="tab:orange")
        self._ticks = {}
        for ax in (self.ax_f, self.ax_df):
            ax.axhline(0, color="0.8", lw=0.8)
            ax.axvline(0, color="0.8", lw=0.8)
            # Lightweight ticks and grid: matplotlib's Axis was ~3/4 of a redraw (see Ticks).
            self._ticks[ax] = (Ticks(ax, "x", grid=True), Ticks(ax, "y", grid=True))
            ax.xaxis.set_visible(False)
            ax.yaxis.set_visible(False)
            single_frame(ax)  # one outline for the background and four spines: the figure is white anyway
        self._watch(self.activation, self.x_range)
        self.update()

    def controls(self):
        return [self.activation, self.x_range]

    def compute(self):
        fn = activations.get(self.activation.value)
        x = np.linspace(-self.x_range.value, self.x_range.value, self.points)
        return x, fn(x), activations.derivative(fn, x)

    def update(self):
        x, y, dy = self.compute()
        name = self.activation.value
        for ax, line, data, title in ((self.ax_f, self.line_f, y, f"{name}(x)"),
                                      (self.ax_df, self.line_df, dy, f"{name}'(x)")):
            line.set_data(*with_breaks(x, data))
            ax.set_xlim(x[0], x[-1])
            low, high = float(data.min()), float(data.max())
            # A flat curve (linear's slope, 1) gets a readable range, not ticks 1e-4 apart
            # whose long labels run into the next panel.
            span, middle = max(high - low, 0.5), (low + high) / 2
            ax.set_ylim(middle - 0.6 * span, middle + 0.6 * span)
            x_ticks, y_ticks = self._ticks[ax]
            x_ticks.set_range(*ax.get_xlim())
            y_ticks.set_range(*ax.get_ylim())
            ax.set_title(title, y=1.0)  # y given: no search for a spot above the tick labels
        self.caption.value = f"<code>{self._range_line(y)}</code>"
        self.live.render()

    def _range_line(self, y):
        return (f"{self.activation.value} on [-{self.x_range.value:g}, {self.x_range.value:g}]: "
                f"min {y.min():.4f}, max {y.max():.4f}")

    def summary(self):
        fn = activations.get(self.activation.value)
        probe = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
        values = ", ".join(f"{v:.4f}" for v in fn(probe))
        slopes = ", ".join(f"{v:.4f}" for v in activations.derivative(fn, probe))
        x, y, dy = self.compute()
        return (f"{self._range_line(y)}\n"
                f"f(-2, -1, 0, 1, 2)  = {values}\n"
                f"f'(-2, -1, 0, 1, 2) = {slopes}\n"
                f"jumps of f: {self._where(x, y)}; jumps of f': {self._where(x, dy)}")

    @staticmethod
    def _where(x, y):
        # between two samples 1/80 apart: one decimal names the point
        places = sorted({round(float(x[i] + x[i + 1]) / 2, 1) + 0.0 for i in jumps(y)})
        return ("x = " + ", ".join(f"{p:g}" for p in places)) if places else "none"
