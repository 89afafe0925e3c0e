"""Run NumPy work on every core, as TensorFlow does.

TensorFlow splits every large op across the cores; a NumPy ufunc runs on one.
But NumPy and SciPy release the GIL inside their loops, so Python threads that
work on disjoint parts of an array really do run at the same time.  ``run``
hands the parts out one at a time from a shared queue (the calling thread works
too), so a core that another program is busy with simply takes fewer parts.

Every element is computed the same way whatever the split, so results never
depend on the number of threads.  Used by kbook.ops.activations, kbook.ops.pooling and BatchNormalization.
"""
import os
import queue
from concurrent.futures import ThreadPoolExecutor

_pool = None


def cores():
    """The cores this process may use."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1  # macOS, Windows


def _forget_pool():
    global _pool
    _pool = None


if hasattr(os, "register_at_fork"):
    # A forked child inherits the pool object but not its threads: start afresh.
    os.register_at_fork(after_in_child=_forget_pool)


def run(work, parts, threads=None):
    """Call ``work(part)`` once for every part, on up to ``threads`` threads (default: all cores).

    ``work`` may run in a worker thread, so it must not rely on thread-local state
    such as ``np.errstate`` set by the caller.
    """
    global _pool
    parts = list(parts)
    threads = min(cores() if threads is None else threads, len(parts))
    if threads <= 1:
        for part in parts:
            work(part)
        return
    if _pool is None:
        _pool = ThreadPoolExecutor(max(1, cores() - 1), thread_name_prefix="kbook")
    todo = queue.SimpleQueue()
    for part in parts:
        todo.put(part)

    def drain():
        while True:
            try:
                part = todo.get_nowait()
            except queue.Empty:
                return
            work(part)

    helpers = [_pool.submit(drain) for _ in range(threads - 1)]
    try:
        drain()
    finally:
        for helper in helpers:
            helper.result()
