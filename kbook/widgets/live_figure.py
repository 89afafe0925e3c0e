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
from abc import ABC, abstractmethod

import ipywidgets as widgets
from matplotlib.figure import Figure

from kbook.widgets.fast_agg import LiveCanvas, png_bytes


class LiveFigure:
    """Owns one Figure (never pyplot's, so nothing is displayed twice) and its Image widget."""

    def __init__(self, figsize=(8, 3), dpi=90, layout="constrained"):
        self.figure = Figure(figsize=figsize, dpi=dpi, layout=layout)
        LiveCanvas(self.figure)
        self.image = widgets.Image(format="png")
        self.renders = 0

    def freeze_layout(self):
        """Keep the axes where the layout engine put them (at the first render), instead of
        re-solving it on every redraw: constrained layout measures every tick label and title,
        most of a redraw's cost."""
        if self.renders == 0:
            self.figure.canvas.draw()
        self.figure.set_layout_engine("none")

    def render(self):
        """Draw the figure and hand the PNG to the widget; returns the PNG bytes."""
        self.figure.canvas.draw()
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
            control.observe(lambda change: self.update(), names="value")

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
