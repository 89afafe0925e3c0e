"""Artists that keep a redraw cheap where matplotlib's own are costly.

``CellImage``: a small 2-D array drawn as coloured cells, as ``imshow(interpolation=
"nearest")`` draws it.  ``AxesImage`` resamples and colour-maps at screen resolution in
floating point on every draw (3-5 ms a panel on a slow machine); ``CellImage`` looks the
colours up on the small array and copies them to the screen pixels with one integer
index per pixel row and column.  The look-up is ``cmap(norm(data), bytes=True)``'s own
arithmetic on plain arrays: the masked arrays ``Normalize`` and ``Colormap`` go through
cost more than the look-up itself on arrays this small.

``CellLabels``: many short labels (the numbers in a grid of cells) drawn as one filled
path per colour.  A ``Text`` costs a layout and a rasterisation of its glyphs on every
redraw (~0.2 ms each even with ``fast_agg``'s caches), so a grid of 100 numbers would
blow a control change's budget alone; ``CellLabels`` keeps every character's outline
(once per font size) and draws all its labels in one Agg call.  The glyphs are
unhinted outlines of the same font: a touch softer than ``Text`` at small sizes.

``single_frame``: an axes' frame as one rectangle outline instead of its background patch
and four spines (five draws, each with its own transforms and graphics context).

``Outline``: a ``Rectangle`` (unrotated) that puts its four corners on the screen with one
transform call per draw, instead of building and composing its patch transform: the same
path, graphics context and pixels, for two thirds of the cost.

``Ticks``: the tick labels and grid lines of one axis.  matplotlib's ``Axis`` keeps a
``Tick`` per value (two lines and two texts, each measured for its bounding box) and
re-runs its locator and formatter on every draw: most of a redraw of a line plot.
``Ticks`` picks the values with the same ``MaxNLocator`` and draws them as one
``CellLabels`` and one ``LineCollection``.
"""
import matplotlib
import numpy as np
from matplotlib import artist
from matplotlib.collections import LineCollection
from matplotlib.colors import Normalize, to_rgba
from matplotlib.font_manager import FontProperties
from matplotlib.patches import Rectangle
from matplotlib.path import Path
from matplotlib.textpath import TextPath, text_to_path
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import IdentityTransform, offset_copy

MINUS = "\u2212"  # matplotlib's tick labels use the typographic minus


