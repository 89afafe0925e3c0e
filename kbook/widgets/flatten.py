"""Flatten explorer (chapter 5): where each cell of a small (H, W, C) tensor lands in the
flattened vector, for either storage layout and either ``data_format``.
"""
import html

import ipywidgets as widgets
import numpy as np
from matplotlib.colors import ListedColormap

from kbook.layers import Flatten
from kbook.widgets.fast_artists import CellImage, CellLabels, single_frame
from kbook.widgets.live_figure import Explorer


class FlattenExplorer(Explorer):
    """Where each cell of a (1, H, W, C) tensor lands after ``Flatten``.

    Controls: ``height``, ``width``, ``channels``; ``stored_as`` (the layout the array is
    stored in) and ``data_format`` (what Flatten is told).  Top: the channels side by side,
    each cell labelled with its position in the flat vector; bottom: the flat vector,
    coloured by the channel each entry came from.

    Example:
        >>> ex = FlattenExplorer()
        >>> ex.stored_as.value = "channels_first"      # but Flatten is not told
        >>> print(ex.summary())
    """

    MAX_SIDE, MAX_CHANNELS = 5, 4

    def __init__(self, height=3, width=3, channels=2, stored_as="channels_last", data_format="channels_last"):
        super().__init__(figsize=(8.4, 3.6))
        self.height = widgets.IntSlider(value=height, min=1, max=self.MAX_SIDE, description="H")
        self.width = widgets.IntSlider(value=width, min=1, max=self.MAX_SIDE, description="W")
        self.channels = widgets.IntSlider(value=channels, min=1, max=self.MAX_CHANNELS, description="C")
        layouts = ["channels_last", "channels_first"]
        self.stored_as = widgets.ToggleButtons(options=layouts, value=stored_as, description="stored as")
        self.data_format = widgets.ToggleButtons(options=layouts, value=data_format,
                                                 description="data_format")
        self._build_figure()
        self._watch(self.height, self.width, self.channels, self.stored_as, self.data_format)
        self.update()
        self.live.freeze_layout()

    def controls(self):
        return [self.height, self.width, self.channels, self.stored_as, self.data_format]

    def _build_figure(self):
        fig = self.live.figure
        self.ax_grid, self.ax_flat = fig.subplots(2, 1, height_ratios=[3, 1])
        colors = ["#4c72b0", "#dd8452", "#55a868", "#c44e52"]
        self._cmap = ListedColormap(colors).with_extremes(bad="white")
        for ax in (self.ax_grid, self.ax_flat):  # no ticks: hidden Axis objects cost nothing to draw
            ax.xaxis.set_visible(False)
            ax.yaxis.set_visible(False)
            single_frame(ax)  # the cells fill each panel: its background would never show
        kw = dict(cmap=self._cmap, vmin=-0.5, vmax=self.MAX_CHANNELS - 0.5)  # CellImage: imshow's cells, cheaper
        self._grid = CellImage(self.ax_grid, np.zeros((1, 1)), **kw)
        self._flat = CellImage(self.ax_flat, np.zeros((1, 1)), aspect="auto", **kw)
        # Up to 100 + 60 numbers: one path each rather than one Text per number (see CellLabels).
        self._grid_labels = CellLabels(fontsize=8, color="white")
        self._flat_labels = CellLabels(fontsize=6, color="white")
        self.ax_grid.add_artist(self._grid_labels)
        self.ax_flat.add_artist(self._flat_labels)

    def compute(self):
        """(x as stored, flat vector of the source cells' labels, positions (H, W, C) of each cell)."""
        h, w, c = self.height.value, self.width.value, self.channels.value
        cell_id = np.arange(h * w * c, dtype=np.float64).reshape(1, h, w, c)  # id of cell (i, j, k)
        stored = cell_id if self.stored_as.value == "channels_last" else cell_id.transpose(0, 3, 1, 2)
        layer = Flatten(data_format=self.data_format.value, dtype="float64", name="explorer_flatten")
        flat = layer(stored)[0].astype(int)  # flat[p] = id of the cell that lands at p
        position = np.empty(h * w * c, dtype=int)
        position[flat] = np.arange(flat.size)
        return stored, flat, position.reshape(h, w, c)

    def update(self):
        h, w, c = self.height.value, self.width.value, self.channels.value
        self.stored, self.flat, self.position = self.compute()
        # channels side by side, one blank column between them
        canvas = np.full((h, c * (w + 1) - 1), np.nan)
        for k in range(c):
            canvas[:, k * (w + 1):k * (w + 1) + w] = k
        self._grid.set_data(canvas)
        self._grid.set_extent((-0.5, canvas.shape[1] - 0.5, h - 0.5, -0.5))
        self.ax_grid.set_xlim(-0.5, canvas.shape[1] - 0.5)
        self.ax_grid.set_ylim(h - 0.5, -0.5)
        k, i, j = np.meshgrid(np.arange(c), np.arange(h), np.arange(w), indexing="ij")
        self._grid_labels.set_labels(self.position[i, j, k].ravel(),
                                     np.column_stack([(k * (w + 1) + j).ravel(), i.ravel()]))
        self.ax_grid.set_title(f"x: {h}x{w}, {c} channel(s) (colour = channel); "
                               "numbers = position in the flat vector", fontsize=9, y=1.0)  # y: no search
        source_channel = self.flat % c
        self._flat.set_data(source_channel[None, :].astype(float))
        n = self.flat.size
        self._flat.set_extent((-0.5, n - 0.5, 0.5, -0.5))
        self.ax_flat.set_xlim(-0.5, n - 0.5)
        shown = n if n <= 60 else 0  # past 60 entries the numbers would overlap
        self._flat_labels.set_labels(range(shown), np.column_stack([np.arange(shown), np.zeros(shown)]))
        self.ax_flat.set_title(f"Flatten(data_format='{self.data_format.value}') -> (1, {n})", fontsize=9, y=1.0)
        self.caption.value = html.escape(self.order_sentence())
        self.live.render()

    def order_sentence(self):
        h, w, c = self.height.value, self.width.value, self.channels.value
        stored_shape = (1, h, w, c) if self.stored_as.value == "channels_last" else (1, c, h, w)
        matched = self.stored_as.value == self.data_format.value
        if matched:
            rule = f"p = (i*{w} + j)*{c} + k: channels vary fastest"
        else:  # Flatten misreads the layout
            if self.stored_as.value == "channels_first":
                rule = f"p = (k*{h} + i)*{w} + j: a whole channel, then the next"
            else:
                rule = f"p = (j*{c} + k)*{h} + i: Flatten takes axis 1 (H) for the channels and moves it last"
        return f"x stored {self.stored_as.value} {stored_shape}; cell (i, j, k) -> {rule}"

    def summary(self):
        h, w, c = self.height.value, self.width.value, self.channels.value
        firsts = ", ".join(f"({i},{j},{k})" for i, j, k in
                           (np.unravel_index(cell, (h, w, c)) for cell in self.flat[:8]))
        return (f"{self.order_sentence()}\n"
                f"Flatten(data_format='{self.data_format.value}'): {self.stored.shape} -> (1, {self.flat.size})\n"
                f"y[0, 0:{min(8, self.flat.size)}] come from cells (i,j,k): {firsts}")
