"""Reading a workbook's sheets as a stream of rows, without a cell object per cell.

Only what xlnet needs: the sheets and their parts, the defined names, and for each
cell its value and formula (shared formulas expanded, array formulas with their range).
Call `safety.check_package` first: this trusts the package not to be a bomb.
"""
from __future__ import annotations

import os
import posixpath
import re
import zipfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Iterator

from lxml import etree

from xlnet.errors import XlnetError

from .seam import Seam, note_of, seam_of
from .zipin import open_member

NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
STRICT_NS = "http://purl.oclc.org/ooxml/spreadsheetml/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
OFFICE_DOCUMENT = REL_NS + "/officeDocument"
MACRO_MAIN = "application/vnd.ms-excel.sheet.macroEnabled.main+xml"
CELL = re.compile(r"^\$?([A-Z]{1,3})\$?(\d+)$")
PARSER = dict(resolve_entities=False, no_network=True, huge_tree=True)


def column_number(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


def split_ref(ref: str) -> tuple[int, int]:
    """'AB12' -> (column 28, row 12)."""
    m = CELL.match(ref.upper())
    if not m:
        raise ValueError(ref)
    return column_number(m[1]), int(m[2])


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def rels_path(part: str) -> str:
    folder, name = posixpath.split(part)
    return posixpath.join(folder, "_rels", name + ".rels")


def resolve(source_part: str, target: str) -> str:
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join(posixpath.dirname(source_part), target)).lstrip("/")


@dataclass
class Sheet:
    name: str
    part: str
    rid: str
    state: str  # visible, hidden, veryHidden


@dataclass
class Name:
    name: str
    text: str
    sheet: str | None  # the sheet a local name belongs to
    hidden: bool


@dataclass
class Cell:
    value: object = None       # float, str, bool; None when empty
    formula: str | None = None  # with its leading '='
    array: str | None = None    # the range an array formula fills, on its top-left cell
    error: bool = False


