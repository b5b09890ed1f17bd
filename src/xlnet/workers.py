"""Worker processes for work that splits into independent jobs (fits, reads): forked, so they inherit what they
need without pickling it, and tied to their parent, so none outlives it."""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import mmap
import multiprocessing
import multiprocessing.connection
import os
import signal
from typing import Callable, Generic, Iterator, TypeVar

from xlnet.errors import XlnetError

T = TypeVar("T")
PROGRESS_EVERY = 0.2  # seconds between looks at the workers' progress


def can_fork() -> bool:
    """Whether work can go to forked workers: two cores or more, and not inside a worker (a pool's workers may
    not have children of their own)."""
    return cores() >= 2 and "fork" in multiprocessing.get_all_start_methods() \
        and not multiprocessing.current_process().daemon


def cores() -> int:
    """The cores this process may use: those it may run on, and no more than a container's CPU quota (os.cpu_count
    counts the host's: on a 64-core host with a quota of 2, a worker per core would be 64 processes on 2)."""
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(n, _cpu_quota() or n))


CGROUP_QUOTAS = (("/sys/fs/cgroup/cpu.max", None), ("/sys/fs/cgroup/cpu/cpu.cfs_quota_us",
                                                    "/sys/fs/cgroup/cpu/cpu.cfs_period_us"))


def _cpu_quota() -> int | None:
    """The CPU quota of this process's cgroup, in whole cores rounded up (cgroup v2's cpu.max "quota period", or
    v1's cfs quota and period); None where there is none or it cannot be read."""
    for quota_file, period_file in CGROUP_QUOTAS:
        with contextlib.suppress(OSError, ValueError):
            with open(quota_file) as f:
                fields = f.read().split()
            if period_file is not None:
                with open(period_file) as f:
                    fields.append(f.read().strip())
            return quota_in_cores(*fields[:2])
    return None


def quota_in_cores(quota: str, period: str) -> int | None:
    """A cgroup's CPU quota and period as whole cores, rounded up; None for no quota ("max", or -1)."""
    if quota == "max" or int(quota) < 0:
        return None
    return max(1, -(-int(quota) // int(period)))


def forked_map(job: Callable[[int, Callable[[int], None]], T], order: list[int],
               progress: Callable[[int], None] = lambda _: None) -> list[T]:
    """job(i, count) for each i in `order`, a forked worker each and as many at once as there are cores, results in
    `order`'s order. `count(steps)` reports progress: each job counts into its own slot of memory shared with the
    parent, which passes the total on to `progress` while it waits (no lock, and nothing for a signal to interrupt
    half-way). No lock is shared with a worker either: a `multiprocessing` pool's are, and terminating a pool whose
    worker held one (a job that failed while another was sending its result) hung the parent for ever."""
    slots = mmap.mmap(-1, 8 * (max(order, default=0) + 1))
    counts = (ctypes.c_int64 * (len(slots) // 8)).from_buffer(slots)

    def run(i: int) -> T:
        def count(steps: int) -> None:
            counts[i] += steps
        return job(i, count)

    outcomes: dict[int, T] = {}
    waiting, running = list(order), {}
    reported = 0
    with contextlib.ExitStack() as stack:
        while len(outcomes) < len(order):
            while waiting and len(running) < cores():
                i = waiting.pop(0)
                running[i] = stack.enter_context(in_background(lambda i=i: run(i)))
            multiprocessing.connection.wait([r.receive for r in running.values()], timeout=PROGRESS_EVERY)
            for i in [i for i, r in running.items() if r.ready()]:
                outcomes[i] = running.pop(i)()
            done = sum(counts)
            progress(done - reported)
            reported = done
    return [outcomes[i] for i in order]


@contextlib.contextmanager
def in_background(job: Callable[[], T]) -> Iterator["Pending[T]"]:
    """job() in a forked worker while the caller goes on with other work; the block gets a Pending, which called
    waits for its result (and raises what the job raised, or an XlnetError where the worker was killed before it
    finished: a Pool would wait for it for ever). The worker is killed when the block ends, however it ends."""
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    worker = context.Process(target=_background, args=(job, send), daemon=True)
    try:
        worker.start()
    finally:
        send.close()  # the worker has its own: once it ends, a read here ends too
    try:
        yield Pending(receive, worker)
    finally:
        worker.kill()
        worker.join()
        receive.close()


class Pending(Generic[T]):
    """The result of a job in a forked worker (in_background): `ready()`, or called, waited for. `receive` is
    readable once the result, or the worker's end, has come."""

    def __init__(self, receive, worker):
        self.receive, self.worker = receive, worker

    def ready(self) -> bool:
        return self.receive.poll()

    def __call__(self) -> T:
        multiprocessing.connection.wait([self.receive, self.worker.sentinel])
        try:
            kind, value = self.receive.recv()
        except EOFError:
            self.worker.join()
            raise XlnetError(f"a worker process of xlnet's ended before its work was done (exit code "
                             f"{self.worker.exitcode}: killed, or out of memory); nothing was written; run the "
                             "command again.") from None
        if kind == "raised":
            raise value
        return value


def _background(job: Callable[[], T], send) -> None:
    """In the worker: job()'s result, or what it raised, sent to the parent."""
    _worker_start()
    try:
        outcome = ("returned", job())
    except BaseException as e:  # noqa: BLE001 - whatever it is, the parent raises it
        outcome = ("raised", e)
    try:
        send.send(outcome)
    except Exception as e:  # an outcome that cannot be pickled
        send.send(("raised", RuntimeError(f"{outcome[0]} {type(outcome[1]).__name__}, which cannot be sent: {e}")))


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
