#!/usr/bin/env python3
"""Time every explorer in real JupyterLab, in headless Chromium: key press -> new picture shown.

    python3 dev.py browser-bench                   # every explorer, a table
    python3 dev.py browser-bench --only Dense      # explorers whose class name contains "Dense"
    python3 dev.py browser-bench --presses 48 --rounds 4 --json

Needs Chromium (Debian: ``apt-get install chromium``; elsewhere pass ``--chromium PATH``), so it
is not part of the tests.  The explorers are the ones the bench cases register
(``explorer_cases()`` in bench/cases_*.py).  For each, it writes a one-cell notebook that
shows the explorer, opens it in a JupyterLab started here (127.0.0.1, a fresh token, its own
settings and workspace folders), runs it, and presses keys on the case's key control
(ArrowRight / ArrowLeft on a slider, Space on a checkbox), waiting for each new picture.  Each
time is measured inside the page, from the keydown event's timestamp to the first animation
frame after the new PNG has loaded and decoded; the table also splits it (medians), for the
explorer's presses and the floor's: to the kernel, the kernel's update (timed inside the
kernel), back to the page, decode and paint.
Goal: median <= 80 ms per explorer.

The explorers are measured in rounds (``--rounds``, default 3): each round opens every notebook in
turn for its share of the presses, so a slow spell of the VM falls on all of them alike rather
than on the last few (one run, measured all in one go: floors of 32-40 ms for the first eight
explorers, 52-98 for the last three).  The table's last column is the CPU time the hypervisor
gave to other machines ("steal", from /proc/stat) while each explorer was measured.

Each explorer press is paired with a floor press: a slider above the explorer that puts one
of two ready-made pictures of the same explorer into the same <img> (no computing, no drawing).
The floor is what JupyterLab, the browser and the messages cost on this machine at that very
moment (this VM's speed moves 30-50% from one minute to the next, measured), and "over floor"
(the median of each pair's difference) is what the explorer itself adds.

The DevTools protocol is spoken over a websocket (websocket-client, installed with
jupyter_server), so no browser-driver package is needed.
"""
import argparse
import json
import math
import random
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
import ipywidgets as widgets  # noqa: E402
from twins import key_control  # noqa: E402

sys.path.insert(0, str(ROOT))
from headless import (NO_CHROMIUM, close_notebook, find_chromium, free_port, open_notebook,  # noqa: E402
                      start_chromium, start_lab, stop, wait_script)

GOAL_MS = 80

# In the page: per kind of press ("bench": the explorer's control, "floor": the floor slider), the
# keydown timestamps and when each new picture reached the screen.  Both change the same <img>.
PAGE_PROBE = """
(() => {
  const image = document.querySelector('img.kbook-bench-image');
  window.__kbook = {bench: {keys: [], arrived: [], shown: []}, floor: {keys: [], arrived: [], shown: []}};
  window.__kbookActive = 'bench';
  if (!window.__kbookKeys) {  // once per page: every press goes to the active record
    window.__kbookKeys = true;
    window.addEventListener('keydown', e => window.__kbook[window.__kbookActive].keys.push(e.timeStamp), true);
  }
  new MutationObserver(() => window.__kbook[window.__kbookActive].arrived.push(performance.now()))
      .observe(image, {attributes: true, attributeFilter: ['src']});
  image.addEventListener('load', () => {
    const record = window.__kbook[window.__kbookActive];
    image.decode().catch(() => null).then(() => requestAnimationFrame(() => record.shown.push(performance.now())));
  });
  return true;
})()
"""

