"""Racing LibreOffice's own solver on a copy of a workbook, headless, through UNO."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Callable

from xlnet.errors import XlnetError

SCRIPT = Path(__file__).with_name("lo_solver.py")
UNO_PYTHONS = ("/usr/bin/python3", "python3")
ENGINES = ("swarm", "deps", "sco")
QUIT_SECONDS = 20  # for soffice to quit once asked to (it removes its pipes from /tmp as it does)
BOUND = 10.0  # every parameter is searched in [-BOUND, BOUND]
INSTALL = {
    "swarm": "sudo apt-get install libreoffice-calc-nogui python3-uno",
    "deps": "sudo apt-get install libreoffice-calc libreoffice-nlpsolver python3-uno default-jre "
            "(the NLP solver needs the full libreoffice-calc, which replaces -nogui, and Java)",
}
INSTALL["sco"] = INSTALL["deps"]


def _soffice(engine: str) -> str:
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if not found:
        raise XlnetError(f"LibreOffice is not installed; install it with: {INSTALL[engine]}")
    return found


def _uno_python(engine: str) -> str:
    for python in UNO_PYTHONS:
        exe = shutil.which(python)
        if exe and subprocess.run([exe, "-c", "import uno"], capture_output=True).returncode == 0:
            return exe
    raise XlnetError(f"LibreOffice's Python bridge (uno) is missing; install it with: {INSTALL[engine]}")


def office_pipes(profile: str, pipe: str) -> list[Path]:
    """Where a soffice run with this profile URL and accept pipe makes its sockets: /tmp/OSL_PIPE_<uid>_<name>
    (/var/tmp where /tmp cannot be written), the profile's named by the MD5 of its URL in UTF-16, each byte in hex
    without a leading zero. It removes them when it quits; a kill leaves them."""
    digest = "".join(f"{b:x}" for b in hashlib.md5(profile.encode("utf-16-le")).digest())
    return [Path(folder) / f"OSL_PIPE_{os.getuid()}_{name}" for folder in ("/tmp", "/var/tmp")
            for name in (f"SingleOfficeIPC_{digest}", pipe)]


def remove_pipes(profile: str, pipe: str) -> None:
    """Remove the sockets of a soffice run (office_pipes) that a kill left behind."""
    for path in office_pipes(profile, pipe):
        with contextlib.suppress(OSError):
            if stat.S_ISSOCK(path.lstat().st_mode):
                path.unlink()


def _stop(process: subprocess.Popen | None) -> None:
    """End a process we started, and its children, whatever state it is in."""
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def solve(path: str | Path, sheets: list[dict], *, engine: str = "swarm", time_limit: float = 60,
          progress: Callable[[dict], None] | None = None) -> list[dict]:
    """Run LibreOffice's `engine` on each sheet spec (name, objective and variable cells, 0-based).

    Works on a copy, so the workbook is never touched. Returns one dict per sheet: the
    solution, the loss LibreOffice computed for it, and the seconds its solver took.
    """
    if engine not in ENGINES:
        raise XlnetError(f"--engine must be one of {', '.join(ENGINES)}, not {engine!r}.")
    if not time_limit > 0:
        raise XlnetError(f"--time-limit must be a positive number of seconds, not {time_limit!r}.")
    soffice, python = _soffice(engine), _uno_python(engine)
    deadline = 90 + len(sheets) * (time_limit * 1.5 + 30)
    results, office, script = [], None, None
    with tempfile.TemporaryDirectory(prefix="xlnet-lo-") as tmp:
        copy = Path(tmp) / "workbook.xlsx"
        shutil.copyfile(path, copy)
        pipe, profile = f"xlnet-{uuid.uuid4().hex}", f"file://{tmp}/profile"
        job = {"workbook": str(copy), "pipe": pipe, "engine": engine, "time_limit": time_limit,
               "bound": BOUND, "sheets": sheets}
        try:
            office = subprocess.Popen(
                [soffice, f"-env:UserInstallation={profile}", "--headless", "--invisible", "--norestore",
                 "--nologo", "--nodefault", f"--accept=pipe,name={pipe};urp;"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            script = subprocess.Popen([python, str(SCRIPT)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True, start_new_session=True)
            timer = threading.Timer(deadline, lambda: (_stop(script), _stop(office)))
            timer.start()
            started = time.monotonic()
            script.stdin.write(json.dumps(job))
            script.stdin.close()
            for line in script.stdout:
                result = json.loads(line)
                if "error" in result:
                    raise XlnetError(f"LibreOffice: {result['error']}; install it with: {INSTALL[engine]}")
                results.append(result)
                if progress:
                    progress(result)
            script.wait()
            timer.cancel()
            with contextlib.suppress(subprocess.TimeoutExpired):
                office.wait(QUIT_SECONDS)  # it quits once the script has asked it to: see _stop
            if len(results) < len(sheets):
                if time.monotonic() - started >= deadline:
                    raise XlnetError(f"LibreOffice's solver did not finish within {deadline:.0f} s; "
                                     "lower --time-limit.")
                raise XlnetError("LibreOffice's solver stopped early: " + script.stderr.read().strip()[-400:])
        finally:
            _stop(script)
            _stop(office)
            remove_pipes(profile, pipe)
    return results