class CellImage(artist.Artist):
    """``data[i, j]`` as a cell of colour ``cmap(norm(data[i, j]))`` over ``extent`` in ``ax``.

    Like ``ax.imshow(data, cmap=..., vmin=..., vmax=..., interpolation="nearest")``:
    ``extent = (left, right, bottom, top)`` with row 0 at ``top``; NaN cells take the
    colour map's "bad" colour; ``aspect="equal"`` makes the axes' cells square as imshow
    does (``None`` leaves the aspect alone).  ``set_data``, ``set_extent`` (which moves the
    limits of axes still autoscaling), ``set_clim``, ``get_clim`` and ``get_array`` behave as
    AxesImage's.

    Example:
        >>> image = CellImage(ax, np.eye(3), cmap="gray", vmin=0, vmax=1)
        >>> image.set_data(np.ones((2, 4))); image.set_extent((-0.5, 3.5, 1.5, -0.5))
    """

    zorder = 0  # under everything, as images are

    def __init__(self, ax, data, cmap="viridis", vmin=None, vmax=None, extent=None, aspect="equal"):
        super().__init__()
        self.cmap = matplotlib.colormaps[cmap] if isinstance(cmap, str) else cmap
        self.norm = Normalize(vmin, vmax)
        ax.add_artist(self)
        if aspect is not None:
            ax.set_aspect(aspect)
        self.set_data(data)
        rows, cols = self._data.shape
        self.set_extent(extent or (-0.5, cols - 0.5, rows - 0.5, -0.5))

    def set_data(self, data):
        self._data = np.asarray(data, dtype=float)
        self.stale = True

    def get_array(self):
        return self._data

    def set_extent(self, extent):
        """``(left, right, bottom, top)``; axes still autoscaling follow it, as with AxesImage."""
        self._extent = left, right, bottom, top = tuple(float(e) for e in extent)
        if self.axes.get_autoscalex_on():
            self.axes.set_xlim(left, right, auto=None)
        if self.axes.get_autoscaley_on():
            self.axes.set_ylim(bottom, top, auto=None)
        self.stale = True

    def get_extent(self):
        return self._extent

    def set_clim(self, vmin, vmax):
        self.norm.vmin, self.norm.vmax = vmin, vmax
        self.stale = True

    def get_clim(self):
        return self.norm.vmin, self.norm.vmax

    def _cell_indices(self, start, end, first, last, count):
        """Screen pixels [first, last) -> index of the cell whose span holds each pixel's centre."""
        centres = np.arange(first, last) + 0.5
        return np.clip(np.floor((centres - start) / (end - start) * count).astype(int), 0, count - 1)

    def colours(self):
        """``cmap(norm(data), bytes=True)`` (rows, cols, 4) uint8; NaN and infinite cells take "bad"."""
        data = self._data
        if not self.norm.scaled():
            self.norm.autoscale_None(np.ma.masked_invalid(data))
        if type(self.norm) is not Normalize or self.norm.clip or not self.norm.scaled():  # rare: the stock way
            return self.cmap(self.norm(np.ma.masked_invalid(data)), bytes=True)
        cmap, vmin, vmax = self.cmap, float(self.norm.vmin), float(self.norm.vmax)
        if vmin > vmax:
            raise ValueError("CellImage: minvalue must be less than or equal to maxvalue")
        cmap._ensure_inited()
        # The steps of Normalize.__call__ and Colormap._get_rgba_and_mask, in their order.
        x = np.zeros_like(data) if vmin == vmax else (data - vmin) / (vmax - vmin)
        x *= cmap.N
        x[x == cmap.N] = cmap.N - 1
        under, over, bad = x < 0, x >= cmap.N, ~np.isfinite(data)
        with np.errstate(invalid="ignore"):
            index = x.astype(int)
        index[under] = cmap._i_under
        index[over] = cmap._i_over
        index[bad] = cmap._i_bad
        return (cmap._lut * 255).astype(np.uint8).take(index, axis=0, mode="clip")

    @artist.allow_rasterization
    def draw(self, renderer):
        if not self.get_visible() or self._data.size == 0:
            return
        colours = self.colours()
        left, right, bottom, top = self._extent
        (x_left, y_bottom), (x_right, y_top) = self.get_transform().transform([(left, bottom), (right, top)])
        box = self.axes.bbox
        x0, x1 = max(round(min(x_left, x_right)), round(box.x0)), min(round(max(x_left, x_right)), round(box.x1))
        y0, y1 = max(round(min(y_bottom, y_top)), round(box.y0)), min(round(max(y_bottom, y_top)), round(box.y1))
        if x1 <= x0 or y1 <= y0:
            return
        rows, cols = self._data.shape
        col = self._cell_indices(x_left, x_right, x0, x1, cols)
        row = self._cell_indices(y_top, y_bottom, y0, y1, rows)  # from the bottom pixel row up, as Agg wants
        # Each RGBA colour as one uint32, so the copy moves whole pixels rather than bytes; the
        # columns of the small array first, then whole pixel rows: 4x faster than one 2-D gather
        # (a 218 x 218 px panel of 64 x 64 cells: 54 us instead of 212, measured).
        pixels = np.ascontiguousarray(colours).view(np.uint32)[..., 0][:, col][row]
        gc = renderer.new_gc()
        self._set_gc_clip(gc)
        renderer.draw_image(gc, x0, y0, pixels.view(np.uint8).reshape(len(row), len(col), 4))
        gc.restore()
        self.stale = False


