#!/usr/bin/env python3
"""Time kbook against tf.keras in one process and print the ratios.

    python3 dev.py bench                 # table
    python3 dev.py bench --json          # machine-readable
    python3 dev.py bench --only dense    # cases whose name contains "dense"

Every case times a kbook callable and its tf.keras counterpart on the same data
(median of --repeat runs after a warm-up) and reports kbook / keras against the
case's goal.  Cases live in bench/cases_<chapter>.py, one module per chapter.
Goals are checked here and only here: unit tests never time anything.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import cases_activation  # noqa: E402
import cases_conv2d  # noqa: E402
import cases_dense  # noqa: E402
import cases_models  # noqa: E402
import cases_pooling  # noqa: E402

CASE_MODULES = [cases_dense, cases_activation, cases_conv2d, cases_pooling, cases_models]


def median_seconds(fn, repeat):
    fn()  # warm-up: first calls pay for allocation and TF's kernel selection
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def import_time(repeat=5):
    """Median wall time of `import kbook` in a fresh interpreter."""
    code = "import time; t = time.perf_counter(); import kbook; print(time.perf_counter() - t)"
    runs = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                 check=True).stdout) for _ in range(repeat)]
    return statistics.median(runs)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--only", default="", help="run only cases whose name contains this")
    args = parser.parse_args(argv)

    results = []
    for module in CASE_MODULES:
        for case in module.cases():
            if args.only not in case["name"]:
                continue
            ours = median_seconds(case["kbook"], args.repeat)
            theirs = median_seconds(case["keras"], args.repeat) if case.get("keras") else None
            ratio = ours / theirs if theirs else None
            results.append({
                "name": case["name"], "kbook_ms": ours * 1e3,
                "keras_ms": theirs * 1e3 if theirs else None,
                "ratio": ratio, "goal": case["goal"],
                "ok": (ratio <= case["goal"]) if ratio is not None else (ours * 1e3 <= case["goal"]),
                "unit": "ratio" if theirs else "ms",
            })
    results.append({"name": "import kbook", "kbook_ms": import_time() * 1e3, "keras_ms": None,
                     "ratio": None, "goal": None, "ok": True, "unit": "ms"})

    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(f"{'case':<56} {'kbook ms':>9} {'keras ms':>9} {'ratio':>6} {'goal':>7}  ok")
        for r in results:
            keras_ms = f"{r['keras_ms']:9.2f}" if r["keras_ms"] is not None else " " * 9
            ratio = f"{r['ratio']:6.2f}" if r["ratio"] is not None else " " * 6
            goal = "" if r["goal"] is None else (f"<={r['goal']}" + ("ms" if r["unit"] == "ms" else ""))
            print(f"{r['name']:<56} {r['kbook_ms']:9.2f} {keras_ms} {ratio} {goal:>7}  "
                  f"{'yes' if r['ok'] else 'NO'}")
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
