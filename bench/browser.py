#!/usr/bin/env python3
"""Time every explorer in real JupyterLab, in headless Chromium: key press -> new picture shown.

    python3 dev.py browser-bench                   # every explorer, a table
    python3 dev.py browser-bench --only Dense      # explorers whose class name contains "Dense"
    python3 dev.py browser-bench --presses 40 --json

Needs Chromium (Debian: ``apt-get install chromium``; elsewhere pass ``--chromium PATH``), so it
is not part of the tests.  The explorers are the ones the bench cases register
(``explorer_cases()`` in bench/cases_*.py).  For each, it writes a one-cell notebook that
shows the explorer, opens it in a JupyterLab started here (127.0.0.1, a fresh token, its own
settings and workspace folders), runs it, focuses the case's key control and presses a key
(ArrowRight / ArrowLeft on a slider, Space on a checkbox)
``--presses`` times, waiting for each new picture.  Each time is measured inside the page,
from the keydown event's timestamp to the first animation frame after the new PNG has
loaded and decoded; the table also splits it (medians): to the kernel, the kernel's update
(timed inside the kernel), back to the page, decode and paint.  Goal: median <= 80 ms per
explorer.

The first row is the floor: the same key press on a slider that swaps between two ready-made
pictures of the Conv2D explorer (no computing, no drawing), so what JupyterLab, the browser and
the messages cost on this machine at this moment is measured beside the explorers; each
explorer's "over floor" is its median minus the floor's.  The DevTools protocol is spoken over a websocket (websocket-client, installed with
jupyter_server), so no browser-driver package is needed.
"""
import argparse
import json
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

import bench  # noqa: E402  (the case modules)
from twins import key_control  # noqa: E402

sys.path.insert(0, str(ROOT))
from headless import (NO_CHROMIUM, close_notebook, find_chromium, free_port, open_notebook,  # noqa: E402
                      start_chromium, start_lab, stop, wait_script)

GOAL_MS = 80

# In the page: the keydown timestamps, and when each new picture reached the screen.
PAGE_PROBE = """
(() => {
  const image = document.querySelector('img.kbook-bench-image');
  window.__kbook = {keys: [], arrived: [], shown: []};
  if (!window.__kbookKeys) {  // once per page: every explorer's presses go to the current record
    window.__kbookKeys = true;
    window.addEventListener('keydown', e => window.__kbook.keys.push(e.timeStamp), true);
  }
  new MutationObserver(() => window.__kbook.arrived.push(performance.now()))
      .observe(image, {attributes: true, attributeFilter: ['src']});
  image.addEventListener('load', () => image.decode().catch(() => null).then(
      () => requestAnimationFrame(() => window.__kbook.shown.push(performance.now()))));
  const target = document.querySelector(
      '.kbook-bench-key .noUi-handle, .kbook-bench-key select, .kbook-bench-key input[type=checkbox]');
  target.focus();
  return document.activeElement === target;
})()
"""


def wait_in_page(condition, timeout_ms):
    """JavaScript that waits (polling every 10 ms: the wait is part of what is timed) until ``condition``."""
    return wait_script(condition, timeout_ms, poll_ms=10)


# Each update's start and end (epoch seconds), appended to a file: where the time goes.
TIMED_UPDATE = """import time
_log, _update = open({log!r}, "a"), explorer.update
def _timed_update():
    start = time.time()
    _update()
    print(start, time.time(), file=_log, flush=True)
explorer.update = _timed_update
"""


def write_notebook(folder, case, control):
    """A one-cell notebook showing the explorer, its key control and image tagged for the page."""
    cls = type(case["explorer"])
    log = folder / f"{cls.__name__}.updates"
    source = (f"from {cls.__module__} import {cls.__name__}\n"
              f"explorer = {cls.__name__}()\n"
              f"explorer.{control}.add_class('kbook-bench-key')\n"
              "explorer.live.image.add_class('kbook-bench-image')\n"
              + TIMED_UPDATE.format(log=str(log)) +
              "explorer")
    return _notebook(folder, cls.__name__, source), log


# The floor: a slider whose every move shows one of two pictures made beforehand.
FLOOR_SOURCE = """import time
import ipywidgets as widgets
from kbook.widgets.conv2d import Conv2DExplorer
_maker = Conv2DExplorer()
pictures = []
for size in (3, 5):
    _maker.kernel_size.value = size
    pictures.append(_maker.live.image.value)
picture = widgets.IntSlider(value=0, min=0, max=1, description="picture")
image = widgets.Image(value=pictures[0], format="png")
picture.add_class("kbook-bench-key")
image.add_class("kbook-bench-image")
_log = open({log!r}, "a")
def _show(change):
    start = time.time()
    image.value = pictures[change["new"]]
    print(start, time.time(), file=_log, flush=True)
picture.observe(_show, names="value")
widgets.VBox([picture, image])"""
FLOOR = "floor (picture swap)"


def _notebook(folder, name, source):
    notebook = {"cells": [{"cell_type": "code", "execution_count": None, "id": "explorer", "metadata": {},
                           "outputs": [], "source": source}],
                "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
                "nbformat": 4, "nbformat_minor": 5}
    path = folder / "notebooks" / f"{name}.ipynb"
    path.write_text(json.dumps(notebook))
    return path.name


def write_floor_notebook(folder):
    log = folder / "floor.updates"
    return _notebook(folder, "floor", FLOOR_SOURCE.format(log=str(log))), log


