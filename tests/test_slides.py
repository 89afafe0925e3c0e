"""The slides: static decks that open offline (`python3 dev.py slides`) and the live slideshow.

The real-browser check (a deck initialises without errors, every slide fits or scrolls, a slider
moves the explorer's picture in the live slideshow) needs Chromium: `python3 dev.py slides-check`.
"""
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

import dev
from slides import build, metadata

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))
URL_IN_CSS = re.compile(r"""@import\s+(?:url\()?\s*['"]?([^'")\s;]+)|url\(\s*['"]?([^'")\s]+)""")


@pytest.fixture(scope="module")
def decks(tmp_path_factory):
    out = tmp_path_factory.mktemp("slides")
    return {path.name.removesuffix(".slides.html"): path.read_text(encoding="utf-8")
            for path in build.build(NOTEBOOKS, out)}


class References(HTMLParser):
    """Every address an HTML page may load: src/href/poster attributes, CSS @import and url()."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.loads, self.links, self.scripts_with_src, self._in_style = [], [], [], False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ("src", "href", "poster", "data", "srcset", "xlink:href"):
            if attrs.get(name) is None:
                continue
            # <a href> is a link the presenter may click (a citation), not something the page loads.
            (self.links if tag == "a" and name == "href" else self.loads).append((tag, attrs[name]))
        if tag == "script" and "src" in attrs:
            self.scripts_with_src.append(attrs["src"])
        if attrs.get("style"):
            self.loads += [("style", a or b) for a, b in URL_IN_CSS.findall(attrs["style"])]
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.loads += [("css", a or b) for a, b in URL_IN_CSS.findall(data)]


def on_this_machine(address):
    """data: URIs, in-page anchors and relative paths stay on the machine; a scheme or // does not."""
    return address.startswith(("data:", "#")) or not re.match(r"^([a-zA-Z][\w+.-]*:|//)", address)


def test_there_is_a_deck_per_chapter(decks):
    assert sorted(decks) == [p.stem for p in NOTEBOOKS]


@pytest.mark.parametrize("name", [p.stem for p in NOTEBOOKS])
def test_deck_loads_nothing_from_off_the_machine(decks, name):
    refs = References()
    refs.feed(decks[name])
    off = [(tag, address[:80]) for tag, address in refs.loads if not on_this_machine(address)]
    assert not off, off
    assert not refs.scripts_with_src  # reveal.js and its notes plugin are inlined, not fetched
    assert "<script" in decks[name] and "Reveal.initialize" in decks[name]
    assert not re.search(r"cdn\.|unpkg\.com|jsdelivr|require\.js|mathjax|mermaid", decks[name], re.I)
    chapter_links = [a for _, a in refs.links if a.endswith(".ipynb")]
    assert not chapter_links  # links between chapters go to their decks


@pytest.mark.parametrize("name", [p.stem for p in NOTEBOOKS])
def test_deck_shows_no_test_markers_prompts_or_dead_widgets(decks, name):
    deck = decks[name]
    assert "NBVAL_" not in deck
    assert not re.search(r"(In|Out)(&nbsp;|\xa0| )?\[\d*\]:", deck)
    assert "application/vnd.jupyter.widget" not in deck  # no widget renderer, no dead sliders
    nb = nbformat.read(ROOT / "book" / f"{name}.ipynb", as_version=4)
    explorers = sum(build.WIDGET_VIEW in o.get("data", {}) for c in nb.cells if c.cell_type == "code"
                    for o in c.outputs)
    stills = re.findall(r'<figure class="kbook-still"><img [^>]*src="data:image/png;base64,', deck)
    assert len(stills) == explorers
    assert deck.count(build.LIVE_NOTE) == explorers


@pytest.mark.parametrize("name", [p.stem for p in NOTEBOOKS])
def test_deck_has_a_section_per_slide_and_the_speaker_notes(decks, name):
    nb = nbformat.read(ROOT / "book" / f"{name}.ipynb", as_version=4)
    types = [c.metadata.get("slideshow", {}).get("slide_type") for c in nb.cells]
    slides = decks[name][:decks[name].index("<script")]  # the sections; the inlined scripts follow
    assert slides.count("<section") >= types.count("slide") + types.count("subslide")
    assert slides.count('<aside class="notes">') == types.count("notes")
    assert "plugins: [RevealNotes]" in decks[name]


def test_still_picture_names_the_control_values():
    state = {
        "box": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_units", "IPY_MODEL_act", "IPY_MODEL_img"]}},
        "units": {"model_name": "IntSliderModel", "state": {"description": "units", "value": 8}},
        "act": {"model_name": "DropdownModel", "state": {"description": "activation", "index": 1,
                                                          "_options_labels": ["linear", "relu"]}},
        "img": {"model_name": "ImageModel", "state": {}, "buffers": [{"data": "iVBORw0KGgo=", "path": ["value"]}]},
    }
    output = nbformat.v4.new_output("display_data", data={build.WIDGET_VIEW: {"model_id": "box"}, "text/plain": "VBox()"})
    html = build.still_picture(output, state)["data"]["text/html"]
    assert '<img src="data:image/png;base64,iVBORw0KGgo="' in html
    assert "units = 8, activation = relu" in html and build.LIVE_NOTE in html


def test_a_wide_code_cell_gets_a_smaller_font_and_a_short_one_does_not():
    short = nbformat.v4.new_code_cell("x = 1")
    wide = nbformat.v4.new_code_cell("y = " + "1 + " * 40 + "1")
    for cell in (short, wide):
        build.fit_code_font(cell)
    assert "kbook_code_px" not in short.metadata
    assert build.MIN_CODE_PX <= wide.metadata["kbook_code_px"] < build.CODE_PX


def test_normalising_slide_metadata_drops_only_continue_and_is_idempotent():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# t"), nbformat.v4.new_code_cell("1"),
                                         nbformat.v4.new_code_cell("2"), nbformat.v4.new_code_cell("3")])
    nb.cells[0].metadata["slideshow"] = {"slide_type": "slide"}
    nb.cells[1].metadata["slideshow"] = {"slide_type": "-"}
    nb.cells[2].metadata["slideshow"] = {"slide_type": None, "data": {"x": "1"}}
    nb.cells[3].metadata["tags"] = ["nbval-ignore-output"]
    assert metadata.normalise(nb) == 2
    assert [c.metadata for c in nb.cells] == [{"slideshow": {"slide_type": "slide"}}, {},
                                              {"slideshow": {"data": {"x": "1"}}}, {"tags": ["nbval-ignore-output"]}]
    assert metadata.normalise(nb) == 0


def test_dev_slides_runs_the_builder_and_slides_check_is_its_own_command():
    command = dev.slides_command(Path("python"), [])
    assert command[1].endswith(str(Path("slides") / "build.py"))
    assert "slides-check" in dev.__doc__
    assert "slides-check" not in " ".join(dev.test_command(Path("python"), []))


def test_live_slideshow_extension_is_installed():
    import jupyterlab_slideshow  # noqa: F401  (present a chapter live: the Deck button in JupyterLab)

    labextension = Path(sys.prefix) / "share" / "jupyter" / "labextensions" / "jupyterlab-slideshow"
    assert (labextension / "package.json").exists()


def test_vendored_reveal_js_is_noted_with_its_licence():
    notes = (ROOT / "slides" / "README.md").read_text()
    for path in build.VENDOR.iterdir():
        assert path.name in notes, f"slides/README.md does not mention {path.name}"
    assert "MIT" in (build.VENDOR / "LICENSE").read_text() or "Permission is hereby granted" in (
        build.VENDOR / "LICENSE").read_text()
