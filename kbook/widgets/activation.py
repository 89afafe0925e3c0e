"""Activation explorer: pick an activation, see f(x) and its derivative f'(x).

The derivative is kbook's backward pass with dL/dy = 1, the same numbers
``tf.GradientTape`` gives (kinks included), so the plot shows what training sees.
"""
import ipywidgets as widgets
import numpy as np

from kbook import activations
from kbook.widgets.fast_artists import Ticks
from kbook.widgets.live_figure import Explorer

ELEMENTWISE = sorted(n for n in activations.ALL_OBJECTS_DICT
                     if n not in activations.NOT_ELEMENTWISE and n != "threshold")


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
            line.set_data(x, data)
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
        x, y, _ = self.compute()
        return (f"{self._range_line(y)}\n"
                f"f(-2, -1, 0, 1, 2)  = {values}\n"
                f"f'(-2, -1, 0, 1, 2) = {slopes}")
