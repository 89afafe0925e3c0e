"""Check the slides in a real browser: `python3 dev.py slides-check` (needs Chromium).

    python3 dev.py slides-check                       # every static deck, then the live slideshow
    python3 dev.py slides-check --only 01_dense       # decks whose name contains this
    python3 dev.py slides-check --no-live             # static decks only (no JupyterLab)

Static decks (built afresh into a temporary folder): each is opened from file:// in headless
Chromium with the network cut off; it must initialise reveal.js with no JavaScript error and no
request off file:// or data:, every slide must fit the canvas or scroll, nothing may stick out
on the right, no test marker or prompt may show, and every explorer must be a still picture.

Live slideshow: a copy of book/01_dense.ipynb is run in a JupyterLab started here (127.0.0.1, a
fresh token, its own settings), presented with jupyterlab-slideshow (`deck:start`), brought to
the explorer's slide, and a slider is moved: the explorer's picture must change.  Then every
chapter is opened (not run) and stepped through in the slideshow to its last slide.

The browser and JupyterLab come from headless.py (shared with bench/browser.py).
"""
import argparse
import json
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

SLIDES = Path(__file__).resolve().parent
ROOT = SLIDES.parent
sys.path.insert(0, str(ROOT))

from headless import (NO_CHROMIUM, close_notebook, find_chromium, free_port, open_notebook,  # noqa: E402
                      start_chromium, start_lab, stop)
from slides import build, metadata  # noqa: E402

LIVE_CHAPTER = "01_dense.ipynb"


# ---------------------------------------------------------------- static decks

# In the deck: visit every slide (all fragments shown) and measure it.
MEASURE_SLIDES = """
(async () => {
  const frame = () => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const result = [];
  for (const slide of Reveal.getSlides()) {
    const {h, v} = Reveal.getIndices(slide);
    Reveal.slide(h, v, 1000);
    await frame();
    const box = slide.getBoundingClientRect();
    const tall = slide.scrollHeight > slide.clientHeight + 1;
    slide.scrollTop = slide.scrollHeight;
    const scrolls = tall && slide.scrollTop > 0;
    slide.scrollTop = 0;
    const sticking = [...slide.querySelectorAll('pre, img, table, figure, p, li, .jp-Cell')]
      .filter(e => e.getBoundingClientRect().right > box.right + 2 || e.scrollWidth > e.clientWidth + 2)
      .map(e => e.tagName + ': ' + e.textContent.slice(0, 60));
    const text = slide.innerText;
    result.push({index: h + '/' + v, tall, scrolls, sticking,
                 marker: /NBVAL_/.test(text), prompt: /(In|Out)\\s?\\[\\d*\\]:/.test(text)});
  }
  const stills = [...document.querySelectorAll('.kbook-still img')];
  return {slides: result, stills: stills.length,
          broken_stills: stills.filter(i => !(i.naturalWidth > 0)).length,
          sliders: document.querySelectorAll('input[type=range], .widget-slider, .jupyter-widgets').length,
          notes: document.querySelectorAll('aside.notes').length,
          canvas: Reveal.getConfig().width + 'x' + Reveal.getConfig().height,
          code_px: getComputedStyle(document.querySelector('.reveal div.highlight > pre') || document.body).fontSize,
          text_px: getComputedStyle(document.querySelector('.reveal .jp-RenderedHTMLCommon p') || document.body).fontSize};
})()
"""


def check_deck(page, path):
    page.events.clear()
    page.call("Page.navigate", url=path.as_uri())
    page.wait("window.Reveal && Reveal.isReady()", 60_000)
    report = page.evaluate(MEASURE_SLIDES)
    page.drain(0.5)
    report["errors"] = page.errors()
    report["off_machine"] = [u for u in page.requests() if not u.startswith(("file:", "data:"))]
    return report


