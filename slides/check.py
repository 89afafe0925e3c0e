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

Same approach as bench/browser.py: the DevTools protocol over a websocket (websocket-client).
"""
import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import websocket

SLIDES = Path(__file__).resolve().parent
ROOT = SLIDES.parent
sys.path.insert(0, str(ROOT))

from slides import build, metadata  # noqa: E402

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync", "--window-size=1600,900"]
LIVE_CHAPTER = "01_dense.ipynb"


class Page:
    """A Chromium tab over the DevTools protocol; keeps the events it sees in `self.events`."""

    def __init__(self, ws_url):
        self.ws = websocket.create_connection(ws_url, timeout=300, suppress_origin=True)
        self.last_id = 0
        self.events = []

    def call(self, method, **params):
        self.last_id += 1
        self.ws.send(json.dumps({"id": self.last_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.last_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise RuntimeError(details.get("exception", {}).get("description") or details.get("text"))
        return result["result"].get("value")

    def wait(self, condition, timeout_ms=120_000):
        """Poll a JavaScript expression every 50 ms until it is truthy."""
        return self.evaluate(f"""new Promise((resolve, reject) => {{
          const start = performance.now();
          (function poll() {{
            let value = null;
            try {{ value = {condition}; }} catch (e) {{}}
            if (value) resolve(typeof value === 'object' ? true : value);
            else if (performance.now() - start > {timeout_ms}) reject(new Error('timed out: ' + {json.dumps(condition)}));
            else setTimeout(poll, 50);
          }})();
        }})""")

    def errors(self):
        """JavaScript exceptions and console/log errors seen so far."""
        found = []
        for e in self.events:
            p = e.get("params", {})
            if e["method"] == "Runtime.exceptionThrown":
                d = p["exceptionDetails"]
                found.append(d.get("exception", {}).get("description") or d.get("text"))
            elif e["method"] == "Runtime.consoleAPICalled" and p.get("type") == "error":
                found.append(" ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
            elif e["method"] == "Log.entryAdded" and p["entry"]["level"] == "error":
                found.append(p["entry"].get("text", "") + " " + p["entry"].get("url", ""))
        return found

    def requests(self):
        return [e["params"]["request"]["url"] for e in self.events if e["method"] == "Network.requestWillBeSent"]

    def drain(self, seconds):
        """Collect events for a while (console errors that arrive after a page settles)."""
        self.ws.settimeout(0.1)
        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline:
                try:
                    message = json.loads(self.ws.recv())
                except websocket.WebSocketTimeoutException:
                    continue
                if "method" in message:
                    self.events.append(message)
        finally:
            self.ws.settimeout(300)


def start_chromium(executable, folder):
    profile = folder / "chromium"
    process = subprocess.Popen([executable, *CHROMIUM_ARGS, f"--user-data-dir={profile}",
                                "--remote-debugging-port=0", "about:blank"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + 60
    while not port_file.exists() or not port_file.read_text():
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError(f"{executable} did not start its DevTools server")
        time.sleep(0.1)
    port = port_file.read_text().split()[0]
    targets = wait_for_json(f"http://127.0.0.1:{port}/json/list", 30, process)
    page = Page(next(t for t in targets if t["type"] == "page")["webSocketDebuggerUrl"])
    for domain in ("Runtime", "Log", "Network"):
        page.call(f"{domain}.enable")
    page.call("Emulation.setFocusEmulationEnabled", enabled=True)  # headless: focus as if shown
    return process, page


def wait_for_json(url, seconds, process):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return json.loads(response.read())
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(url)


def stop(process):
    if process is not None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


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

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_lab(folder, port, token):
    """JupyterLab on 127.0.0.1 with its own config, settings, workspaces and runtime folders."""
    config = folder / "config"
    config.mkdir()
    (config / "jupyter_lab_config.py").write_text(
        "c.ServerApp.ip = '127.0.0.1'\n"
        f"c.ServerApp.port = {port}\n"
        "c.ServerApp.port_retries = 0\n"
        "c.ServerApp.open_browser = False\n"
        f"c.ServerApp.root_dir = {str(folder / 'notebooks')!r}\n"
        f"c.ServerApp.allow_root = {hasattr(os, 'geteuid') and os.geteuid() == 0}\n"
        f"c.IdentityProvider.token = {token!r}\n"
        "c.LabApp.expose_app_in_browser = True\n"    # window.jupyterapp: drive it from here
        "c.LabApp.news_url = None\n"
        "c.LabApp.check_for_updates_class = 'jupyterlab.NeverCheckForUpdate'\n")
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(config), JUPYTER_RUNTIME_DIR=str(folder / "runtime"),
               JUPYTERLAB_SETTINGS_DIR=str(folder / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(folder / "workspaces"),
               TF_CPP_MIN_LOG_LEVEL="2", TF_ENABLE_ONEDNN_OPTS="0")
    log = open(folder / "lab.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "jupyter", "lab"], env=env, stdout=log, stderr=log,
                               cwd=folder)
    wait_for_json(f"http://127.0.0.1:{port}/api/status?token={token}", 120, process)
    return process


PANEL = ("(Array.from(window.jupyterapp.shell.widgets('main'))"
         ".find(w => w.context && w.context.path === {name!r}))")


def open_notebook(page, base_url, name):
    """Open a notebook (the first by loading JupyterLab, later ones inside it) and wait for its kernel."""
    if page.evaluate("!!window.jupyterapp"):
        page.evaluate(f"window.jupyterapp.commands.execute('docmanager:open', {{path: {name!r}}}).then(() => true)")
    else:
        page.call("Page.navigate", url=f"{base_url}/lab/tree/{name}")
    panel = PANEL.format(name=name)
    page.wait(f"window.jupyterapp && {panel} && {panel}.sessionContext")
    page.evaluate(f"(async () => {{ const p = {panel}; await p.context.ready; await p.sessionContext.ready;"
                  " window.jupyterapp.shell.activateById(p.id); return true; })()")
    return panel


def close_notebook(page, panel):
    page.evaluate(f"(async () => {{ const p = {panel}; await p.sessionContext.shutdown(); p.dispose(); return true; }})()")


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
    lab = start_lab(folder, port, token)
    ok = True
    try:
        page.call("Page.navigate", url=f"http://127.0.0.1:{port}/lab?token={token}")
        page.wait("window.jupyterapp && window.jupyterapp.commands.hasCommand('deck:start')")
        page.events.clear()
        panel = open_notebook(page, f"http://127.0.0.1:{port}", LIVE_CHAPTER)
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
            panel = open_notebook(page, f"http://127.0.0.1:{port}", path.name)
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
    executable = args.chromium or next(
        (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
    if executable is None:
        print("No Chromium found: install it (Debian: apt-get install chromium) or pass --chromium PATH.")
        return 2
    with tempfile.TemporaryDirectory(prefix="kbook-slides-check-") as tmp:
        folder = Path(tmp)
        chromium = None
        try:
            chromium, page = start_chromium(executable, folder)
            ok = check_decks(page, folder, args.only)
            if not args.no_live:
                ok &= check_live(page, folder, args.only)
        finally:
            stop(chromium)
    print("slides check:", "ok" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
