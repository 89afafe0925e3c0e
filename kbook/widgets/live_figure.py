"""A matplotlib figure shown as a PNG inside an ipywidgets.Image.

Why not ``%matplotlib widget`` or ``interactive_output``: an Image widget is
redrawn by replacing its bytes, so a slider move never flickers or re-creates the
figure; it needs no extra JupyterLab extension; and it renders the same headless
(tests, benchmarks) as in the browser.  Explorers create their artists once and
update them in place, then call ``render()``.
"""
import io

import ipywidgets as widgets
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


class LiveFigure:
    """Owns one Figure (never pyplot's, so nothing is displayed twice) and its Image widget."""

    def __init__(self, figsize=(8, 3), dpi=90):
        self.figure = Figure(figsize=figsize, dpi=dpi, layout="constrained")
        FigureCanvasAgg(self.figure)
        self.image = widgets.Image(format="png")
        self.renders = 0

    def render(self):
        """Draw the figure and hand the PNG to the widget; returns the PNG bytes."""
        buffer = io.BytesIO()
        self.figure.canvas.print_png(buffer)
        self.image.value = buffer.getvalue()
        self.renders += 1
        return self.image.value


class Explorer:
    """Base for the book's explorers: controls + a LiveFigure + a text summary.

    Subclasses create their controls as attributes named after the Keras
    arguments (``units``, ``activation``, ``strides``, ...), call
    ``self._watch(*controls)`` and implement ``update()`` (recompute, move the
    artists, ``self.live.render()``) and ``summary()`` (plain text a test can check).
    """

    def __init__(self, figsize=(8, 3)):
        self.live = LiveFigure(figsize=figsize)
        self.caption = widgets.HTML()

    def _watch(self, *controls):
        for control in controls:
            control.observe(lambda change: self.update(), names="value")

    def controls(self):
        raise NotImplementedError

    def update(self):
        raise NotImplementedError

    def summary(self):
        raise NotImplementedError

    @property
    def widget(self):
        return widgets.VBox([widgets.HBox(self.controls(), layout={"flex_flow": "row wrap"}),
                             self.caption, self.live.image])

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)
