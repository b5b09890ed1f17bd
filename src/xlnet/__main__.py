"""The `xlnet` command's entry point (and `python -m xlnet`): Ctrl-C or SIGTERM before the command itself runs
(while Python imports it, or click reads its options) ends it at once with one line and exit status 130, as
the command does later on, once it has cleaned up (cli.reports_errors)."""
import os
import signal
import sys


def _abort(signum, frame) -> None:
    os.write(2, b"Aborted: stopped before writing; nothing was changed.\n")
    os._exit(130)


BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def main() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _abort)
    for var in BLAS_THREADS:  # the fits run a process per core: a BLAS thread per core in each oversubscribes them
        os.environ.setdefault(var, "1")  # (set before numpy loads; a user's own setting wins)
    from xlnet.cli import cli  # the imports take a tenth of a second: a signal then needs no clean-up
    cli(prog_name="xlnet")


if __name__ == "__main__":
    sys.exit(main())