def open_and_run(page, url, name):
    """Open the notebook (headless.open_notebook), wait for its kernel, run it; returns its panel."""
    panel = open_notebook(page, url, name)
    page.evaluate(wait_in_page(f"{panel}.sessionContext.session.kernel.status === 'idle'", 120_000))
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells').then(() => true)")
    page.evaluate(wait_in_page("(document.querySelector('img.kbook-bench-image') || {}).naturalWidth > 0"
                               " && document.querySelector('.kbook-bench-key')", 120_000))
    return panel


def measure(page, keys, presses, log, warmup=3):
    """One record per press after ``warmup`` unmeasured ones, in ms: ``shown`` (key press -> new
    picture on screen) and its parts: ``to_kernel`` (-> the kernel starts the update), ``kernel``
    (the update: compute, render, PNG), ``to_page`` (-> the PNG handed to the <img>), ``paint``
    (-> decoded and on screen)."""
    if not page.evaluate(PAGE_PROBE):
        raise RuntimeError("could not focus the key control")
    origin = page.evaluate("performance.timeOrigin")  # page times + origin = epoch ms, as the kernel's
    presses_seen = []
    for i in range(warmup + presses):
        page.press(keys[i % 2])
        key = page.evaluate(wait_in_page(f"window.__kbook.keys[{i}]", 10_000))
        shown = page.evaluate(wait_in_page(f"window.__kbook.shown.find(t => t > {key})", 10_000))
        arrived = page.evaluate(f"window.__kbook.arrived.find(t => t > {key})")
        time.sleep(0.15)  # let any trailing messages (the caption, the slider's echo) settle
        if i >= warmup:
            presses_seen.append((origin + key, origin + arrived, origin + shown))
    updates = [tuple(float(t) * 1e3 for t in line.split()) for line in log.read_text().splitlines()]
    records = []
    for key, arrived, shown in presses_seen:
        start, end = next((s, e) for s, e in updates if s >= key - 1)  # the update this press started
        records.append({"shown": shown - key, "to_kernel": start - key, "kernel": end - start,
                        "to_page": arrived - end, "paint": shown - arrived})
    return records


def run(cases, executable, presses):
    results = []
    with tempfile.TemporaryDirectory(prefix="kbook-browser-bench-") as tmp:
        folder = Path(tmp)
        (folder / "notebooks").mkdir()
        port, token = free_port(), secrets.token_hex(16)
        lab = start_lab(folder, port, token)
        chromium = None
        try:
            chromium, page = start_chromium(executable, folder)
            runs = [(FLOOR, "picture", ("ArrowRight", "ArrowLeft"), write_floor_notebook(folder))]
            for case in cases:
                control, keys = key_control(case)
                runs.append((type(case["explorer"]).__name__, control, keys, write_notebook(folder, case, control)))
            for explorer, control, keys, (name, log) in runs:
                panel = open_and_run(page, f"http://127.0.0.1:{port}/lab/tree/{name}?token={token}", name)
                records = measure(page, keys, presses, log)
                close_notebook(page, panel)
                times = [r["shown"] for r in records]
                median = statistics.median(times)
                floor = results[0]["median_ms"] if results else median
                results.append({"explorer": explorer, "control": control,
                                "presses": len(times), "median_ms": median, "over_floor_ms": median - floor,
                                "p90_ms": statistics.quantiles(times, n=10)[-1] if len(times) > 1 else median,
                                "parts_median_ms": {part: statistics.median(r[part] for r in records)
                                                    for part in ("to_kernel", "kernel", "to_page", "paint")},
                                "goal_ms": None if explorer == FLOOR else GOAL_MS,
                                "ok": explorer == FLOOR or median <= GOAL_MS})
                print(f"  {explorer}: median {median:.1f} ms", file=sys.stderr, flush=True)
        finally:
            stop(chromium)
            stop(lab)
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="explorers whose class name contains this")
    parser.add_argument("--presses", type=int, default=25, help="measured key presses per explorer")
    parser.add_argument("--chromium", default=None, help="the Chromium / Chrome executable")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)

    executable = find_chromium(args.chromium)
    if executable is None:
        print(NO_CHROMIUM)
        return 2
    cases = [case for module in bench.CASE_MODULES for case in getattr(module, "explorer_cases", list)()
             if args.only in type(case["explorer"]).__name__]
    results = run(cases, executable, args.presses)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print("key press -> picture shown, median ms; its parts (medians): to kernel, kernel update, to page, paint")
        print(f"{'explorer':<26} {'key control':<16} {'shown':>6} {'p90':>6} {'goal':>6}  ok   {'over floor':>10} "
              f"{'to kernel':>9} {'kernel':>7} {'to page':>7} {'paint':>6}")
        for r in results:
            parts = r["parts_median_ms"]
            goal, ok = ("", "") if r["goal_ms"] is None else ("<=" + str(r["goal_ms"]), "yes" if r["ok"] else "NO")
            print(f"{r['explorer']:<26} {r['control']:<16} {r['median_ms']:6.1f} {r['p90_ms']:6.1f} "
                  f"{goal:>6}  {ok:<3}  {r['over_floor_ms']:10.1f} {parts['to_kernel']:9.1f} "
                  f"{parts['kernel']:7.1f} {parts['to_page']:7.1f} {parts['paint']:6.1f}")
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
