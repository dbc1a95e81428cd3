"""Wall-clock timing and fresh copies of a prepared store, shared by the
benchmarks (scripts run from this folder, so `from _timing import ...`
finds it). Benchmarks that time CPU instead (graph, clv, duplicates) keep
their own, saying why."""
import os
import shutil
import statistics
import time


def once(fn):
    """Wall seconds of one call of `fn`."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def once_with_cpu(fn):
    """Wall and CPU seconds (this process's) of one call of `fn`: on a machine
    shared with other jobs the CPU time is the steadier of the two."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def timed(fn, repeat):
    """`fn`'s last result, and the best and the median wall seconds of `repeat` calls."""
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return out, min(times), statistics.median(times)


def fresh_copy(path, work):
    """`work` made a copy of the store file `path` (its WAL and shared-memory
    files from an earlier run removed: they would belong to the old copy)."""
    for suffix in ("-wal", "-shm"):
        if os.path.exists(work + suffix):
            os.remove(work + suffix)
    shutil.copy(path, work)
    return work