# Focus the explorer's key control or the floor slider; the presses that follow are recorded as its.
FOCUS = """
(() => {{
  window.__kbookActive = {kind!r};
  const target = document.querySelector(
      '.kbook-{kind}-key .noUi-handle, .kbook-{kind}-key select, .kbook-{kind}-key input[type=checkbox]');
  target.focus();
  return document.activeElement === target;
}})()
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


# The floor: a slider above the explorer that shows one of two pictures of the explorer made
# beforehand (its first state and the one a key press leads to), encoded at another zlib level so
# that no explorer picture has the same bytes (the widget would send nothing).
FLOOR = """import ipywidgets as _widgets
import numpy as _np
from kbook.widgets.fast_agg import png_bytes as _png_bytes
_control = explorer.{control}
_first = _control.value
_floor_pictures = [_png_bytes(_np.asarray(explorer.live.figure.canvas.buffer_rgba()), level=2)]
_control.value = {moved}
_floor_pictures.append(_png_bytes(_np.asarray(explorer.live.figure.canvas.buffer_rgba()), level=2))
_control.value = _first
assert len(set(_floor_pictures)) == 2 and bytes(explorer.live.image.value) not in _floor_pictures
floor = _widgets.IntSlider(value=0, min=0, max=1, description="floor")
floor.add_class("kbook-floor-key")
_floor_log = open({log!r}, "a")
def _floor_show(change):
    start = time.time()
    explorer.live.image.value = _floor_pictures[change["new"]]
    print(start, time.time(), file=_floor_log, flush=True)
