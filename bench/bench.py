#!/usr/bin/env python3
"""Time kbook against tf.keras in one process and print the ratios.

    python3 dev.py bench                 # table
    python3 dev.py bench --json          # machine-readable
    python3 dev.py bench --only dense    # cases whose name contains "dense"
    python3 dev.py bench --explorers     # only the explorers' cases (no TensorFlow needed)

Every case times a kbook callable and its tf.keras counterpart on the same data, each in its
own blocks of calls (alternating, about --repeat calls a side; see ``block_times``), and reports
the median of the rounds' ratios kbook / keras against the case's goal.  Cases live in
bench/cases_<chapter>.py, one module per chapter: ``cases()`` (layers against tf.keras) and
``explorer_cases()`` (one control change of each explorer, goal <= 30 ms; tests/test_widgets.py
checks that every explorer has one).  In-browser timings of the explorers:
``python3 dev.py browser-bench`` (bench/browser.py).
Cases that say how many floating-point operations a call does (``flops``; the Conv2D cases) also
show each side's useful GFLOP/s, next to this machine's ceiling: a large float32 matrix product on
SciPy's BLAS.  A ratio says who is faster; GFLOP/s say how far each side is from the hardware.
Goals are checked here and only here: unit tests never time anything.
"""
import argparse
import importlib
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# TensorFlow as users get it: oneDNN on (its default on x86).  ``import kbook`` would turn it off for
# a quiet import, which also changes TF's speed, so it is set first; TF_ENABLE_ONEDNN_OPTS=0 on the
# command line compares against TensorFlow with oneDNN off instead.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

# Every bench/cases_*.py module, so a new chapter's (or explorer's) cases cannot be left out.
CASE_MODULES = [importlib.import_module(path.stem) for path in sorted(BENCH.glob("cases_*.py"))]


def all_cases(module, explorers_only=False):
    """A module's cases: ``cases()`` (layers against tf.keras) and ``explorer_cases()`` (explorer updates)."""
    for name in ("explorer_cases",) if explorers_only else ("cases", "explorer_cases"):
        if hasattr(module, name):
            yield from getattr(module, name)()


def _seconds(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median_seconds(fn, repeat):
    fn()  # warm-up: first calls pay for allocation and TF's kernel selection
    return statistics.median(_seconds(fn) for _ in range(repeat))


# After a product, OpenBLAS keeps a worker spinning on a core for about 0.11 s (measured: a
# process that sleeps 0.2 s right after a GEMM uses 0.11 s of CPU), and TensorFlow's pool spins
# too, more briefly.  Timed turn about, each side ran on one core less than it has on its own:
# tf.keras right after kbook took 58-68 ms where it takes 40-45 alone (4x112x112x32, 7x7), which
# flattered kbook's ratio (1.1-1.5 instead of 1.8-2.0).  So each side runs in its own block of
# calls, and its first calls in a block, for at least this long, are not timed.  Busy, not asleep:
# after a 0.15 s sleep this VM runs the next 30 ms or so of work up to 1.6x slower (measured:
# AveragePooling2D's 7 ms forward pass took 9-12 ms for its 2nd to 4th calls after the pause).
SETTLE_SECONDS = 0.15


def _settle(fn):
    """Call fn, untimed, until SETTLE_SECONDS have passed (at least once)."""
    start = time.perf_counter()
    fn()
    while time.perf_counter() - start < SETTLE_SECONDS:
        fn()


def block_times(ours, theirs, repeat, statistic=statistics.median, per_block=3):
    """Two callables timed in alternating blocks: (ours, theirs, ratio) in seconds, seconds, ours / theirs.

    Each block first calls its side untimed for SETTLE_SECONDS (the other side's threads stop
    spinning meanwhile), then times ``per_block`` calls back to back: each side as a user gets it,
    running on its own.  Blocks alternate, about ``repeat`` timed calls a side in all, so a slow
    spell of this shared VM (the same case 30-50% apart from one minute to the next, measured)
    falls on both sides; the ratio is the median of the rounds' ratios, and the times the medians
    of each side.
    ``statistic=min`` for a case that compares two runs of the same arithmetic (an overhead):
    noise only ever adds time, and the fastest run of each is its cost without it.
    """
    mine, other = [], []  # each side's blocks of times
    for _ in range(max(1, math.ceil(repeat / per_block))):
        for fn, blocks in ((ours, mine), (theirs, other)):
            _settle(fn)
            blocks.append([_seconds(fn) for _ in range(per_block)])
    ours_s = statistic(t for block in mine for t in block)
    theirs_s = statistic(t for block in other for t in block)
    if statistic is min:
        return ours_s, theirs_s, ours_s / theirs_s
    return ours_s, theirs_s, statistics.median(statistic(a) / statistic(b) for a, b in zip(mine, other))


def gflops(flops, seconds):
    """Useful GFLOP/s of a call doing ``flops`` operations in ``seconds``; None for no count or no time."""
    if flops is None or not seconds:
        return None
    return flops / seconds / 1e9


def sgemm_gflops(size=2048, repeat=5):
    """GFLOP/s of a (size x size) @ (size x size) float32 product on SciPy's BLAS (median of ``repeat``):
    the ceiling a GEMM-based engine can reach on this machine."""
    import numpy as np
    from scipy.linalg import blas

    a = np.asfortranarray(np.random.default_rng(0).standard_normal((size, size), dtype=np.float32))
    return gflops(2 * size ** 3, median_seconds(lambda: blas.sgemm(1.0, a, a), repeat))


def row(name, **fields):
    """One row of the table (and of --json): every row has every key, None where it has no value."""
    blank = {"group": None, "median_goal": None, "kbook_ms": None, "keras_ms": None, "ratio": None,
             "goal": None, "ok": True, "unit": None, "kbook_gflops": None, "keras_gflops": None}
    return {"name": name, **blank, **fields}


def result_row(case, ours, theirs, ratio):
    """The table's row for one case: kbook's (and tf.keras's) seconds, the ratio, the goal met or not."""
    flops = case.get("flops")
    return row(
        case["name"], group=case.get("group"), median_goal=case.get("median_goal"),
        kbook_ms=ours * 1e3, keras_ms=theirs * 1e3 if theirs else None,
        ratio=ratio, goal=case["goal"],
        ok=(ratio <= case["goal"]) if ratio is not None else (ours * 1e3 <= case["goal"]),
        unit="ratio" if theirs else "ms",
        kbook_gflops=gflops(flops, ours), keras_gflops=gflops(flops, theirs),
    )


def import_time(repeat=5):
    """Median wall time of `import kbook` in a fresh interpreter."""
    code = "import time; t = time.perf_counter(); import kbook; print(time.perf_counter() - t)"
    runs = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                 check=True).stdout) for _ in range(repeat)]
    return statistics.median(runs)