class Package:
    """A workbook package opened for reading."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.zip = zipfile.ZipFile(self.path)
        self.names_in_zip = set(self.zip.namelist())
        office = [t for t, type_ in self.relationships("").items() if type_[1] == OFFICE_DOCUMENT]
        if not office:
            raise KeyError("no officeDocument relationship")
        self.workbook_part = office[0]
        self.workbook = self.xml(self.workbook_part)
        self.ns = self.workbook.nsmap.get(None, NS)
        rels = self.relationships(self.workbook_part)
        self.sheets: list[Sheet] = []
        for el in self.workbook.iter(f"{{{self.ns}}}sheet"):
            rid = el.get(f"{{{REL_NS}}}id") or el.get("{http://purl.oclc.org/ooxml/officeDocument/relationships}id")
            part = next(p for p, (i, _) in rels.items() if i == rid)
            self.sheets.append(Sheet(el.get("name"), part, rid, el.get("state", "visible")))

    def close(self) -> None:
        self.zip.close()

    def identity(self) -> tuple[int, int, int, int]:
        """The open file's device, inode, size and modification time: another file, or this one changed, differs."""
        st = os.fstat(self.zip.fp.fileno())
        return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns

    def again(self) -> "Package":
        """The same workbook opened anew (for a forked worker, which must not share this one's file position);
        refused where its path now names another file or the file changed."""
        try:
            other = Package(self.path)
        except (OSError, zipfile.BadZipFile, KeyError, etree.XMLSyntaxError):
            other = None
        if other is None or other.identity() != self.identity():
            if other is not None:
                other.close()
            raise XlnetError(f"{self.path}: the workbook changed while it was read; run the command again once it "
                             "is saved.")
        return other

    def __enter__(self) -> "Package":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def read(self, part: str) -> bytes:
        return self.zip.read(part)

    def xml(self, part: str) -> etree._Element:
        return etree.fromstring(self.read(part), etree.XMLParser(**PARSER))

    def relationships(self, part: str) -> dict[str, tuple[str, str]]:
        """target part -> (id, type) of the relationships from `part` ('' for the package)."""
        path = rels_path(part) if part else "_rels/.rels"
        if path not in self.names_in_zip:
            return {}
        out = {}
        for el in self.xml(path):
            if el.get("TargetMode") == "External":
                continue
            out[resolve(part or "/", el.get("Target"))] = (el.get("Id"), el.get("Type"))
        return out

    @cached_property
    def content_types(self) -> etree._Element:
        return self.xml("[Content_Types].xml")

    @property
    def macro_enabled(self) -> bool:
        for el in self.content_types:
            if el.get("PartName", "").lstrip("/") == self.workbook_part:
                return el.get("ContentType") == MACRO_MAIN
        return False

    @cached_property
    def names(self) -> list[Name]:
        out = []
        for el in self.workbook.iter(f"{{{self.ns}}}definedName"):
            local = el.get("localSheetId")
            sheet = self.sheets[int(local)].name if local is not None and int(local) < len(self.sheets) else None
            out.append(Name(el.get("name"), el.text or "", sheet, el.get("hidden") in ("1", "true")))
        return out

    def name(self, name: str, sheet: str | None = None) -> Name | None:
        for n in self.names:
            if n.name.lower() == name.lower() and n.sheet == sheet:
                return n
        return None

    def sheet(self, name: str) -> Sheet | None:
        return next((s for s in self.sheets if s.name == name), None)

    @cached_property
    def shared_strings(self) -> list[str]:
        rels = self.relationships(self.workbook_part)
        part = next((p for p, (_, t) in rels.items() if t.endswith("/sharedStrings")), None)
        if part is None or part not in self.names_in_zip:
            return []
        out = []
        for _, si in etree.iterparse(self.zip.open(part), tag=f"{{{self.ns}}}si", **PARSER):
            out.append(_text(si, self.ns))
            si.clear()
        return out

    def rows(self, sheet: str, *, max_row: int | None = None) -> Iterator[tuple[int, dict[int, Cell]]]:
        """(row number, {column number: Cell}) of each row that has cells, in order."""
        part = self.sheet(sheet).part
        shared: dict[str, tuple[str, int, int]] = {}
        r = 0
        for _, row in etree.iterparse(open_member(self.zip, part, self.path), tag=f"{{{self.ns}}}row", **PARSER):
            r = int(row.get("r") or r + 1)
            if max_row is not None and r > max_row:
                break
            cells = self.row_cells(row, r, shared)
            row.clear()
            while row.getprevious() is not None:
                del row.getparent()[0]
            if cells:
                yield r, cells

    def row_cells(self, row: etree._Element, r: int, shared: dict) -> dict[int, Cell]:
        """{column number: Cell} of one row element; `shared` carries shared formulas from row to row."""
        ns, cells, c = self.ns, {}, 0
        for el in row:
            if _local(el.tag) != "c":
                continue
            ref = el.get("r")
            c = split_ref(ref)[0] if ref else c + 1
            cell = Cell()
            t = el.get("t", "n")
            for child in el:
                tag = _local(child.tag)
                if tag == "v":
                    text = child.text or ""
                    if t == "s":
                        cell.value = self.shared_strings[int(text)]
                    elif t in ("str", "d"):
                        cell.value = text
                    elif t == "b":
                        cell.value = text in ("1", "true")
                    elif t == "e":
                        cell.value, cell.error = text, True
                    else:
                        cell.value = float(text) if text else None
                elif tag == "is":
                    cell.value = _text(child, ns)
                elif tag == "f":
                    cell.formula, cell.array = _formula(child, c, r, shared)
            cells[c] = cell
        return cells

    def raw_blocks(self, sheet: str) -> Iterator[tuple[int, bytes]]:
        """Runs of whole row elements as stored, without parsing them (the fast path for large sheets), each with
        its offset in the sheet's inflated bytes; split_rows splits one. Raises NotPlain where the sheet's
        elements carry a namespace prefix (then use `rows`)."""
        stream = open_member(self.zip, self.sheet(sheet).part, self.path)
        buffer, offset = b"", 0  # offset: of buffer[0]
        while (start := buffer.find(b"<sheetData")) < 0:
            if b":sheetData" in buffer:
                raise NotPlain(sheet)
            chunk = stream.read(RAW_CHUNK)
            if not chunk:
                return
            buffer += chunk
        head_end = buffer.find(b">", start)
        while head_end < 0:
            chunk = stream.read(RAW_CHUNK)
            if not chunk:
                return
            buffer += chunk
            head_end = buffer.find(b">", start)
        if buffer[head_end - 1:head_end] == b"/":  # <sheetData/>: no rows
            return
        buffer, offset = buffer[head_end + 1:], head_end + 1
        searched = 0  # the end tag is not in buffer[:searched]
        while True:
            end = buffer.find(b"</sheetData>", searched)
            searched = max(0, len(buffer) - len(b"</sheetData>"))
            cut = end if end >= 0 else buffer.rfind(b"</row>") + 6 if b"</row>" in buffer else 0
            if cut:
                yield offset, buffer[:cut]
            if end >= 0:
                return
            chunk = stream.read(RAW_CHUNK)
            if not chunk:
                return
            buffer, offset, searched = buffer[cut:] + chunk, offset + cut, max(0, searched - cut)

    def seam(self, sheet: str) -> Seam | None:
        """The seam xlnet's writer recorded in a sheet's zip member, while the member is as written."""
        return seam_of(self.zip.getinfo(self.sheet(sheet).part))

    def note(self, sheet: str) -> bytes | None:
        """The note xlnet's writer recorded beside a sheet's seam, while the member is as written."""
        return note_of(self.zip.getinfo(self.sheet(sheet).part))

    def parse_rows(self, data: bytes) -> list[etree._Element]:
        """The row elements of an item of split_rows (one, or a row with no cells and the row after it)."""
        return list(etree.fromstring(b'<sheetData xmlns="' + self.ns.encode() + b'">' + data + b"</sheetData>",
                                     etree.XMLParser(**PARSER)))


def split_rows(block: bytes) -> Iterator[bytes]:
    """The row elements of a block of raw_blocks, as stored."""
    pieces = block.split(b"</row>")
    for piece in pieces[:-1]:
        yield piece.lstrip() + b"</row>"
    if pieces[-1].strip():  # rows with no cells, <row r="9"/>
        yield pieces[-1].strip()


class NotPlain(Exception):
    """A sheet written with namespace prefixes: raw_blocks cannot scan it."""


RAW_CHUNK = 1 << 20


def _text(si, ns: str) -> str:
    """A string item's text: its runs, without phonetic hints."""
    return "".join(t.text or "" for t in si.iter(f"{{{ns}}}t") if _local(t.getparent().tag) != "rPh")


def _formula(f, c: int, r: int, shared: dict) -> tuple[str | None, str | None]:
    kind, text = f.get("t"), f.text
    if kind == "shared":
        si = f.get("si")
        if text:
            shared[si] = (text, c, r)
        elif si in shared:
            from openpyxl.formula.translate import Translator
            base, c0, r0 = shared[si]
            origin = f"{_letters(c0)}{r0}"
            text = Translator("=" + base, origin).translate_formula(f"{_letters(c)}{r}")[1:]
    if text is None:
        return None, None
    return "=" + text, f.get("ref") if kind == "array" else None


def _letters(c: int) -> str:
    out = ""
    while c:
        c, rem = divmod(c - 1, 26)
        out = chr(65 + rem) + out
    return out


letters = _letters