class CellLabels(artist.Artist):
    """Labels anchored on points (data coordinates unless given a transform): ``set_labels``.

    Args:
        fontsize: in points, as ``Text``'s.
        color: the colour of labels given without their own.
        ha: "center" (the label's middle on its point) or "right" (its end on its point);
            vertically, digits are always centred on the point.

    Example:
        >>> labels = CellLabels(fontsize=8, color="white")
        >>> ax.add_artist(labels)
        >>> labels.set_labels(["0", "1"], [(0, 0), (1, 0)])
    """

    zorder = 3  # over images and lines, as Text is

    def __init__(self, fontsize=8, color="black", ha="center"):
        super().__init__()
        if ha not in ("center", "right"):
            raise ValueError(f"CellLabels: `ha` must be 'center' or 'right', got {ha!r}.")
        self.prop = FontProperties(size=fontsize)
        self.color, self.ha = color, ha
        self._glyphs = {}
        self._texts, self._xy, self._colors = [], np.zeros((0, 2)), []
        outline = self._glyph("0")[0]
        self._middle = (outline[:, 1].min() + outline[:, 1].max()) / 2

    def set_labels(self, texts, xy, colors=None):
        """Show ``texts[i]`` at ``xy[i]``, in ``colors[i]`` if given."""
        self._texts = [str(t) for t in texts]
        self._xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        self._colors = list(colors) if colors is not None else [self.color] * len(self._texts)
        self.stale = True

    def get_texts(self):
        return list(self._texts)

    def _glyph(self, char):
        """(outline vertices in points, path codes, advance in points) of one character."""
        if char not in self._glyphs:
            outline = TextPath((0, 0), char, prop=self.prop)
            advance = text_to_path.get_text_width_height_descent(char, self.prop, ismath=False)[0]
            self._glyphs[char] = (outline.vertices, outline.codes, advance)
        return self._glyphs[char]

    def _path(self, indices, anchors, scale):
        vertices, codes = [], []
        for i in indices:
            glyphs = [self._glyph(char) for char in self._texts[i]]
            width = sum(g[2] for g in glyphs) * scale
            x = anchors[i, 0] - (width / 2 if self.ha == "center" else width)
            y = anchors[i, 1] - self._middle * scale
            for outline, outline_codes, advance in glyphs:
                if len(outline):
                    vertices.append(outline * scale + (x, y))
                    codes.append(outline_codes)
                x += advance * scale
        if not vertices:
            return None
        return Path(np.concatenate(vertices), np.concatenate(codes))

    @artist.allow_rasterization
    def draw(self, renderer):
        if not self.get_visible() or not self._texts:
            return
        anchors = self.get_transform().transform(self._xy)
        scale = renderer.points_to_pixels(1.0)
        by_colour = {}
        for i, colour in enumerate(self._colors):
            by_colour.setdefault(colour, []).append(i)
        for colour, indices in by_colour.items():
            path = self._path(indices, anchors, scale)
            if path is None:
                continue
            gc = renderer.new_gc()
            self._set_gc_clip(gc)
            gc.set_linewidth(0)
            renderer.draw_path(gc, path, IdentityTransform(), to_rgba(colour))
            gc.restore()
        self.stale = False


class Outline(Rectangle):
    """A ``Rectangle`` drawn without its patch transform (the rectangle's box composed with the
    data's transform, rebuilt on every draw): the corners go through the data transform once.
    The same path, graphics context and pixels as ``Rectangle``; rotated ones draw as ``Rectangle``
    does.  The sliding-window figure's six rectangles took 17% of its update as ``Rectangle`` (profiled).

    Example:
        >>> box = Outline((-0.5, -0.5), 3, 3, fill=False, edgecolor="red")
        >>> ax.add_patch(box)
    """

    _CODES = Path.unit_rectangle().codes

    @artist.allow_rasterization
    def draw(self, renderer):
        if not self.get_visible():
            return
        if self.angle:
            super().draw(renderer)
            return
        x0, y0, x1, y1 = self._convert_units()
        corners = np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)], dtype=float)
        path = Path(self.get_data_transform().transform(corners), self._CODES)
        self._draw_paths_with_artist_properties(
            renderer, [(path, IdentityTransform(), self._facecolor if self._facecolor[3] else None)])