def print_deck(name, r):
    slides = r["slides"]
    tall = [s for s in slides if s["tall"]]
    cut = [s["index"] for s in tall if not s["scrolls"]]
    sticking = [(s["index"], s["sticking"][:2]) for s in slides if s["sticking"]]
    print(f"{name}: {len(slides)} slides, {len(tall)} scroll, {len(cut)} cut off, "
          f"{len(sticking)} with something past the right edge, "
          f"{sum(s['marker'] for s in slides)} with a test marker, {sum(s['prompt'] for s in slides)} with a prompt, "
          f"{r['stills']} explorer stills ({r['broken_stills']} broken), {r['sliders']} widgets, "
          f"{r['notes']} notes, {len(r['errors'])} JS errors, {len(r['off_machine'])} requests off file://  "
          f"[canvas {r['canvas']}, text {r['text_px']}, code {r['code_px']}]")
    for item in cut:
        print(f"    cut off: slide {item}")
    for item in sticking:
        print(f"    past the right edge: slide {item}")
    for error in r["errors"]:
        print(f"    JS error: {error}")
    for url in r["off_machine"]:
        print(f"    request off the machine: {url}")


def deck_ok(r):
    slides = r["slides"]
    return (not r["errors"] and not r["off_machine"] and not r["broken_stills"] and not r["sliders"]
            and all(s["scrolls"] or not s["tall"] for s in slides)
            and not any(s["sticking"] or s["marker"] or s["prompt"] for s in slides))


def check_decks(page, folder, only):
    notebooks = [p for p in sorted((ROOT / "book").glob("*.ipynb")) if only in p.name]
    page.call("Network.emulateNetworkConditions", offline=True, latency=0,
              downloadThroughput=-1, uploadThroughput=-1)  # a lecture hall with no network
    ok = True
    for deck in build.build(notebooks, folder / "decks"):
        report = check_deck(page, deck)
        print_deck(deck.name, report)
        ok &= deck_ok(report)
    page.call("Network.emulateNetworkConditions", offline=False, latency=0,
              downloadThroughput=-1, uploadThroughput=-1)
    return ok


# ---------------------------------------------------------------- live slideshow

# The explorer's picture and a slider of it, inside the cell shown on the current deck slide.
EXPLORER = ("{panel}.content.widgets[{index}].node")


def move_slider_in_deck(page, panel, index):
    """Present the notebook, show the explorer's slide, move a slider; returns what happened."""
    page.evaluate("window.jupyterapp.commands.execute('deck:start').then(() => true)")
    page.wait("document.body.dataset.jpDeckMode === 'presenting'", 30_000)
    page.evaluate(f"(() => {{ {panel}.content.activeCellIndex = {index}; return true; }})()")
    node = EXPLORER.format(panel=panel, index=index)
    page.wait(f"{node}.querySelector('.widget-image').naturalWidth > 0"
              f" && {node}.getBoundingClientRect().height > 0", 30_000)
    time.sleep(1.0)  # let the deck finish laying out the slide
    before = page.evaluate(f"{node}.querySelector('.widget-image').src")
    visible = page.evaluate(f"(() => {{ const r = {node}.querySelector('.widget-image').getBoundingClientRect();"
                            " return r.width > 0 && r.top < innerHeight && r.bottom > 0; })()")
    # Click on the slider's track, three quarters along: what an instructor does with the mouse.
    track = page.evaluate(f"(() => {{ const t = {node}.querySelector('.widget-slider .noUi-target') ||"
                          f" {node}.querySelector('.widget-slider'); t.scrollIntoView({{block: 'center'}});"
                          " const r = t.getBoundingClientRect();"
                          " return [r.left + r.width * 0.75, r.top + r.height / 2]; })()")
    for kind in ("mousePressed", "mouseReleased"):
        page.call("Input.dispatchMouseEvent", type=kind, x=track[0], y=track[1], button="left", clickCount=1)
    start = time.monotonic()
    changed = page.wait(f"{node}.querySelector('.widget-image').src !== {json.dumps(before)}", 20_000)
    elapsed = time.monotonic() - start
    page.evaluate("window.jupyterapp.commands.execute('deck:stop').then(() => true)")
    return {"explorer_on_slide": visible, "picture_changed": bool(changed), "seconds": elapsed}


