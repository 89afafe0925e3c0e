"""The explorers: driven from code, they recompute, redraw in place, and say what they show;
the fast canvas draws exactly the stock pixels; every explorer has a benchmark case."""
import importlib
import inspect
import io
import pkgutil
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from PIL import Image

import kbook.widgets
from kbook.widgets.activation import ActivationExplorer
from kbook.widgets.conv2d import Conv2DExplorer
from kbook.widgets.dense import DenseExplorer
from kbook.widgets import fast_agg
from kbook.widgets.fast_agg import CACHING, LiveCanvas, TextCachingRenderer, png_bytes
from kbook.widgets.fast_artists import CellImage, CellLabels, Outline, single_frame, tick_labels
from kbook.widgets.flatten import FlattenExplorer
from kbook.widgets.live_figure import Explorer, LiveFigure
from kbook.widgets.model import ModelExplorer
from kbook.widgets.pooling import PoolingExplorer

PNG = b"\x89PNG"
BENCH = Path(__file__).resolve().parent.parent / "bench"


def test_dense_explorer_follows_its_controls():
    ex = DenseExplorer(units=3, input_dim=10, batch_size=4)
    figure, renders = ex.live.figure, ex.live.renders
    assert bytes(ex.live.image.value).startswith(PNG)
    ex.units.value = 8
    ex.use_bias.value = False
    assert ex.live.renders == renders + 2          # one redraw per control change
    assert ex.live.figure is figure                # same figure, artists updated in place
    assert "(4, 10) @ W (10, 8)) -> (4, 8)" in ex.summary()
    assert "parameters: 10*8 = 80" in ex.summary()
    assert ex.images[2].get_array().shape == (4, 8)
    # each axis named after its dimension: W's rows are x's columns, y's columns are W's
    assert [[t.get_text() for t in ax.texts] for ax in ex.axes] == [["input_dim", "N"], ["units", "input_dim"],
                                                                  ["units", "N"]]
    assert ex._ticks[1][1].labels.get_texts() == ["0", "9"]   # W's first and last row index
    segments = ex._grids[2].get_segments()
    assert len(segments) == (8 - 1) + (4 - 1) + 1            # one border per cell edge, then the frame
    np.testing.assert_array_equal(segments[-1][[0, 2]], [[-0.5, -0.5], [7.5, 3.5]])  # the frame's corners


def test_dense_explorer_output_is_the_layer_output():
    ex = DenseExplorer(units=5, input_dim=3, batch_size=2, activation="relu")
    layer, x, y = ex.compute()
    assert np.allclose(y, np.maximum(x @ layer.kernel + layer.bias, 0))


def test_activation_explorer_plots_function_and_derivative():
    ex = ActivationExplorer(activation="relu")
    ex.activation.value = "tanh"
    x, y = ex.line_f.get_data()
    _, dy = ex.line_df.get_data()
    assert np.allclose(y, np.tanh(x)) and np.allclose(dy, 1 - np.tanh(x) ** 2)
    assert "f'(-2, -1, 0, 1, 2) = 0.0707, 0.4200, 1.0000, 0.4200, 0.0707" in ex.summary()
    assert ex.caption.value == f"<code>{ex.summary().splitlines()[0]}</code>"
    ex.x_range.value = 2.0
    assert ex.line_f.get_data()[0][-1] == 2.0


def test_activation_explorer_gives_a_flat_curve_a_readable_range():
    ex = ActivationExplorer(activation="linear")   # f' = 1 everywhere
    low, high = ex.ax_df.get_ylim()
    assert low < 1 < high and high - low >= 0.5


def test_explorer_widget_contains_controls_and_image():
    ex = ActivationExplorer()
    box = ex.widget
    assert ex.live.image in box.children
    assert ex.activation in box.children[0].children


# --- rendering -----------------------------------------------------------------------------------

def text_heavy_figure(canvas_class):
    fig = Figure(figsize=(5, 2.5), dpi=90)
    canvas_class(fig)
    ax1, ax2 = fig.subplots(1, 2)
    ax1.plot([0, 1, 2], [0, 1, 4])
    ax1.set_title("tick labels, a title")
    ax1.set_ylabel("rotated label")
    ax2.imshow(np.arange(6).reshape(2, 3))
    for i in range(6):
        ax2.text(i % 3, i // 3, f"{i - 2:.2f}", ha="center", fontsize=7, rotation=15 * i)
    ax2.set_title(r"mathtext $x^2$")
    ax2.text(0, 0, "aliased", antialiased=False)
    ax1.text(0, 0, "a long slanted label, too big to keep", rotation=40, fontsize=11)  # drawn, not kept
    return fig


def pixels(fig):
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba()).copy()


