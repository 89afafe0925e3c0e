"""The benchmarks' own arithmetic (bench/bench.py, bench/browser.py): how calls are timed and merged.
Nothing here times kbook: the clocks are fakes, and the goals are checked only by ``dev.py bench``."""
import sys
import time
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.fixture(scope="module")
def bench_modules():
    saved = list(sys.path)
    sys.path.insert(0, str(BENCH))  # the bench scripts import each other by plain name (and add paths)
    try:
        import bench
        import browser
        yield bench, browser
    finally:
        sys.path[:] = saved


class FakeClock:
    """perf_counter for bench.py: time moves only when a benchmarked callable says so."""

    def __init__(self):
        self.now = 0.0

    def perf_counter(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def sides(clock, calls, ours_cost=2.0, theirs_cost=1.0):
    def ours():
        calls.append("ours")
        clock.now += ours_cost

    def theirs():
        calls.append("theirs")
        clock.now += theirs_cost

    return ours, theirs


def test_each_side_runs_alone_in_its_blocks_after_settling(bench_modules, monkeypatch):
    # Turn about, kbook's spinning BLAS threads slowed tf.keras's next call: a timed call must
    # follow a call of its own side, and each block starts with untimed calls of that side.
    bench, _ = bench_modules
    clock, calls = FakeClock(), []
    monkeypatch.setattr(bench, "time", clock)
    monkeypatch.setattr(bench, "SETTLE_SECONDS", 0.5)  # shorter than one call: one settling call
    ours, theirs = sides(clock, calls)
    bench.block_times(ours, theirs, repeat=6, per_block=3)
    block = lambda side: [side] * 4  # noqa: E731  (one settling call, three timed)
    assert calls == block("ours") + block("theirs") + block("ours") + block("theirs")


def test_settling_lasts_at_least_settle_seconds(bench_modules, monkeypatch):
    bench, _ = bench_modules
    clock, calls = FakeClock(), []
    monkeypatch.setattr(bench, "time", clock)
    monkeypatch.setattr(bench, "SETTLE_SECONDS", 5.0)
    ours, theirs = sides(clock, calls, ours_cost=2.0, theirs_cost=1.0)
    bench.block_times(ours, theirs, repeat=1, per_block=1)
    # 5 s of settling: ours (2 s a call) needs 3 calls, theirs (1 s) 5; then one timed call each.
    assert calls == ["ours"] * 4 + ["theirs"] * 6


def costly(clock, calls, name, costs):
    """A callable whose successive calls take ``costs`` seconds of the fake clock."""
    costs = iter(costs)

    def fn():
        calls.append(name)
        clock.now += next(costs)

    return fn


@pytest.mark.parametrize("statistic_name", ["median", "min"])
def test_the_ratio_and_times_come_from_the_timed_calls_only(bench_modules, monkeypatch, statistic_name):
    bench, _ = bench_modules
    clock, calls = FakeClock(), []
    monkeypatch.setattr(bench, "time", clock)
    monkeypatch.setattr(bench, "SETTLE_SECONDS", 0.0)  # one settling call a block: it costs 50 or 70
    ours = costly(clock, calls, "ours", [50, 3, 3, 3, 50, 6, 6, 6, 50, 3, 3, 3])
    theirs = costly(clock, calls, "theirs", [70, 1, 1, 1, 70, 2, 2, 2, 70, 3, 3, 3])
    statistic = {"median": bench.statistics.median, "min": min}[statistic_name]
    result = bench.block_times(ours, theirs, repeat=9, statistic=statistic)
    if statistic_name == "median":
        # The rounds' ratios are 3, 3 and 1: their median is 3, where the ratio of the two sides'
        # medians (3 / 2) would be 1.5; no settling call's 50 or 70 s shows anywhere.
        assert result == (3.0, 2.0, 3.0)
    else:
        assert result == (3.0, 1.0, 3.0)  # the fastest timed call of each side
    assert calls.count("ours") == calls.count("theirs") == 3 * (1 + 3)


def test_browser_rounds_are_merged_per_explorer(bench_modules):
    _, browser = bench_modules
    round1 = (([{"shown": 50}], [{"shown": 30}]), (2, 100))
    round2 = (([{"shown": 70}, {"shown": 60}], [{"shown": 40}, {"shown": 35}]), (8, 300))
    (records, floor), ticks = browser._merge([round1, round2])
    assert [r["shown"] for r in records] == [50, 70, 60]
    assert [r["shown"] for r in floor] == [30, 40, 35]
    assert ticks == (10, 400)
    assert browser.bench.steal_percent(ticks) == pytest.approx(2.5)


def test_browser_ab_rounds_are_merged_per_label(bench_modules):
    _, browser = bench_modules
    round1 = ({"with": ([1], [2]), "without": ([3], [4])}, None)
    round2 = ({"with": ([5], [6]), "without": ([7], [8])}, None)
    joined, ticks = browser._merge([round1, round2])
    assert joined == {"with": ([1, 5], [2, 6]), "without": ([3, 7], [4, 8])}
    assert ticks is None


@pytest.mark.skipif(not Path("/proc/stat").exists(), reason="/proc/stat is Linux's")
def test_cpu_ticks_read_steal_and_total(bench_modules):
    bench, _ = bench_modules
    steal, total = bench.cpu_ticks()
    time.sleep(0.02)
    later_steal, later_total = bench.cpu_ticks()
    assert 0 <= steal <= total and later_total >= total and later_steal >= steal
    assert bench.steal_percent(bench.ticks_between((steal, total), (steal, total))) is None  # no time: no share
    assert bench.steal_percent(bench.ticks_between((10, 1000), (30, 1400))) == pytest.approx(5.0)
    assert bench.ticks_between(None, (30, 1400)) is None and bench.steal_percent(None) is None


def test_rows_show_each_sides_gflops_when_the_case_counts_its_operations(bench_modules):
    bench, _ = bench_modules
    counted = {"name": "conv", "goal": 1.25, "flops": 6e9}
    row = bench.result_row(counted, ours=2.0, theirs=1.0, ratio=2.0)
    assert (row["kbook_gflops"], row["keras_gflops"]) == (3.0, 6.0)
    assert (row["kbook_ms"], row["keras_ms"], row["ok"], row["unit"]) == (2000.0, 1000.0, False, "ratio")
    uncounted = bench.result_row({"name": "relu", "goal": 2.0}, ours=2.0, theirs=1.0, ratio=2.0)
    assert uncounted["kbook_gflops"] is None and uncounted["keras_gflops"] is None and uncounted["ok"]
    explorer = bench.result_row({"name": "explorer", "goal": 30}, ours=0.02, theirs=None, ratio=None)
    assert (explorer["unit"], explorer["ok"], explorer["keras_gflops"]) == ("ms", True, None)


def test_the_ceiling_times_a_real_product(bench_modules, monkeypatch):
    bench, _ = bench_modules
    timed = []

    def fake_median_seconds(fn, repeat):
        timed.append(fn())
        return 0.5

    monkeypatch.setattr(bench, "median_seconds", fake_median_seconds)
    assert bench.sgemm_gflops(size=8) == pytest.approx(2 * 8 ** 3 / 0.5 / 1e9)
    product = timed[0]
    rng = __import__("numpy").random.default_rng(0)
    a = rng.standard_normal((8, 8), dtype="float32")
    assert product.shape == (8, 8) and product == pytest.approx(a @ a, rel=1e-5)


@pytest.mark.parametrize("groups, expected", [(1, 2 * 2 * 5 * 5 * 3 * 3 * 4 * 8), (2, 2 * 2 * 5 * 5 * 3 * 3 * 2 * 8)])
def test_conv_cases_count_a_multiply_and_an_add_per_weight_and_output(bench_modules, groups, expected):
    import cases_conv2d

    from kbook.layers.conv2d import Conv2D

    layer = Conv2D(8, 3, strides=2, padding="same", groups=groups)
    layer.build((2, 9, 9, 4))  # output (2, 5, 5, 8); each filter sees 4 // groups channels
    assert cases_conv2d._flops(layer, (2, 9, 9, 4)) == expected


def test_main_prints_every_row_with_every_key_and_the_rates_under_their_headers(bench_modules, monkeypatch, capsys):
    bench, _ = bench_modules
    clock = FakeClock()
    monkeypatch.setattr(bench, "time", clock)
    monkeypatch.setattr(bench, "SETTLE_SECONDS", 0.0)
    monkeypatch.setattr(bench, "import_time", lambda: 0.25)
    monkeypatch.setattr(bench, "sgemm_gflops", lambda: 120.0)
    ours, theirs = sides(clock, [], ours_cost=2.0, theirs_cost=1.0)
    fake = type(sys)("cases_fake")
    fake.cases = lambda: [{"name": "conv fake forward", "kbook": ours, "keras": theirs, "goal": 2.5,
                           "flops": 8e9, "group": "fake sweep", "median_goal": 2.0},
                          {"name": "relu fake", "kbook": ours, "keras": theirs, "goal": 1.5}]
    monkeypatch.setattr(bench, "CASE_MODULES", [fake])

    assert bench.main(["--json", "--repeat", "3"]) == 1  # relu fake misses its goal
    rows = __import__("json").loads(capsys.readouterr().out)
    assert len({frozenset(r) - {"value"} for r in rows}) == 1  # the same keys everywhere
    by_name = {r["name"]: r for r in rows}
    assert (by_name["conv fake forward"]["kbook_gflops"], by_name["conv fake forward"]["keras_gflops"]) == (4.0, 8.0)
    assert by_name["relu fake"]["kbook_gflops"] is None
    ceiling = [r for r in rows if r["name"].startswith("ceiling")]
    assert [r["kbook_gflops"] for r in ceiling] == [120.0]

    bench.main(["--repeat", "3"])
    lines = capsys.readouterr().out.splitlines()
    header = next(line for line in lines if line.startswith("case"))
    conv = next(line for line in lines if line.startswith("conv fake forward"))
    # kbook's 4 GFLOP/s ends under "kbook", tf.keras's 8 under "keras"
    assert conv.endswith("     4     8") and len(conv) == len(header)
    assert header.endswith("kbook keras")
    assert next(line for line in lines if line.startswith("ceiling")).endswith("   120")
