"""kbook.parallel: every part runs exactly once, whatever the number of threads; errors surface."""
import threading

import numpy as np
import pytest

from kbook import activations, parallel
from kbook.ops import activations as ops_activations


@pytest.mark.parametrize("threads", [1, 2, 8])
def test_every_part_once(threads):
    seen, lock = [], threading.Lock()

    def work(part):
        with lock:
            seen.append(part)

    parallel.run(work, range(37), threads=threads)
    assert sorted(seen) == list(range(37))


def test_worker_error_reaches_the_caller():
    def work(part):
        if part == 5:
            raise ValueError("part 5 failed")

    with pytest.raises(ValueError, match="part 5 failed"):
        parallel.run(work, range(10), threads=2)


def test_threaded_activation_equals_single_block(monkeypatch):
    monkeypatch.setattr(parallel, "cores", lambda: 4)  # threads even on a 1-core machine
    x = np.random.default_rng(0).standard_normal(600_000).astype(np.float32)
    threaded = activations.gelu(x)
    monkeypatch.setattr(ops_activations, "PARALLEL_MIN_SIZE", 1 << 60)
    assert np.array_equal(threaded, activations.gelu(x))