def test_live_canvas_draws_the_stock_pixels_first_time_and_from_its_caches():
    stock = pixels(text_heavy_figure(FigureCanvasAgg))
    live = text_heavy_figure(LiveCanvas)
    assert isinstance(live.canvas.get_renderer(), TextCachingRenderer) == CACHING  # True with the pinned matplotlib
    np.testing.assert_array_equal(pixels(live), stock)
    np.testing.assert_array_equal(pixels(live), stock)  # the second draw reuses shaped text and glyphs


def test_live_canvas_redraws_a_text_whose_background_changed(monkeypatch):
    """A text drawn where it was is pasted from its last drawing only over the same pixels."""
    blended = []
    blend = TextCachingRenderer._blend
    monkeypatch.setattr(TextCachingRenderer, "_blend", lambda self, gc, placed: blended.append(1) or blend(
        self, gc, placed))
    figures = {}
    for canvas_class in (FigureCanvasAgg, LiveCanvas):
        fig = Figure(figsize=(3, 1.5), dpi=90)
        canvas_class(fig)
        ax = fig.add_axes((0.1, 0.1, 0.8, 0.6), xticks=[], yticks=[])
        ax.text(0.5, 0.5, "over the axes", ha="center", transform=ax.transAxes)
        ax.set_title("over the figure")
        figures[canvas_class] = fig, ax
    for facecolor in ("white", "white", "#cde", "#cde", "white"):
        drawn = []
        for fig, ax in figures.values():
            ax.set_facecolor(facecolor)
            drawn.append(pixels(fig))
        np.testing.assert_array_equal(drawn[1], drawn[0])
    if CACHING:
        # 5 draws of 2 texts: the first blends both, a colour change re-blends the one over the axes
        assert len(blended) == 2 + 0 + 1 + 0 + 1


def test_live_canvas_redraws_a_text_whose_colour_or_alpha_changed():
    figures = []
    for canvas_class in (FigureCanvasAgg, LiveCanvas):
        fig = Figure(figsize=(2, 1), dpi=90)
        canvas_class(fig)
        figures.append((fig, fig.text(0.1, 0.5, "the same place")))
    for colour, alpha in (("black", None), ("black", 0.3), ("tab:red", 0.3), ("black", None)):
        drawn = []
        for fig, text in figures:
            text.set_color(colour)
            text.set_alpha(alpha)
            drawn.append(pixels(fig))
        np.testing.assert_array_equal(drawn[1], drawn[0])


def test_png_bytes_decode_to_the_canvas_pixels():
    rgba = pixels(text_heavy_figure(LiveCanvas))
    assert rgba.nbytes > fast_agg._SPLIT_BYTES  # compressed as two halves
    for image in (rgba, rgba[:51], rgba[:7, :9], rgba[:1]):  # odd heights, one piece, one row
        png = png_bytes(np.ascontiguousarray(image))
        assert png.startswith(PNG)
        np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(png))), image)


def _bar_figure(width, blit):
    """A LiveFigure with one bar (above every other artist, as blit draws it) and a title."""
    live = LiveFigure(figsize=(3, 2), dpi=60, layout="none")
    ax = live.figure.add_axes((0.2, 0.2, 0.7, 0.6))
    ax.set_xlim(0, 10)
    ax.set_title("static title")
    bar, = ax.barh([0], [width], zorder=10)
    if blit:
        live.blit(bar)
    return live, bar


def test_blit_draws_what_a_full_draw_draws():
    live, bar = _bar_figure(3, blit=True)
    first = live.render()
    for width in (7, 2):
        bar.set_width(width)
        png = live.render()  # the background restored, the bar drawn on it
        assert png != first
        assert png == _bar_figure(width, blit=False)[0].render()
    live.figure.axes[0].set_title("changed")  # outside the blitted artists: needs a new background
    live.redraw_background()
    expected, _ = _bar_figure(2, blit=False)
    expected.figure.axes[0].set_title("changed")
    assert live.render() == expected.render()


def test_a_control_change_sends_the_picture_before_anything_else(monkeypatch):
    """The page handles messages in order: the picture goes first, then the caption and controls."""
    import ipywidgets

    explorer = Conv2DExplorer(padding="valid")
    sent = []
    monkeypatch.setattr(ipywidgets.Widget, "send_state",
                        lambda self, key=None: sent.append((self, sorted(key) if isinstance(key, (list, set))
                                                            else key)))
    explorer.kernel_size.value = 5  # a new output size: the row and col sliders get a new max
    # (set from code, the slider sends its own value first; moved in the page, it does not)
    senders = [widget for widget, _ in sent if widget is not explorer.kernel_size]
    assert senders[0] is explorer.live.image
    assert explorer.caption in senders and explorer.row in senders
    assert senders.index(explorer.caption) > 0 and senders.index(explorer.row) > 0
    model_explorer = ModelExplorer()
    sent.clear()
    model_explorer.blocks.value = 3
    senders = [widget for widget, _ in sent if widget is not model_explorer.blocks]
    assert senders[0] is model_explorer.live.image and model_explorer.summary_html in senders[1:]