def step_through_deck(page, panel):
    """Present a notebook from its first cell and press 'forward' to the end; count the steps."""
    page.evaluate(f"(() => {{ {panel}.content.activeCellIndex = 0; return true; }})()")
    page.evaluate("window.jupyterapp.commands.execute('deck:start').then(() => true)")
    page.wait("document.body.dataset.jpDeckMode === 'presenting'", 30_000)
    steps, last = 0, -1
    while steps < 500:
        index = page.evaluate(f"{panel}.content.activeCellIndex")
        if index == last:
            break
        last = index
        page.evaluate("window.jupyterapp.commands.execute('deck:go', {direction: 'forward'})"
                      ".then(() => true, () => true)")
        time.sleep(0.05)
        steps += 1
    cells = page.evaluate(f"{panel}.content.widgets.length")
    page.evaluate("window.jupyterapp.commands.execute('deck:stop').then(() => true)")
    return {"steps": steps - 1, "last_cell": last, "cells": cells}


def explorer_cell(path):
    import nbformat
    nb = nbformat.read(path, as_version=4)
    return next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "NBVAL_IGNORE_OUTPUT" in c.source)


def check_live(page, folder, only):
    notebooks = folder / "notebooks"
    notebooks.mkdir()
    chapters = [p for p in sorted((ROOT / "book").glob("*.ipynb")) if only in p.name or p.name == LIVE_CHAPTER]
    for path in chapters:  # copies: JupyterLab may autosave what it opens
        shutil.copy(path, notebooks / path.name)
        metadata.normalise_file(notebooks / path.name)  # what the book will hold once normalised
    port, token = free_port(), secrets.token_hex(16)
    lab = start_lab(folder, port, token, env={"TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "0"})
    ok = True
    try:
        page.call("Page.navigate", url=f"http://127.0.0.1:{port}/lab?token={token}")
        page.wait("window.jupyterapp && window.jupyterapp.commands.hasCommand('deck:start')")
        page.events.clear()
        panel = open_notebook(page, f"http://127.0.0.1:{port}/lab/tree/{LIVE_CHAPTER}", LIVE_CHAPTER)
        page.wait(f"{panel}.sessionContext.session.kernel.status === 'idle'")
        page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells').then(() => true)")
        page.wait(f"{panel}.content.widgets.every(c => c.model.type !== 'code' || c.model.executionCount)"
                  f" && {panel}.sessionContext.session.kernel.status === 'idle'", 600_000)
        moved = move_slider_in_deck(page, panel, explorer_cell(notebooks / LIVE_CHAPTER))
        print(f"live slideshow, {LIVE_CHAPTER}: explorer on the slide: {'yes' if moved['explorer_on_slide'] else 'NO'}, "
              f"slider moved -> picture changed: {'yes' if moved['picture_changed'] else 'NO'} "
              f"({moved['seconds'] * 1000:.0f} ms)")
        ok &= moved["explorer_on_slide"] and moved["picture_changed"]
        close_notebook(page, panel)
        for path in chapters:
            panel = open_notebook(page, f"http://127.0.0.1:{port}/lab/tree/{path.name}", path.name)
            walked = step_through_deck(page, panel)
            print(f"live slideshow, {path.name}: {walked['steps']} steps forward, "
                  f"ended on cell {walked['last_cell'] + 1} of {walked['cells']}")
            close_notebook(page, panel)
        page.drain(1.0)
        errors = page.errors()
        print(f"live slideshow: {len(errors)} JS errors")
        for error in errors:
            print(f"    JS error: {error[:300]}")
        ok &= not errors
    finally:
        stop(lab)
    return ok


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="chapters whose file name contains this")
    parser.add_argument("--no-live", action="store_true", help="skip the live JupyterLab slideshow")
    parser.add_argument("--chromium", default=None, help="the Chromium / Chrome executable")
    args = parser.parse_args(argv)
    executable = find_chromium(args.chromium)
    if executable is None:
        print(NO_CHROMIUM)
        return 2
    with tempfile.TemporaryDirectory(prefix="kbook-slides-check-") as tmp:
        folder = Path(tmp)
        chromium = None
        try:
            chromium, page = start_chromium(executable, folder, domains=("Runtime", "Log", "Network"))
            ok = check_decks(page, folder, args.only)
            if not args.no_live:
                ok &= check_live(page, folder, args.only)
        finally:
            stop(chromium)
    print("slides check:", "ok" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
