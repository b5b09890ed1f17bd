"""Recalculating a workbook in a real, headless LibreOffice: the tests' oracle."""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from xlnet.peers.libreoffice import remove_pipes

# Without this, LibreOffice keeps the cached values of an .xlsx instead of recalculating.
REGISTRY = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse">
<value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="ODFRecalcMode" oor:op="fuse">
<value>0</value></prop></item>
</oor:items>
"""


def soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def convert(path: Path, outdir: Path, fmt: str = "xlsx") -> Path:
    """Open `path` in LibreOffice, recalculate everything, save it as `fmt` in `outdir`."""
    outdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        user = Path(profile) / "user"
        user.mkdir()
        (user / "registrymodifications.xcu").write_text(REGISTRY)
        subprocess.run([soffice(), f"-env:UserInstallation=file://{profile}", "--headless", "--norestore",
                        "--convert-to", fmt, "--outdir", str(outdir), str(path)],
                       check=True, capture_output=True, timeout=300)
    out = outdir / (path.stem + "." + fmt.split(":")[0])
    assert out.exists(), f"LibreOffice wrote no {out}"
    return out


UNO_SCRIPT = Path(__file__).with_name("uno_user.py")


def uno_python() -> str | None:
    python = shutil.which("python3", path="/usr/bin")
    if python and subprocess.run([python, "-c", "import uno"], capture_output=True).returncode == 0:
        return python
    return None


def run_uno(action: str, *args: Path) -> dict:
    """Run tests/uno_user.py's `action` against a private headless LibreOffice; its JSON answer."""
    import json
    import os
    import signal
    import uuid
    with tempfile.TemporaryDirectory() as profile:
        user = Path(profile) / "user"
        user.mkdir()
        (user / "registrymodifications.xcu").write_text(REGISTRY)
        pipe = f"xlnet-test-{uuid.uuid4().hex}"
        office = subprocess.Popen([soffice(), f"-env:UserInstallation=file://{profile}", "--headless", "--invisible",
                                   "--norestore", "--nologo", "--nodefault", f"--accept=pipe,name={pipe};urp;"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            done = subprocess.run([uno_python(), str(UNO_SCRIPT), action, pipe, *(str(Path(a).resolve()) for a in args)],
                                  capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, done.stderr[-2000:]
            return json.loads(done.stdout.strip().splitlines()[-1])
        finally:
            os.killpg(office.pid, signal.SIGKILL)
            office.wait()
            remove_pipes(f"file://{profile}", pipe)


def ssconvert() -> str | None:
    return shutil.which("ssconvert")


def gnumeric_convert(path: Path, outdir: Path) -> Path:
    """Open `path` in Gnumeric, recalculate everything, save it as .xlsx in `outdir`: the second oracle."""
    outdir.mkdir(parents=True, exist_ok=True)
    out = outdir / (path.stem + ".gnumeric.xlsx")
    subprocess.run([ssconvert(), "--recalc", str(path), str(out)], check=True, capture_output=True, timeout=300)
    assert out.exists(), f"Gnumeric wrote no {out}"
    return out