def single_frame(ax, color="black", linewidth=None):
    """Draw ``ax``'s frame as one rectangle outline (returned) instead of its background and spines.

    For an axes on the figure's own background colour (leaving its background out changes
    nothing) or filled by a ``CellImage``.  The outline sits where the spines were, over
    images and lines (zorder 2.5, as spines), and is never clipped.
    """
    ax.set_frame_on(False)  # no background patch, no spines
    frame = Outline((0, 0), 1, 1, transform=ax.transAxes, fill=False, edgecolor=color, zorder=2.5,
                      linewidth=matplotlib.rcParams["axes.linewidth"] if linewidth is None else linewidth,
                      clip_on=False)
    ax.add_artist(frame)  # not add_patch: the frame is no data, and must not move the limits
    return frame


def tick_labels(values):
    """Tick values as matplotlib writes them: as many decimals as the step needs, a true minus."""
    values = [float(v) for v in values]
    step = min((abs(b - a) for a, b in zip(values, values[1:])), default=1.0) or 1.0
    decimals = next((d for d in range(7) if abs(step * 10 ** d - round(step * 10 ** d)) < 1e-6 * 10 ** d), 6)
    texts = []
    for v in values:
        text = f"{v:.{decimals}f}"
        texts.append((text.lstrip("-") if float(text) == 0 else text).replace("-", MINUS))
    return texts


class Ticks:
    """The tick labels (and, optionally, grid lines) of ``ax``'s x or y axis, cheap to redraw.

    Replaces matplotlib's ticks on that axis (they are switched off).  ``set_range(low,
    high)`` picks round values with ``MaxNLocator(nbins)``; ``set_values(values)`` shows
    given ones.  Labels sit ``pad`` points outside the axes.

    Example:
        >>> ticks = Ticks(ax, "y", grid=True)
        >>> ax.set_ylim(-1.2, 1.2); ticks.set_range(-1.2, 1.2)
    """

    def __init__(self, ax, which, nbins=6, fontsize=10, pad=3.5, grid=False, color="black"):
        if which not in ("x", "y"):
            raise ValueError(f"Ticks: `which` must be 'x' or 'y', got {which!r}.")
        self.ax, self.which = ax, which
        self.locator = MaxNLocator(nbins=nbins, steps=[1, 2, 2.5, 5, 10])
        getattr(ax, f"set_{which}ticks")([])
        # x: data along x, axes fraction along y (and the other way round for y)
        base = ax.get_xaxis_transform() if which == "x" else ax.get_yaxis_transform()
        offset = (0, -pad - 0.4 * fontsize) if which == "x" else (-pad, 0)
        self.labels = CellLabels(fontsize, color=color, ha="center" if which == "x" else "right")
        self.labels.set_transform(offset_copy(base, ax.figure, *offset, units="points"))
        self.labels.set_clip_on(False)
        ax.add_artist(self.labels)
        self.grid = None
        if grid:
            self.grid = LineCollection([], colors=[(0.69, 0.69, 0.69, 0.3)], linewidths=0.8, transform=base,
                                       zorder=0.5)
            ax.add_collection(self.grid, autolim=False)
        self.values = []

    def set_range(self, low, high):
        values = [v for v in self.locator.tick_values(low, high) if low - 1e-9 <= v <= high + 1e-9]
        self.set_values(values)

    def set_values(self, values, texts=None):
        self.values = list(values)
        texts = tick_labels(self.values) if texts is None else texts
        along = np.asarray(self.values, dtype=float)
        points = np.column_stack([along, np.zeros_like(along)])
        self.labels.set_labels(texts, points if self.which == "x" else points[:, ::-1])
        if self.grid is not None:
            ends = [((v, 0), (v, 1)) if self.which == "x" else ((0, v), (1, v)) for v in self.values]
            self.grid.set_segments(ends)