floor.observe(_floor_show, names="value")
"""


def _moved(control, key):
    """Python for the value the first key press gives the control (the floor's second picture)."""
    if isinstance(control, widgets.Checkbox):
        return "not _first"
    if key == "ArrowRight":
        return "min(_first + _control.step, _control.max)"
    return "max(_first - _control.step, _control.min)"


def write_notebook(folder, case, control, keys):
    """A one-cell notebook showing the floor slider and the explorer, its key control and image
    tagged for the page; returns (its name, the explorer's update log, the floor's)."""
    cls = type(case["explorer"])
    log, floor_log = folder / f"{cls.__name__}.updates", folder / f"{cls.__name__}.floor"
    source = ("import time\n"
              f"from {cls.__module__} import {cls.__name__}\n"
              f"explorer = {cls.__name__}()\n"
              + FLOOR.format(control=control, moved=_moved(getattr(case["explorer"], control), keys[0]),
                             log=str(floor_log)) +
              f"explorer.{control}.add_class('kbook-bench-key')\n"
              "explorer.live.image.add_class('kbook-bench-image')\n"
              + TIMED_UPDATE.format(log=str(log)) +
              "_widgets.VBox([floor, explorer.widget])")
    notebook = {"cells": [{"cell_type": "code", "execution_count": None, "id": "explorer", "metadata": {},
                           "outputs": [], "source": source}],
                "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
                "nbformat": 4, "nbformat_minor": 5}
    path = folder / "notebooks" / f"{cls.__name__}.ipynb"
    path.write_text(json.dumps(notebook))
    return path.name, log, floor_log


def open_and_run(page, url, name):
    """Open the notebook (headless.open_notebook), wait for its kernel, run it; returns its panel."""
    panel = open_notebook(page, url, name)
    page.evaluate(wait_in_page(f"{panel}.sessionContext.session.kernel.status === 'idle'", 120_000))
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells').then(() => true)")
    page.evaluate(wait_in_page("(document.querySelector('img.kbook-bench-image') || {}).naturalWidth > 0"
                               " && document.querySelector('.kbook-bench-key')", 120_000))
    return panel


_PAUSES = random.Random(0)


def _press(page, kind, key, count):
    """Press ``key`` on the explorer's control or the floor slider; (key down, picture arrived,
    picture shown) in page milliseconds, and the page's time origin in epoch milliseconds."""
    if not page.evaluate(FOCUS.format(kind=kind)):
        raise RuntimeError(f"could not focus the {kind} control")
    page.press(key)
    down = page.evaluate(wait_in_page(f"window.__kbook.{kind}.keys[{count}]", 10_000))
    shown = page.evaluate(wait_in_page(f"window.__kbook.{kind}.shown.find(t => t > {down})", 10_000))
    arrived = page.evaluate(f"window.__kbook.{kind}.arrived.find(t => t > {down})")
    # Page time -> epoch ms (the kernel's clock), taken now: performance.now() runs on a monotonic
    # clock that drifts from the wall clock on this VM (measured: 5 ms a second), so the page's
    # timeOrigin put the kernel's updates tens of ms, and minutes into a run seconds, off.
    origin = page.evaluate("Date.now() - performance.now()")
    # Let any trailing messages (the caption, the slider's echo) settle; a random part, so that the
    # presses do not fall in step with something periodic in the page and always hit (or miss) it.
    time.sleep(0.15 + _PAUSES.uniform(0, 0.2))
    return down, arrived, shown, origin


def _records(presses_seen, log):
    updates = [tuple(float(t) * 1e3 for t in line.split()) for line in log.read_text().splitlines()]
    records = []
    for down, arrived, shown, origin in presses_seen:
        key, arrived, shown = origin + down, origin + arrived, origin + shown
        start, end = next((s, e) for s, e in updates if s >= key - 1)  # the update this press started
        records.append({"shown": shown - key, "to_kernel": start - key, "kernel": end - start,
                        "to_page": arrived - end, "paint": shown - arrived})
    return records


def measure(page, keys, presses, log, floor_log, warmup=3, arrange=None):
    """Records of the explorer's presses and of the floor's, one each per round after ``warmup``
    unmeasured rounds, in ms: ``shown`` (key press -> new picture on screen) and its parts:
    ``to_kernel`` (-> the kernel starts the update), ``kernel`` (the update: compute, render,
    PNG; for the floor, handing over a ready picture), ``to_page`` (-> the PNG handed to the
    <img>), ``paint`` (-> decoded and on screen).

    ``arrange(i)``, if given, sets the page up before round i and returns its label; the result is
    then {label: (records, floor records)}, each label's rounds kept apart."""
    page.evaluate(PAGE_PROBE)
    seen = {}
    for i in range(warmup + presses):
        label = arrange(i) if arrange else None
        for kind, kind_keys in (("bench", keys), ("floor", ("ArrowRight", "ArrowLeft"))):
            times = _press(page, kind, kind_keys[i % 2], i)
            if i >= warmup:
                seen.setdefault(label, {"bench": [], "floor": []})[kind].append(times)
    split = {label: (_records(s["bench"], log), _records(s["floor"], floor_log))
             for label, s in seen.items()}
    return split if arrange else split[None]


# The A/B measurements behind the book's JupyterLab settings (lab/, see the README), run with
# --ab NAME in a JupyterLab started without them: one piece of JupyterLab's page taken out and put
# back in turn, two rounds each (so that each state sees both keys).  Each script takes the piece
# out (show false) or puts it back (show true) and returns whether it is there.
AB = {
    # lab/overrides.d/kbook.json5: the notebook toolbar's kernel-status circle.
    "indicator": """(() => {{
  const panel = {panel}, toolbar = panel.toolbar;
  panel.__kbookIndicator = panel.__kbookIndicator ||
      Array.from(toolbar.children()).find(w => w.node.dataset.jpItemName === 'executionProgress');
  const indicator = panel.__kbookIndicator;
  if ({show} && !indicator.parent) toolbar.addItem('executionProgress', indicator);
  if (!{show} && indicator.parent) indicator.parent = null;
  return {present};
}})()""",
    # lab/page_config.json5: the busy favicon (@jupyterlab/application-extension:faviconbusy swaps the
    # page's two favicon links on every busy / idle; without the links it finds nothing to swap).
    "favicon": """(() => {{
  window.__kbookFavicons = window.__kbookFavicons || Array.from(document.querySelectorAll('link.favicon'));
  for (const link of window.__kbookFavicons) {{
    if ({show} && !link.isConnected) document.head.appendChild(link);
    if (!{show}) link.remove();
  }}
  return document.querySelectorAll('link.favicon').length > 0;
}})()""",
}
# What the page says about each piece in a run: is it there?  (The indicator's A/B script answers
# with this too; the favicon's checks the links it moves, since the plugin stays loaded.)
PRESENT = {
    "indicator": "Array.from({panel}.toolbar.names()).includes('executionProgress')",
    "favicon": "window.jupyterapp.hasPlugin('@jupyterlab/application-extension:faviconbusy')",
}


def _arranger(page, panel, piece):
    def arrange(i):
        show = (i // 2) % 2 == 0
        script = AB[piece].format(panel=panel, show=str(show).lower(),
                                  present=PRESENT[piece].format(panel="panel"))
        if page.evaluate(script) != show:
            raise RuntimeError(f"could not {'put back' if show else 'take out'} the {piece}")
        time.sleep(0.15)  # let the page settle
        return "with" if show else "without"
    return arrange


def _parts(records):
    return {part: statistics.median(r[part] for r in records) for part in ("to_kernel", "kernel", "to_page", "paint")}


def _merge(parts):
    """One explorer's measurements from every round: records and floor records joined (per label
    with --ab), and the CPU ticks added up."""
    if isinstance(parts[0][0], dict):
        joined = {label: tuple(sum((part[0][label][k] for part in parts), []) for k in (0, 1))
                  for label in parts[0][0]}
    else:
        joined = tuple(sum((part[0][k] for part in parts), []) for k in (0, 1))
    ticks = [p[1] for p in parts if p[1] is not None]
    total = (sum(t[0] for t in ticks), sum(t[1] for t in ticks)) if ticks else None
    return joined, total


def run(cases, executable, presses, ab=None, rounds=3):
    """Measure every explorer in ``rounds`` rounds (each a new opening of its notebook, about
    presses / rounds presses), the explorers in turn within a round: this VM's slow spells
    (measured: floors of 52-98 ms in one stretch of a run, 32-40 in another) then fall on every
    explorer alike instead of on whichever came last."""
    results = []
    per_round = max(1, math.ceil(presses / rounds))
    if ab:  # a multiple of 4: with and without the piece, each with both keys, in every round
        per_round = 4 * math.ceil(per_round / 4)
    with tempfile.TemporaryDirectory(prefix="kbook-browser-bench-") as tmp:
        folder = Path(tmp)
        (folder / "notebooks").mkdir()
        port, token = free_port(), secrets.token_hex(16)
        stock = folder / "stock-settings"  # an empty application settings folder: JupyterLab's defaults
        lab = start_lab(folder, port, token, extra_config=f"c.LabApp.app_settings_dir = {str(stock)!r}\n"
                        if ab else "")
        chromium = None
        try:
            chromium, page = start_chromium(executable, folder)
            notebooks = []
            for case in cases:
                control, keys = key_control(case)
                notebooks.append((control, keys, *write_notebook(folder, case, control, keys)))
            parts = [[] for _ in cases]
            present = [None] * len(cases)
            for round_ in range(rounds):
                for i, case in enumerate(cases):
                    control, keys, name, log, floor_log = notebooks[i]
                    panel = open_and_run(page, f"http://127.0.0.1:{port}/lab/tree/{name}?token={token}", name)
                    # The book's settings (lab/, installed by dev.py setup) leave pieces of the page out;
                    # say which were there in this JupyterLab.
                    present[i] = {piece: page.evaluate(script.format(panel=panel)) for piece, script in PRESENT.items()}
                    before = bench.cpu_ticks()
                    arrange = _arranger(page, panel, ab) if ab else None
                    measured = measure(page, keys, per_round, log, floor_log, arrange=arrange)
                    after = bench.cpu_ticks()
                    close_notebook(page, panel)
                    parts[i].append((measured, bench.ticks_between(before, after)))
                    print(f"  round {round_ + 1}/{rounds} {type(case['explorer']).__name__}: done",
                          file=sys.stderr, flush=True)
            for i, case in enumerate(cases):
                control = notebooks[i][0]
                joined, ticks = _merge(parts[i])
                steal = bench.steal_percent(ticks)
                if ab:
                    results.append({"explorer": type(case["explorer"]).__name__, "control": control, "ab": ab,
                                    **{f"{kind}_{label}_ms": statistics.median(r["shown"] for r in records)
                                       for label, pair in joined.items()
                                       for kind, records in zip(("shown", "floor"), pair)},
                                    "presses_each": len(joined["with"][0]), "steal_percent": steal})
                    continue
                records, floor = joined
                times = [r["shown"] for r in records]
                median = statistics.median(times)
                results.append({"explorer": type(case["explorer"]).__name__, "control": control,
                                "presses": len(times), "median_ms": median,
                                "p90_ms": statistics.quantiles(times, n=10)[-1] if len(times) > 1 else median,
                                "floor_ms": statistics.median(r["shown"] for r in floor),
                                "over_floor_ms": statistics.median(r["shown"] - f["shown"]
                                                                   for r, f in zip(records, floor)),
                                "parts_median_ms": _parts(records), "floor_parts_median_ms": _parts(floor),
                                "present": present[i], "steal_percent": steal,
                                "goal_ms": GOAL_MS, "ok": median <= GOAL_MS})
        finally:
            stop(chromium)
            stop(lab)
    return results


def _percent(value):
    return f"{value:7.1f}" if value is not None else f"{'-':>7}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="explorers whose class name contains this")
    parser.add_argument("--presses", type=int, default=24, help="measured key presses per explorer, in all")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds over every explorer (each round opens each notebook anew)")
    parser.add_argument("--chromium", default=None, help="the Chromium / Chrome executable")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--ab", choices=sorted(AB), default=None,
                        help="with and without a piece of JupyterLab's page, in turn, in a JupyterLab without the "
                             "book's settings: the measurement behind each of them (README)")
    args = parser.parse_args(argv)

    executable = find_chromium(args.chromium)
    if executable is None:
        print(NO_CHROMIUM)
        return 2
    cases = [case for module in bench.CASE_MODULES for case in getattr(module, "explorer_cases", list)()
             if args.only in type(case["explorer"]).__name__]
    results = run(cases, executable, args.presses, args.ab, args.rounds)
    if args.json:
        print(json.dumps(results, indent=2))
    elif args.ab:
        print(f"key press -> picture shown, median ms, with / without the {args.ab} (rounds in turn, same"
              " JupyterLab); the floor's likewise")
        print(f"{'explorer':<26} {'shown with':>10} {'without':>8} {'floor with':>10} {'without':>8} {'presses each':>12}")
        for r in results:
            print(f"{r['explorer']:<26} {r['shown_with_ms']:10.1f} {r['shown_without_ms']:8.1f} "
                  f"{r['floor_with_ms']:10.1f} {r['floor_without_ms']:8.1f} {r['presses_each']:12d}")
        for kind in ("shown", "floor"):
            gaps = [r[f"{kind}_with_ms"] - r[f"{kind}_without_ms"] for r in results]
            print(f"{kind}: without the {args.ab} {sum(g > 0 for g in gaps)} of {len(gaps)} explorers are faster;"
                  f" median gain {statistics.median(gaps):.1f} ms")
        return 0
    else:
        print(f"key press -> picture shown, median ms over {args.rounds} rounds; the floor's (same moments, no"
              " computing) and the median difference; the parts (medians; explorer | floor): to kernel, kernel"
              " update, to page, paint; steal: the share of this machine's CPU time the hypervisor gave"
              " elsewhere while the explorer was measured")
        print(f"{'explorer':<26} {'key control':<16} {'shown':>6} {'p90':>6} {'goal':>6}  ok   {'floor':>6} "
              f"{'over floor':>10} {'to kernel':>11} {'kernel':>11} {'to page':>11} {'paint':>11} {'steal %':>7}")
        for r in results:
            parts = "".join(f" {r['parts_median_ms'][p]:5.1f}|{r['floor_parts_median_ms'][p]:<5.1f}"
                            for p in ("to_kernel", "kernel", "to_page", "paint"))
            print(f"{r['explorer']:<26} {r['control']:<16} {r['median_ms']:6.1f} {r['p90_ms']:6.1f} "
                  f"{'<=' + str(r['goal_ms']):>6}  {'yes' if r['ok'] else 'NO ':<3}  {r['floor_ms']:6.1f} "
                  f"{r['over_floor_ms']:10.1f}{parts} {_percent(r['steal_percent'])}")
        for piece in PRESENT:
            states = sorted({r["present"][piece] for r in results})
            print(f"{piece}: " + " / ".join("on" if on else "off" for on in states)
                  + " (the book's JupyterLab has it off: lab/, see the README)")
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