def test_cell_image_draws_what_imshow_draws():
    data = np.random.default_rng(0).standard_normal((5, 7))
    data[1, 2] = np.nan
    images = []
    for draw in ("imshow", "CellImage"):
        fig = Figure(figsize=(3, 2.5), dpi=90)
        LiveCanvas(fig)
        ax = fig.add_axes([0.1, 0.1, 0.8, 0.8])
        if draw == "imshow":
            ax.imshow(data, cmap="coolwarm", vmin=-2, vmax=2, interpolation="nearest")
        else:
            CellImage(ax, data, cmap="coolwarm", vmin=-2, vmax=2)
        images.append(pixels(fig)[..., :3].astype(int))
    differ = np.abs(images[0] - images[1]).max(axis=-1) > 0
    assert differ.mean() < 0.01   # at most a pixel row or column where a cell border falls


@given(data=hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, max_side=6),
                       elements=st.floats(-3, 3) | st.sampled_from([np.nan, np.inf, -np.inf, 1.0, -1.0])),
       limits=st.sampled_from([(None, None), (-1.0, 1.0), (0.5, 0.5), (-2.0, 0.0)]),
       cmap=st.sampled_from(["gray", "coolwarm", "extremes"]))
def test_cell_image_colours_are_the_colour_maps(data, limits, cmap):
    """Colours looked up as ``cmap(norm(data), bytes=True)`` does: under, over, bad, vmin == vmax."""
    import matplotlib
    from matplotlib.colors import Normalize

    if cmap == "extremes":
        cmap = matplotlib.colormaps["viridis"].with_extremes(under="g", over="m", bad="#f7d6a8")
    image = CellImage(Figure().add_subplot(), data, cmap=cmap, vmin=limits[0], vmax=limits[1])
    masked = np.ma.masked_invalid(data)
    norm = Normalize(*limits)
    norm.autoscale_None(masked)
    np.testing.assert_array_equal(image.colours(), image.cmap(norm(masked), bytes=True))


def test_single_frame_draws_the_spines_outline_and_leaves_the_limits_alone():
    images = []
    for single in (False, True):
        fig = Figure(figsize=(3, 2), dpi=90)
        LiveCanvas(fig)
        ax = fig.add_axes((0.15, 0.15, 0.7, 0.7))
        ax.plot([0, 1], [0, 2])
        limits = ax.get_xlim(), ax.get_ylim()
        if single:
            single_frame(ax)
            assert (ax.get_xlim(), ax.get_ylim()) == limits and not ax.get_frame_on()
        images.append(pixels(fig)[..., :3].astype(int))
    differ = np.abs(images[0] - images[1]).max(axis=-1) > 0
    assert differ.sum() <= 4  # at most the four corners, where spines meet and a rectangle joins


@settings(max_examples=60, deadline=None)
@given(x=st.floats(-3, 9), y=st.floats(-3, 9), width=st.floats(-4, 12), height=st.floats(-4, 12),
       limits=st.tuples(st.floats(-5, 0), st.floats(1, 40)), linewidth=st.sampled_from([0.6, 1.0, 1.6, 2.3]),
       style=st.sampled_from(["-", "--", ":"]), fill=st.booleans(), alpha=st.sampled_from([None, 0.5]),
       clip=st.booleans(), axes_coords=st.booleans(), angle=st.sampled_from([0, 0, 30]))
def test_outline_draws_the_pixels_of_a_rectangle(x, y, width, height, limits, linewidth, style, fill, alpha,
                                                 clip, axes_coords, angle):
    images = []
    for kind in (Rectangle, Outline):
        fig = Figure(figsize=(3, 2), dpi=90)
        LiveCanvas(fig)
        ax = fig.add_axes((0.12, 0.1, 0.8, 0.8))
        ax.set_xlim(*limits)
        ax.set_ylim(limits[1], limits[0])  # inverted, as the cell panels are
        box = kind((x, y) if not axes_coords else (x / 10, y / 10), width if not axes_coords else width / 10,
                   height if not axes_coords else height / 10, angle=angle, linewidth=linewidth, linestyle=style,
                   fill=fill, facecolor="#1f77b4", edgecolor="#d62728", alpha=alpha, clip_on=clip,
                   **({"transform": ax.transAxes} if axes_coords else {}))
        ax.add_artist(box)
        images.append(pixels(fig))
    np.testing.assert_array_equal(images[0], images[1])


