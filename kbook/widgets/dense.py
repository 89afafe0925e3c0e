"""Dense explorer: change units, input size, batch size, activation; watch shapes and values.

Three heat maps side by side: the input x (N, in), the kernel W (in, units) and
the output y = activation(x @ W + b) (N, units).  The caption keeps the shape
arithmetic and the parameter count in view; a colour bar on the right reads the
colours as numbers (values beyond +-1.5 take the end colours).
"""
import ipywidgets as widgets
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.transforms import offset_copy

from kbook import activations
from kbook.layers import Dense
from kbook.widgets.fast_artists import CellImage, CellLabels, Ticks
from kbook.widgets.live_figure import Explorer

ELEMENTWISE = sorted(n for n in activations.ALL_OBJECTS_DICT
                     if n not in activations.NOT_ELEMENTWISE and n != "threshold")
MAX_SIZE = 16
FRAME_COLOR = "black"
LIMIT = 1.5  # the colour scale: -LIMIT (blue) .. +LIMIT (red), shared by the three panels
# The dimension each panel's rows and columns stand for: W's rows are x's columns, y's are W's.
PANELS = (("N", "input_dim"), ("input_dim", "units"), ("N", "units"))


class DenseExplorer(Explorer):
    """Controls (named after Dense's arguments where Dense has one):
    ``units``, ``activation``, ``use_bias``, plus ``input_dim`` and ``batch_size``.

    Example:
        >>> ex = DenseExplorer()
        >>> ex.units.value = 8
        >>> print(ex.summary())
    """

    def __init__(self, units=3, input_dim=10, batch_size=4, activation="sigmoid", use_bias=True, seed=0):
        super().__init__(figsize=(9, 3), layout="none")
        self.seed = seed
        self.units = widgets.IntSlider(value=units, min=1, max=MAX_SIZE, description="units")
        self.input_dim = widgets.IntSlider(value=input_dim, min=1, max=MAX_SIZE, description="input_dim")
        self.batch_size = widgets.IntSlider(value=batch_size, min=1, max=MAX_SIZE, description="batch N")
        self.activation = widgets.Dropdown(options=ELEMENTWISE, value=activation, description="activation")
        self.use_bias = widgets.Checkbox(value=use_bias, description="use_bias")
        self._build_figure()
        self._watch(self.units, self.input_dim, self.batch_size, self.activation, self.use_bias)
        self.update()

    def _build_figure(self):
        # Fixed margins and label positions rather than a layout engine: re-solving a layout
        # on every redraw measured every tick label and title, most of a control change's cost.
        fig = self.live.figure
        self.axes = fig.subplots(1, 3, gridspec_kw=dict(left=0.04, right=0.9, bottom=0.16, top=0.9, wspace=0.25))
        self.images, self._grids, self._ticks = [], [], []
        for ax, (rows, cols) in zip(self.axes, PANELS):
            self.images.append(CellImage(ax, np.zeros((1, 1)), cmap="coolwarm", vmin=-LIMIT, vmax=LIMIT))
            # Cell borders (white, to count cells) and the panel's frame (dark) in one collection:
            # the frame replaces the axes' four spines and background, five draws a panel.
            grid = LineCollection([], linewidths=0.6)
            ax.add_collection(grid)
            ax.set_frame_on(False)
            self._grids.append(grid)
            # First and last index only, as two cheap labels per axis (see Ticks).
            self._ticks.append((Ticks(ax, "x", fontsize=8, pad=2), Ticks(ax, "y", fontsize=8, pad=2)))
            # The dimension each axis stands for, a fixed distance outside the (resizing) panel;
            # plain texts, so the Axis objects can be hidden (they cost a redraw even without ticks).
            ax.text(0.5, 0, cols, fontsize=9, ha="center", va="top",
                    transform=offset_copy(ax.transAxes, fig, y=-12, units="points"))
            ax.text(0, 0.5, rows, fontsize=9, ha="right", va="center", rotation=90,
                    transform=offset_copy(ax.transAxes, fig, x=-13, units="points"))
            ax.xaxis.set_visible(False)
            ax.yaxis.set_visible(False)
        self._build_colorbar(fig)

    def _build_colorbar(self, fig):
        # Drawn once and never changed: a column of cells and three labels (cheap to redraw,
        # unlike fig.colorbar, whose axis and ticks cost as much as a panel).
        self.colorbar = fig.add_axes((0.975, 0.16, 0.012, 0.74))
        levels = np.linspace(LIMIT, -LIMIT, 64)[:, None]
        CellImage(self.colorbar, levels, cmap="coolwarm", vmin=-LIMIT, vmax=LIMIT,
                  extent=(0, 1, -LIMIT, LIMIT), aspect=None)
        self.colorbar.set_xlim(0, 1)
        self.colorbar.set_ylim(-LIMIT, LIMIT)
        # Labels on the bar's left, right-aligned (CellLabels' choices: centred or right).
        self.colorbar_labels = CellLabels(fontsize=8, ha="right")
        self.colorbar_labels.set_transform(offset_copy(self.colorbar.get_yaxis_transform(), fig, x=-2,
                                                       units="points"))
        self.colorbar_labels.set_clip_on(False)
        self.colorbar.add_artist(self.colorbar_labels)
        self.colorbar_labels.set_labels([f"\u2265{LIMIT:g}", "0", f"\u2264\u2212{LIMIT:g}"],
                                        np.array([[0.0, LIMIT], [0.0, 0.0], [0.0, -LIMIT]]))
        self.colorbar.xaxis.set_visible(False)
        self.colorbar.yaxis.set_visible(False)

    def controls(self):
        return [self.units, self.input_dim, self.batch_size, self.activation, self.use_bias]

    def compute(self):
        """The layer and its input and output for the current control values."""
        rng = np.random.default_rng(self.seed)
        x = rng.standard_normal((self.batch_size.value, self.input_dim.value))
        layer = Dense(self.units.value, activation=self.activation.value,
                      use_bias=self.use_bias.value, name="explorer_dense", dtype="float64")
        layer.build(x.shape)
        layer.set_weights([rng.standard_normal(w.shape) * 0.5 for w in layer.get_weights()])
        return layer, x, layer(x)

    def update(self):
        self.layer, x, y = self.compute()
        titles = [f"x {x.shape}", f"kernel W {self.layer.kernel.shape}", f"y {y.shape}"]
        for ax, image, grid, ticks, data, title in zip(self.axes, self.images, self._grids, self._ticks,
                                                       (x, self.layer.kernel, y), titles):
            self._draw_panel(ax, image, grid, ticks, data)
            ax.set_title(title, y=1.0, fontsize=10)  # y given: no search for a free spot
        self.caption.value = f"<code>{self.formula()}</code> &nbsp; {self.layer.count_params()} parameters"
        self.live.render()

    @staticmethod
    def _draw_panel(ax, image, grid, ticks, data):
        rows, cols = data.shape
        image.set_data(data)
        image.set_extent((-0.5, cols - 0.5, rows - 0.5, -0.5))
        ax.set_xlim(-0.5, cols - 0.5)
        ax.set_ylim(rows - 0.5, -0.5)
        xs, ys = np.arange(1, cols) - 0.5, np.arange(1, rows) - 0.5
        inner = [[(c, -0.5), (c, rows - 0.5)] for c in xs] + [[(-0.5, r), (cols - 0.5, r)] for r in ys]
        left, right, top, bottom = -0.5, cols - 0.5, -0.5, rows - 0.5
        frame = [[(left, top), (right, top), (right, bottom), (left, bottom), (left, top)]]
        grid.set_segments(inner + frame)
        grid.set_color(["white"] * len(inner) + [FRAME_COLOR])
        grid.set_linewidth([0.6] * len(inner) + [0.8])
        # The first and last index only: the title gives the sizes, the grid the cells.
        ticks[0].set_values(sorted({0, cols - 1}))
        ticks[1].set_values(sorted({0, rows - 1}))

    def formula(self):
        n, d, u = self.batch_size.value, self.input_dim.value, self.units.value
        bias = f" + b ({u},)" if self.use_bias.value else ""
        return f"y = {self.activation.value}(x ({n}, {d}) @ W ({d}, {u}){bias}) -> ({n}, {u})"

    def summary(self):
        d, u = self.input_dim.value, self.units.value
        params = d * u + (u if self.use_bias.value else 0)
        return (f"{self.formula()}\n"
                f"parameters: {d}*{u}" + (f" + {u}" if self.use_bias.value else "") + f" = {params}")
