"""A matplotlib figure shown as a PNG inside an ipywidgets.Image.

Why not ``%matplotlib widget`` or ``interactive_output``: an Image widget is
redrawn by replacing its bytes, so a slider move never flickers or re-creates the
figure; it needs no extra JupyterLab extension; and it renders the same headless
(tests, benchmarks) as in the browser.  Explorers create their artists once and
update them in place, then call ``render()``.

Speed (a control change should cost at most 30 ms; ``python3 dev.py bench --explorers``
times every explorer): the canvas reuses shaped text and glyph bitmaps and encodes the
PNG quickly (``fast_agg``); an explorer solves its layout once (``freeze_layout``, or
fixed margins), moves artists rather than re-creating them, and draws heat maps,
numbers and ticks with the cheap artists of ``fast_artists``.
"""
import contextlib
from abc import ABC, abstractmethod

import ipywidgets as widgets
import numpy as np
from matplotlib.artist import Artist
from matplotlib.figure import Figure

from kbook.widgets.fast_agg import LiveCanvas, png_bytes


class LiveFigure:
    """Owns one Figure (never pyplot's, so nothing is displayed twice) and its Image widget."""

    def __init__(self, figsize=(8, 3), dpi=90, layout="constrained"):
        self.figure = Figure(figsize=figsize, dpi=dpi, layout=layout)
        LiveCanvas(self.figure)
        self.image = widgets.Image(format="png")
        self.renders = 0
        self._dynamic = None     # the artists ``blit`` redraws; None: every render draws everything
        self._background = None  # the canvas without them, as Agg's saved region

    def freeze_layout(self):
        """Keep the axes where the layout engine put them (at the first render), instead of
        re-solving it on every redraw: constrained layout measures every tick label and title,
        most of a redraw's cost."""
        if self.renders == 0:
            self.figure.canvas.draw()
        self.figure.set_layout_engine("none")

    def blit(self, *artists):
        """Redraw only ``artists`` from now on: the first render draws the figure without them and
        keeps that picture; every render then restores it and draws them on top.

        For a figure whose axes, ticks and labels stay put while bars or numbers change: drawing
        its tick labels and spines was most of a redraw (chapter 8's freezing explorer: 52 ms of
        a 66 ms update, profiled).  The artists are drawn in the order given, above everything
        else.  Call ``redraw_background()`` after changing anything else.
        """
        for artist in artists:
            artist.set_animated(True)  # the figure's own draw leaves animated artists out
        self._dynamic = list(artists)
        self._background = None

    def redraw_background(self):
        """Something outside the ``blit`` artists changed (a limit, a label): draw it all again next time."""
        self._background = None

    def _draw(self):
        canvas = self.figure.canvas
        if self._dynamic is None:
            canvas.draw()
            return
        if self._background is None:
            canvas.draw()
            self._background = canvas.copy_from_bbox(self.figure.bbox)
        else:
            canvas.restore_region(self._background)
        for artist in self._dynamic:
            self.figure.draw_artist(artist)

    def render(self):
        """Draw the figure and hand the PNG to the widget; returns the PNG bytes."""
        self._draw()
        self.image.value = png_bytes(self.figure.canvas.buffer_rgba())
        self.renders += 1
        return self.image.value


class Explorer(ABC):
    """Base for the book's explorers: controls + a LiveFigure + a text summary.

    Subclasses create their controls as attributes named after the Keras
    arguments (``units``, ``activation``, ``strides``, ...), call
    ``self._watch(*controls)`` and implement ``update()`` (recompute, move the
    artists, ``self.live.render()``) and ``summary()`` (plain text a test can check).
    Abstract, like ``SlidingWindowExplorer``: ``inspect.isabstract`` tells such bases from
    the explorers, each of which ``tests/test_widgets.py`` wants a bench case for.
    """

    def __init__(self, figsize=(8, 3), layout="constrained"):
        self.live = LiveFigure(figsize=figsize, layout=layout)
        self.caption = widgets.HTML()

    def _watch(self, *controls):
        for control in controls:
            control.observe(lambda change: self.refresh(), names="value")

    def refresh(self):
        """``update()``, with every message but the picture's held until the picture's has gone.

        The page handles widget messages in order; a caption or a slider's new ``max`` sent first
        keeps the page busy while the picture waits (Conv2DExplorer in headless Chromium: 74-90 ms
        from key press to picture this way, 87-114 ms the other; three runs of 30 presses each).
        """
        with contextlib.ExitStack() as held:
            for widget in (*self.text_widgets(), *self.controls()):
                held.enter_context(widget.hold_sync())
            self.update()

    def text_widgets(self):
        """The widgets besides the picture that ``update()`` writes (held by ``refresh``): the caption."""
        return [self.caption]

    @abstractmethod
    def controls(self):
        """The control widgets, in display order."""

    @abstractmethod
    def update(self):
        """Recompute, move the artists, ``self.live.render()``."""

    @abstractmethod
    def summary(self):
        """Plain text describing what the figure shows (nbval checks it in the chapters)."""

    @property
    def widget(self):
        return widgets.VBox([widgets.HBox(self.controls(), layout={"flex_flow": "row wrap"}),
                             self.caption, self.live.image])

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


class PixelCanvas(Artist):
    """An RGBA array the size of the figure (row 0 at the top), copied onto it as it is.

    For explorers that compose their panels themselves (``paint_cells``) instead of drawing
    axes of images: no resampling, no axes, no layout; only their titles are matplotlib text.

    Example:
        >>> canvas = PixelCanvas(figure)          # canvas.pixels: (height, width, 4) uint8, white
        >>> paint_cells(canvas.pixels, rgba, x0=6, y0=22, box=120)
    """

    def __init__(self, figure):
        super().__init__()
        width, height = figure.canvas.get_width_height()
        self.background = np.full((height, width, 4), 255, dtype=np.uint8)
        self.pixels = self.background.copy()
        figure.add_artist(self)

    def clear(self):
        self.pixels = self.background.copy()
        self.stale = True

    def draw(self, renderer):
        if not self.get_visible():
            return
        gc = renderer.new_gc()
        renderer.draw_image(gc, 0, 0, np.ascontiguousarray(self.pixels[::-1]))  # Agg: row 0 at the bottom
        gc.restore()


def paint_cells(pixels, rgba, x0, y0, box, frame=(85, 85, 85, 255)):
    """Paint ``rgba`` (rows, cols, 4), enlarged by nearest neighbour to fit a ``box`` x ``box`` square
    (so every cell stays a sharp rectangle) and framed by 1 px, centred in the box at (x0, y0) of
    ``pixels``.  Returns the painted (top, left, height, width)."""
    rows, cols = rgba.shape[:2]
    scale = box / max(rows, cols)
    th, tw = max(1, round(rows * scale)), max(1, round(cols * scale))
    top, left = y0 + (box - th) // 2, x0 + (box - tw) // 2
    pixels[top - 1:top + th + 1, left - 1:left + tw + 1] = frame
    pixels[top:top + th, left:left + tw] = rgba[(np.arange(th) * rows) // th][:, (np.arange(tw) * cols) // tw]
    return top, left, th, tw
