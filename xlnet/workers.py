"""Worker processes for work that splits by sheet (fits, reads): forked, so they inherit what they need, and tied
to their parent, so none outlives it."""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import multiprocessing
import os
import signal
from typing import Iterator


def can_fork() -> bool:
    return (os.cpu_count() or 1) >= 2 and "fork" in multiprocessing.get_all_start_methods()


@contextlib.contextmanager
def workers_pool(n: int) -> Iterator[multiprocessing.pool.Pool]:
    """A pool of n forked workers, killed (never orphaned) when the block ends, however it ends."""
    pool = multiprocessing.get_context("fork").Pool(n, initializer=_worker_start)
    try:
        yield pool
    finally:
        pool.terminate()
        pool.join()


def _worker_start() -> None:
    """A worker dies with its parent (even on kill -9), leaves Ctrl-C to the parent, and uses one BLAS thread."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    with contextlib.suppress(OSError, AttributeError, TypeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() == 1:
            os._exit(1)
    one_blas_thread()


def one_blas_thread() -> None:
    """Two workers on two cores with two OpenBLAS threads each would fight; one thread each is faster."""
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "openblas" in line.lower() and ".so" in line}
        for path in libs:
            lib = ctypes.CDLL(path)
            for symbol in ("scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_",
                           "openblas_set_num_threads"):
                if hasattr(lib, symbol):
                    getattr(lib, symbol)(1)
                    break