def cpu_ticks():
    """(steal, total) CPU ticks of this machine so far, from /proc/stat; None where there is none."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    return (fields[7] if len(fields) > 7 else 0), sum(fields[:8])


def ticks_between(before, after):
    """(steal, total) ticks from one cpu_ticks() reading to a later one; None without readings."""
    if before is None or after is None:
        return None
    return after[0] - before[0], after[1] - before[1]


def steal_percent(ticks):
    """The share of CPU time the hypervisor gave to other machines, from ticks_between()."""
    if ticks is None or ticks[1] == 0:
        return None
    return 100 * ticks[0] / ticks[1]


def group_summaries(results):
    """Two rows per group of cases (a sweep of shapes): its median ratio against the group's
    median goal, and its worst ratio (which must meet every case's own goal)."""
    rows = []
    for group in dict.fromkeys(r["group"] for r in results if r.get("group")):
        members = [r for r in results if r.get("group") == group]
        ratios = [r["ratio"] for r in members]
        median, worst = statistics.median(ratios), max(members, key=lambda r: r["ratio"])
        for name, ratio, goal in ((f"{group}: median of {len(members)}", median, members[0]["median_goal"]),
                                  (f"{group}: worst", worst["ratio"], worst["goal"])):
            rows.append(row(name, ratio=ratio, goal=goal, ok=ratio <= goal, unit="ratio"))
    return rows


def _cell(value, width, decimals):
    """A table cell: value right-aligned in ``width`` characters, or blanks for no value."""
    return f"{value:{width}.{decimals}f}" if value is not None else " " * width


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--only", default="", help="run only cases whose name contains this")
    parser.add_argument("--explorers", action="store_true", help="run only the explorers' cases")
    args = parser.parse_args(argv)

    results = []
    ticks = cpu_ticks()
    for module in CASE_MODULES:
        for case in all_cases(module, args.explorers):
            if args.only not in case["name"]:
                continue
            repeat = max(args.repeat, case.get("repeat", 0))
            if case.get("keras"):
                ours, theirs, ratio = block_times(case["kbook"], case["keras"], repeat,
                                                   case.get("statistic", statistics.median))
            else:
                ours, theirs, ratio = median_seconds(case["kbook"], repeat), None, None
            results.append(result_row(case, ours, theirs, ratio))
    steal = steal_percent(ticks_between(ticks, cpu_ticks()))
    results += group_summaries(results)
    results.append(row("import kbook", kbook_ms=import_time() * 1e3, unit="ms"))
    if any(r["kbook_gflops"] for r in results):
        results.append(row("ceiling: float32 2048^3 matrix product (SciPy's BLAS)", unit="GFLOP/s",
                           kbook_gflops=sgemm_gflops()))

    if args.json:
        print(json.dumps(results + [row("hypervisor steal (%)", unit="percent", value=steal)], indent=2))
    else:
        onednn = "off" if os.environ["TF_ENABLE_ONEDNN_OPTS"] == "0" else "on (its default)"
        print(f"tf.keras: TensorFlow with oneDNN {onednn}")
        print(f"{'case':<56} {'kbook ms':>9} {'keras ms':>9} {'ratio':>6} {'goal':>7}  ok {'GFLOP/s':>12}"
              f"{'kbook':>6}{'keras':>6}")
        for r in results:
            goal = "" if r["goal"] is None else (f"<={r['goal']}" + ("ms" if r["unit"] == "ms" else ""))
            print(f"{r['name']:<56} {_cell(r['kbook_ms'], 9, 2)} {_cell(r['keras_ms'], 9, 2)} "
                  f"{_cell(r['ratio'], 6, 2)} {goal:>7}  {'yes' if r['ok'] else 'NO '}{' ' * 12}"
                  f"{_cell(r['kbook_gflops'], 6, 0)}{_cell(r['keras_gflops'], 6, 0)}".rstrip())
        if steal is not None:  # the slow spells of a shared VM (/proc/stat's "steal")
            print(f"CPU time the hypervisor gave to other machines during the run: {steal:.1f}%")
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
