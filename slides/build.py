"""Build each chapter as one self-contained reveal.js deck (`python3 dev.py slides`).

    python3 slides/build.py [book/NN_name.ipynb ...] [--out build/slides]

Each deck is a single HTML file that opens from the file system with no network: reveal.js
(vendored in slides/vendor/, see slides/README.md), its speaker-notes plugin, the notebook CSS
and every picture are inlined.  The notebook itself is not changed; the deck is built from a copy
in which:
- test markers (`# NBVAL_IGNORE_OUTPUT`) are taken out of the code,
- each explorer (an ipywidgets display, dead without a kernel) becomes a still picture of its
  stored state with its control values and a caption saying it is live in JupyterLab,
- links to other chapters point to their decks,
- code cells whose longest line would not fit the slide get a smaller code font (down to a floor,
  past which lines wrap), so nothing runs off the right edge.
"""
import base64
import html
import re
import sys
from pathlib import Path

import nbformat
from nbconvert import SlidesExporter
from traitlets.config import Config

SLIDES = Path(__file__).resolve().parent
ROOT = SLIDES.parent
VENDOR = SLIDES / "vendor" / "reveal.js"
TEMPLATES = SLIDES / "template"
OUT = ROOT / "build" / "slides"

# The canvas reveal.js scales to the screen (16:9, like most projectors); sizes are canvas px.
WIDTH, HEIGHT = 1200, 675
CODE_PX, MIN_CODE_PX = 21, 14
CODE_WIDTH_PX = 1110  # the slide width left for a code line, after cell and section padding
MONO_EM = 0.61        # advance of a monospace glyph, in em (DejaVu Sans Mono / Liberation Mono)

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
TEST_MARKER = re.compile(r"^[ \t]*#[ \t]*NBVAL_[A-Z_]+[ \t]*\n?", re.MULTILINE)
CHAPTER_LINK = re.compile(r"\]\((\d\d_\w+)\.ipynb\)")
LIVE_NOTE = "Still picture. The explorer is live in JupyterLab: open this chapter, run it, move the controls."


def build(notebooks, out=OUT):
    """Write one `<name>.slides.html` per notebook into `out`; returns the paths written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    exporter = make_exporter()
    written = []
    for path in map(Path, notebooks):
        body = deck_html(exporter, path)
        target = out / f"{path.stem}.slides.html"
        target.write_text(body, encoding="utf-8")
        written.append(target)
    return written


def make_exporter():
    config = Config()
    config.SlidesExporter.exclude_input_prompt = True   # no `In [n]:` on a slide
    config.SlidesExporter.exclude_output_prompt = True
    return SlidesExporter(config=config, template_name="kbook-reveal",
                          extra_template_basedirs=[str(TEMPLATES)])


def deck_html(exporter, path):
    nb = presentable(nbformat.read(path, as_version=4))
    resources = {"kbook": {"css": [read(VENDOR / "reveal.css")],
                           "js": [read(VENDOR / "reveal.js"), read(VENDOR / "notes.js")],
                           "width": WIDTH, "height": HEIGHT}}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    return body


def read(path):
    # An inlined script must not close its own <script> element early.
    return path.read_text(encoding="utf-8").replace("</script", "<\\/script")


def presentable(nb):
    """The deck's copy of a notebook: see the module docstring."""
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = CHAPTER_LINK.sub(r"](\1.slides.html)", cell.source)
        elif cell.cell_type == "code":
            cell.source = TEST_MARKER.sub("", cell.source)
            cell.outputs = [still_picture(o, state) if WIDGET_VIEW in o.get("data", {}) else o
                            for o in cell.outputs]
            fit_code_font(cell)
    nb.metadata.pop("widgets", None)  # nothing left for a widget renderer: do not load one
    return nb


def fit_code_font(cell):
    """Give a code cell a smaller code font when its longest input or text-output line is too wide."""
    lines = cell.source.splitlines()
    for output in cell.outputs:
        text = output.get("text") or output.get("data", {}).get("text/plain", "")
        lines += text.splitlines() if output.get("data", {}).get("text/html") is None else []
    columns = max(map(len, lines), default=0)
    fitting = int(CODE_WIDTH_PX / (MONO_EM * max(columns, 1)))
    if fitting < CODE_PX:
        cell.metadata["kbook_code_px"] = max(fitting, MIN_CODE_PX)


def still_picture(output, state):
    """A widget display as a picture of its stored state, its control values and a caption."""
    model_id = output["data"][WIDGET_VIEW]["model_id"]
    models = list(subtree(model_id, state))
    pictures = [buffer["data"] for m in models if m.get("model_name") == "ImageModel"
                for buffer in m.get("buffers", []) if buffer.get("path") == ["value"]]
    parts = [f'<img src="data:image/png;base64,{p}" alt="the explorer">' for p in pictures[:1]]
    settings = ", ".join(filter(None, map(control_value, models)))
    texts = [m["state"]["value"] for m in models if m.get("model_name") == "HTMLModel" and m["state"].get("value")]
    caption = " &nbsp;·&nbsp; ".join([*texts, html.escape(settings)] if settings else texts)
    figure = (f'<figure class="kbook-still">{"".join(parts)}'
              f'<figcaption>{caption}<br><em>{LIVE_NOTE}</em></figcaption></figure>')
    return nbformat.v4.new_output("display_data", data={"text/html": figure})


def subtree(model_id, state):
    """The stored widget models under `model_id`, depth first (children in display order)."""
    model = state.get(model_id)
    if model is None:
        return
    yield model
    for child in model["state"].get("children", []):
        yield from subtree(child.removeprefix("IPY_MODEL_"), state)


def control_value(model):
    """`description = value` for a control (slider, dropdown, checkbox), None for anything else."""
    s = model["state"]
    if not s.get("description"):
        return None
    if s.get("_options_labels") and isinstance(s.get("index"), int):
        value = s["_options_labels"][s["index"]]
    elif "value" in s:
        value = s["value"]
    else:
        return None
    return f"{s['description']} = {value}"


def main(argv):
    out = OUT
    if "--out" in argv:
        i = argv.index("--out")
        out, argv = Path(argv[i + 1]), argv[:i] + argv[i + 2:]
    notebooks = argv or sorted((ROOT / "book").glob("*.ipynb"))
    for path in build(notebooks, out):
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
