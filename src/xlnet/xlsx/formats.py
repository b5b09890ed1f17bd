"""What a file is, when it is a spreadsheet but not an .xlsx xlnet reads: told by its first bytes and its parts,
with the menu path that saves it as one."""
from __future__ import annotations

import zipfile
from pathlib import Path

OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # a compound file: .xls, or an encrypted workbook of any kind
ENCRYPTED = "EncryptionInfo".encode("utf-16-le")
STRICT = b"http://purl.oclc.org/ooxml/officeDocument/relationships/officeDocument"
SAVE_AS_XLSX = ("in Excel, File > Save As, Excel Workbook (*.xlsx); in LibreOffice, File > Save As, file type "
                "Excel 2007-365 (.xlsx), then Use Excel 2007-365!")
SMALL = 1 << 16


def other_format(path: Path) -> str | None:
    """What the file is and how to save it as .xlsx, where it is an .xls, .xlsb, .ods, Strict Open XML or an
    encrypted workbook; None for anything else (an .xlsx, or not a spreadsheet at all)."""
    with open(path, "rb") as f:
        head = f.read(8)
        if head == OLE2:
            if ENCRYPTED in f.read(1 << 20):
                return ("a password-protected (encrypted) workbook, which xlnet cannot read: open it, remove the "
                        "password (Excel: File > Info > Protect Workbook > Encrypt with Password; LibreOffice: "
                        "File > Save As, untick Save with password), and save it as .xlsx")
            return f"an Excel 97-2003 workbook (.xls); xlnet reads .xlsx: {SAVE_AS_XLSX}"
    if not head.startswith(b"PK"):
        return None
    try:
        with zipfile.ZipFile(path) as z:
            names = {info.filename: info for info in z.infolist()}
            if "mimetype" in names and _small(z, names["mimetype"]).startswith(
                    b"application/vnd.oasis.opendocument.spreadsheet"):
                return ("an OpenDocument spreadsheet (.ods, LibreOffice's own format); xlnet reads .xlsx: in "
                        "LibreOffice, File > Save As, file type Excel 2007-365 (.xlsx), then Use Excel 2007-365!")
            if "xl/workbook.bin" in names:
                return f"an Excel binary workbook (.xlsb); xlnet reads .xlsx: {SAVE_AS_XLSX}"
            if "_rels/.rels" in names and STRICT in _small(z, names["_rels/.rels"]):
                return f"a Strict Open XML workbook, which xlnet does not read; save it as an ordinary .xlsx: " \
                       f"{SAVE_AS_XLSX}"
    except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile, KeyError, NotImplementedError):
        return None
    return None


def _small(z: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """A small part's bytes (nothing of a large one: this looks, it does not unpack)."""
    return z.read(info) if info.file_size <= SMALL else b""