def test_tick_labels_are_written_as_matplotlib_writes_them():
    assert tick_labels([-1, -0.5, 0, 0.5, 1]) == ["\u22121.0", "\u22120.5", "0.0", "0.5", "1.0"]
    assert tick_labels([0, 0.25, 0.5]) == ["0.00", "0.25", "0.50"]
    assert tick_labels([-1e-17, 5000, 10000]) == ["0", "5000", "10000"]


def test_activation_ticks_are_round_values_inside_the_limits():
    ex = ActivationExplorer(activation="tanh", x_range=2.0)
    for ax in (ex.ax_f, ex.ax_df):
        for ticks, (low, high) in zip(ex._ticks[ax], (ax.get_xlim(), ax.get_ylim())):
            assert len(ticks.values) >= 3 and all(low <= v <= high for v in ticks.values)
            assert ticks.labels.get_texts() == tick_labels(ticks.values)
    assert ex._ticks[ex.ax_f][0].labels.get_texts()[0] == "\u22122"
    assert not ex.ax_f.xaxis.get_visible()  # matplotlib's own Axis is not drawn at all


def test_cell_labels_are_centred_on_their_cells():
    fig = Figure(figsize=(2, 1), dpi=100)
    LiveCanvas(fig)
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_axis_off()
    ax.set_xlim(-0.5, 1.5)
    ax.set_ylim(-0.5, 0.5)
    labels = CellLabels(fontsize=12, color="black")
    ax.add_artist(labels)
    assert (pixels(fig)[..., :3] == 255).all()     # no labels yet: nothing drawn
    labels.set_labels(["10", "-"], [(0, 0), (1, 0)], colors=["black", "red"])
    image = pixels(fig)[..., :3].astype(int)
    dark = np.argwhere(image.sum(axis=-1) < 255)   # the black "10": left half; the red "-" is not dark
    rows, cols = dark[:, 0], dark[:, 1]
    assert abs((rows.min() + rows.max()) / 2 - 50) <= 1.5 and abs((cols.min() + cols.max()) / 2 - 50) <= 1.5
    red = (image[..., 0] > 200) & (image[..., 1] < 100)
    assert red[:, 100:].any() and not red[:, :100].any()
    assert labels.get_texts() == ["10", "-"]


# --- every explorer has a benchmark case ---------------------------------------------------------

def explorer_classes():
    """Every concrete Explorer subclass defined in a kbook.widgets module (bases are abstract)."""
    for info in pkgutil.iter_modules(kbook.widgets.__path__):
        importlib.import_module(f"kbook.widgets.{info.name}")
    found, todo = set(), [Explorer]
    while todo:
        for subclass in todo.pop().__subclasses__():
            todo.append(subclass)
            if not inspect.isabstract(subclass) and subclass.__module__.startswith("kbook.widgets."):
                found.add(subclass)
    return found


@pytest.fixture(scope="module")
def explorer_cases():
    """Every case that the bench/cases_*.py modules' ``explorer_cases()`` register."""
    sys.path.insert(0, str(BENCH))  # the case modules import their helpers as `twins`
    try:
        return [case for path in sorted(BENCH.glob("cases_*.py"))
                for case in getattr(importlib.import_module(path.stem), "explorer_cases", list)()]
    finally:
        sys.path.remove(str(BENCH))


def test_the_search_finds_the_explorers_and_skips_their_bases():
    from kbook.widgets.sliding_window import SlidingWindowExplorer

    found = explorer_classes()
    assert {DenseExplorer, ActivationExplorer, FlattenExplorer, Conv2DExplorer, PoolingExplorer} <= found
    assert Explorer not in found and SlidingWindowExplorer not in found


def test_every_explorer_has_a_bench_case(explorer_cases):
    benched = {type(case["explorer"]) for case in explorer_cases}
    missing = sorted(f"{c.__module__}.{c.__qualname__}" for c in explorer_classes() - benched)
    assert not missing, (f"no bench case for {missing}: add explorer_cases() to your chapter's "
                         "bench/cases_<chapter>.py (see CONTRIBUTING.md, 'An explorer')")


def test_every_bench_move_changes_its_control_and_redraws_once(explorer_cases):
    for case in explorer_cases:
        explorer = case["explorer"]
        for control, value in case["moves"] * 2:   # twice round: the cycle must also close
            before = explorer.live.renders
            case["kbook"]()
            assert getattr(explorer, control).value == value
            assert explorer.live.renders == before + 1, (case["name"], control, value)


def test_every_bench_case_has_a_control_the_browser_bench_can_press(explorer_cases):
    twins = sys.modules["twins"]  # imported by the case modules
    for case in explorer_cases:
        name, keys = twins.key_control(case)
        assert getattr(case["explorer"], name) in case["explorer"].controls() and len(keys) == 2
