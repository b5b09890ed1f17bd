"""The `xlnet` command's entry point (and `python -m xlnet`): Ctrl-C or SIGTERM before the command itself runs
(while Python imports it, or click reads its options) ends it at once with one line and exit status 130, as
the command does later on, once it has cleaned up (cli.reports_errors)."""
import os
import signal
import sys
from typing import NoReturn


def _abort(signum, frame) -> None:
    os.write(2, b"Aborted: stopped before writing; nothing was changed.\n")
    os._exit(130)


BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def main() -> NoReturn:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _abort)
    for var in BLAS_THREADS:  # the fits run a process per core: a BLAS thread per core in each oversubscribes them
        os.environ.setdefault(var, "1")  # (set before numpy loads; a user's own setting wins)
    from xlnet.cli import cli  # the imports take a tenth of a second: a signal then needs no clean-up
    try:
        cli(prog_name="xlnet")
        code = 0
    except SystemExit as e:
        code = e.code
    _leave(code)


def _leave(code) -> NoReturn:
    """Exit as SystemExit(code) would, without the interpreter's teardown: the command has closed everything it
    wrote (every write is atomic) and stopped its workers, and freeing every module's objects one by one took
    40-90 ms after a fit (a tenth of the lesson's)."""
    if not isinstance(code, int):
        if code is not None:
            print(code, file=sys.stderr)
        code = 0 if code is None else 1
    if sys.gettrace() is not None or sys.getprofile() is not None:  # a profiler or coverage writes at teardown
        sys.exit(code)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:  # a closed pipe (xlnet ... | head): what is left has nowhere to go
        pass
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
