"""Changing a user's workbook in place: only the cells and parts xlnet owns.

Every other zip member is copied as it is (same bytes, same order, same
compression), so images, shapes, comments, macros, styles, the user's own sheets
and whatever xlnet does not understand survive a refit. What changes:
- the parameter cells' values, in place in the sheet XML (their style is kept);
- xlnet's own sheets (history, curves) and the drawing and charts of `curves`;
- shared strings and styles, by appending what xlnet's cells need;
- the workbook's calculation settings, so that the app recalculates on open.
"""
from __future__ import annotations

import copy
import re
import zipfile
from pathlib import Path

from lxml import etree

from . import parts
from .read import Package, rels_path
from .safety import replacing
from .seam import seam_of
from .zipout import ZipOut, head_before

ROW = re.compile(rb"<(?:\w+:)?row\b[^>]*?\br=\"(\d+)\"")
SHEET_DATA_END = re.compile(rb"</(?:\w+:)?sheetData>")
# A formula's cached value: stale once the parameters change, so removed to make every app recalculate it.
CACHED = re.compile(rb"(<(?:\w+:)?f\b[^>]*?(?:/>|>[^<]*</(?:\w+:)?f>))\s*<(?:\w+:)?v>[^<]*</(?:\w+:)?v>")
ROW_END = re.compile(rb"</(?:\w+:)?row>")
CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
BIG_MEMBER = 16 << 20  # bytes
CHUNK = 1 << 20


def _cell_pattern(ref: str) -> re.Pattern:
    return re.compile(rb"<(?P<p>\w+:)?c\b(?P<a>[^>]*?\br=\"" + ref.encode() + rb"\"[^>]*?)(?:/>|>.*?</(?:\w+:)?c>)",
                      re.S)


def _with_number(m: re.Match, value: float) -> bytes:
    attrs = re.sub(rb'\s+t="[^"]*"', b"", m["a"])
    p = m["p"] or b""
    return b"<" + p + b"c" + attrs + b"><" + p + b"v>" + parts.number(value).encode() + b"</" + p + b"v></" + p + b"c>"


class NotInHead(Exception):
    """A cell to set is not among the rows read as the sheet's head."""


class CellEdits:
    """Numbers to put into some cells of one sheet, whose formulas' cached values go."""

    def __init__(self, sheet: str, values: dict[tuple[int, int], float], fit: tuple[int, int] = (0, 0),
                 note: bytes | None = None):
        self.sheet, self.fit, self.note = sheet, fit, note
        self.cells = [(f"{parts.letters(c)}{r}", v) for (c, r), v in values.items()]
        self.last = max(r for _, r in values)

    def head(self, top: bytes) -> bytes:
        """The sheet's first rows (every cell to set among them) with the numbers put in, cached values gone."""
        for ref, v in self.cells:
            top, n = _cell_pattern(ref).subn(lambda m, v=v: _with_number(m, v), top, count=1)
            if n != 1:
                raise NotInHead(f"{self.sheet}!{ref} is not in the sheet")
        return CACHED.sub(rb"\1", top)

    def stream(self, src, member) -> None:
        """The whole sheet, from its inflated stream to a zip member; a seam follows the edited rows, so that the
        next edit of these cells copies the rest raw (zipout)."""
        head = b""
        while True:
            rows = [(int(m[1]), m.start()) for m in ROW.finditer(head)]
            beyond = next((pos for r, pos in rows if r > self.last), None)
            end = SHEET_DATA_END.search(head)
            if beyond is not None or end is not None:
                cut = beyond if beyond is not None else end.start()
                break
            chunk = src.read(CHUNK)
            if not chunk:
                cut = len(head)
                break
            head += chunk
        member.write(self.head(head[:cut]))
        member.mark_seam(fit=self.fit)
        member.note = self.note
        pending = head[cut:]
        while True:
            chunk = src.read(CHUNK)
            pending += chunk
            ends = list(ROW_END.finditer(pending))
            cut = len(pending) if not chunk else (ends[-1].end() if ends else 0)
            member.write(CACHED.sub(rb"\1", pending[:cut]))
            pending = pending[cut:]
            if not chunk:
                break


class Patch:
    """Edits to make to a package; `save` writes them, copying everything else."""

    def __init__(self, pkg: Package):
        self.pkg = pkg
        self.new: dict[str, bytes] = {}        # part -> content (new or replacing)
        self._new_sheets: dict[str, str] = {}  # name -> part of the sheets this patch adds
        self.edits: dict[str, CellEdits] = {}  # part -> numbers to put into its cells
        self.removed: set[str] = set()
        self.workbook = copy.deepcopy(pkg.workbook)
        self.ns = pkg.ns
        self.content_types = copy.deepcopy(pkg.content_types)
        rels = rels_path(pkg.workbook_part)
        self.workbook_rels = (etree.fromstring(pkg.read(rels)) if rels in pkg.names_in_zip
                              else etree.Element(f"{{{PKG_REL_NS}}}Relationships"))
        rel_parts = pkg.relationships(pkg.workbook_part)
        self.strings_part = next((p for p, (_, t) in rel_parts.items() if t == parts.REL["strings"]), None)
        self.styles_part = next((p for p, (_, t) in rel_parts.items() if t == parts.REL["styles"]), None)
        self.strings = parts.SharedStrings(pkg.read(self.strings_part) if self._has(self.strings_part) else None)
        self.styles = parts.Styles(pkg.read(self.styles_part) if self._has(self.styles_part) else None)

    def _has(self, part: str | None) -> bool:
        return part is not None and part in self.pkg.names_in_zip

    # --- cells ----------------------------------------------------------------------------------------
    def set_numbers(self, sheet: str, values: dict[tuple[int, int], float], fit: tuple[int, int] = (0, 0),
                    note: bytes | None = None) -> None:
        """Put numbers into existing cells of a sheet, keeping each cell's style: (column, row) -> value. `fit`:
        (digest, milliseconds) when the numbers are xlnet's fit of the sheet's rows (zipout.Seam), else none;
        `note`: what the seam's note is to say of the sheet with these numbers (zipout), else none.

        The sheet's formulas lose their cached values, which these numbers make stale: Excel recalculates on
        open anyway (fullCalcOnLoad), LibreOffice only the cells that have no value.
        """
        self.edits[self.pkg.sheet(sheet).part] = CellEdits(sheet, values, fit, note)

    # --- xlnet's own sheets ------------------------------------------------------------------------------
    def _marker(self, key: str) -> str:
        return f"_xlnet_{key}"

    def owned_sheet(self, key: str) -> str | None:
        """The name of xlnet's own sheet `key` (history, curves), found by its hidden defined name."""
        name = self.pkg.name(self._marker(key))
        if name is None:
            return None
        target = name.text.split("!")[0]
        if target.startswith("'"):
            target = target[1:-1].replace("''", "'")
        return target if self.pkg.sheet(target) else None

    def add_sheet(self, key: str, preferred: str) -> str:
        """A new sheet of xlnet's own, named `preferred` unless the user has a sheet of that name (any case)."""
        taken = {s.name.lower() for s in self.pkg.sheets} | {e.get("name").lower() for e in self._sheet_elements()}
        name, n = preferred, 1
        while name.lower() in taken:
            n += 1
            name = f"xlnet {preferred}" if n == 2 else f"xlnet {preferred} {n - 1}"
        part = self._free_part(f"xl/worksheets/xlnet_{key}", ".xml")
        rid = self._add_rel(self.workbook_rels, parts.REL["sheet"], part, self.pkg.workbook_part)
        sheets = self.workbook.find(f"{{{self.ns}}}sheets")
        ids = [int(e.get("sheetId")) for e in sheets]
        el = etree.SubElement(sheets, f"{{{self.ns}}}sheet", name=name, sheetId=str(max(ids + [0]) + 1))
        el.set(f"{{{parts.R_NS}}}id", rid)
        self._override(part, parts.CT["sheet"])
        self._define(self._marker(key), parts.sheet_ref(name, "$A$1"))
        self.new[part] = b""
        self._new_sheets[name] = part
        return name

    def _sheet_elements(self):
        return self.workbook.find(f"{{{self.ns}}}sheets")

    def sheet_part(self, name: str) -> str:
        s = self.pkg.sheet(name)
        return s.part if s else self._new_sheets[name]

    def sheet_source(self, name: str) -> bytes | None:
        part = self.sheet_part(name)
        return None if part in self.new else self.pkg.read(part)

    def set_sheet(self, name: str, xml: bytes, charts: list[bytes] = (), anchors: list = ()) -> None:
        """Replace a sheet of xlnet's own, with a drawing of `charts` at `anchors` (col0, row0, col1, row1)."""
        part = self.sheet_part(name)
        for old in self._reachable(part):
            self.removed.add(old)
            self._drop_override(old)
        self.removed.discard(part)
        if charts:
            drawing = self._free_part("xl/drawings/xlnet_drawing", ".xml")
            rels = []
            for i, chart in enumerate(charts):
                chart_part = self._free_part("xl/charts/xlnet_chart", ".xml")
                self.new[chart_part] = chart
                self._override(chart_part, parts.CT["chart"])
                rels.append((f"rId{i + 1}", parts.REL["chart"], "../charts/" + chart_part.rsplit("/", 1)[1]))
            self.new[drawing] = parts.drawing([(*a, f"rId{i + 1}") for i, a in enumerate(anchors)])
            self.new[rels_path(drawing)] = parts.relationships(rels)
            self._override(drawing, parts.CT["drawing"])
            self.new[rels_path(part)] = parts.relationships(
                [("rId1", parts.REL["drawing"], "../drawings/" + drawing.rsplit("/", 1)[1])])
        self.new[part] = xml

    def append_rows(self, name: str, rows: bytes) -> None:
        """Add rows at the end of a sheet's data, leaving the rest of the sheet as it is."""
        part = self.sheet_part(name)
        source = self.new.get(part) or self.pkg.read(part)
        m = list(SHEET_DATA_END.finditer(source))
        if m:
            at = m[-1].start()
            self.new[part] = source[:at] + rows + source[at:]
        else:  # <sheetData/>
            self.new[part] = re.sub(rb"<(\w+:)?sheetData\s*/>", lambda mm: b"<sheetData>" + rows + b"</sheetData>",
                                    source, count=1)

    def _reachable(self, part: str) -> set[str]:
        """Parts that `part` links to, and theirs in turn (a sheet's drawing, its charts, their styles)."""
        seen, todo = set(), [part]
        while todo:
            p = todo.pop()
            rels = rels_path(p)
            if rels in self.pkg.names_in_zip:
                seen.add(rels)
                for target in self.pkg.relationships(p):
                    if target not in seen and target in self.pkg.names_in_zip:
                        seen.add(target)
                        todo.append(target)
        return seen

    def _free_part(self, stem: str, suffix: str) -> str:
        used = self.pkg.names_in_zip | set(self.new)
        n = 1
        while f"{stem}{n}{suffix}" in used:
            n += 1
        self.new[f"{stem}{n}{suffix}"] = b""
        return f"{stem}{n}{suffix}"

    def _add_rel(self, rels: etree._Element, type_: str, part: str, source: str) -> str:
        ids = {e.get("Id") for e in rels}
        n = 1
        while f"rId{n}" in ids:
            n += 1
        folder = source.rsplit("/", 1)[0] + "/"
        target = part[len(folder):] if part.startswith(folder) else "/" + part
        etree.SubElement(rels, f"{{{PKG_REL_NS}}}Relationship", Id=f"rId{n}", Type=type_, Target=target)
        return f"rId{n}"

    def _override(self, part: str, content_type: str) -> None:
        self._drop_override(part)
        etree.SubElement(self.content_types, f"{{{CT_NS}}}Override", PartName="/" + part, ContentType=content_type)

    def _drop_override(self, part: str) -> None:
        for el in list(self.content_types):
            if el.get("PartName", "").lstrip("/") == part:
                self.content_types.remove(el)

    def print_setup(self, sheet: str, *, titles: str | None = None, area: str | None = None) -> None:
        """The rows every printed page of an xlnet sheet repeats (`titles`, like "$1:$3") and the part it prints
        (`area`, like "$N$1:$Y$44"): the names the apps keep for a sheet, local to it."""
        position = [e.get("name") for e in self._sheet_elements()].index(sheet)
        for name, rng in ((parts.PRINT_TITLES, titles), (parts.PRINT_AREA, area)):
            if rng:
                self._define(name, parts.sheet_ref(sheet, rng), local=position, hidden=False)

    def _define(self, name: str, text: str, *, local: int | None = None, hidden: bool = True) -> None:
        names = self.workbook.find(f"{{{self.ns}}}definedNames")
        if names is None:
            names = etree.Element(f"{{{self.ns}}}definedNames")
            anchor = self.workbook.find(f"{{{self.ns}}}externalReferences")
            if anchor is None:
                anchor = self.workbook.find(f"{{{self.ns}}}sheets")
            anchor.addnext(names)
        scope = None if local is None else str(local)
        for el in list(names):
            if el.get("name") == name and el.get("localSheetId") == scope:
                names.remove(el)
        el = etree.SubElement(names, f"{{{self.ns}}}definedName", name=name)
        if scope is not None:
            el.set("localSheetId", scope)
        if hidden:
            el.set("hidden", "1")
        el.text = text

    def recalculate_on_open(self) -> None:
        calc = self.workbook.find(f"{{{self.ns}}}calcPr")
        if calc is None:
            calc = etree.Element(f"{{{self.ns}}}calcPr")
            names = self.workbook.find(f"{{{self.ns}}}definedNames")
            (names if names is not None else self.workbook.find(f"{{{self.ns}}}sheets")).addnext(calc)
        calc.set("fullCalcOnLoad", "1")

    # --- writing ---------------------------------------------------------------------------------------
    def _ensure_part(self, attr: str, key: str, default: str) -> None:
        part = getattr(self, attr)
        if part is None:
            part = default
            self._add_rel(self.workbook_rels, parts.REL[key], part, self.pkg.workbook_part)
            setattr(self, attr, part)
        self._override(part, parts.CT[key])

    def save(self, out: str | Path, elsewhere: bool = True) -> None:
        """Write the patched package to `out` atomically; every member not changed is copied as it is."""
        if self.strings.added:
            self._ensure_part("strings_part", "strings", "xl/sharedStrings.xml")
            self.new[self.strings_part] = self.strings.xml()
        if self.styles.changed:
            self._ensure_part("styles_part", "styles", "xl/styles.xml")
            self.new[self.styles_part] = self.styles.xml()
        self.new[self.pkg.workbook_part] = parts.XML_HEAD + etree.tostring(self.workbook)
        self.new["[Content_Types].xml"] = parts.XML_HEAD + etree.tostring(self.content_types)
        self.new[rels_path(self.pkg.workbook_part)] = parts.XML_HEAD + etree.tostring(self.workbook_rels)
        self.removed -= set(self.new)  # a part dropped and written anew (a sheet's relationships) is written
        with replacing(out, elsewhere) as tmp, open(tmp, "wb") as fp, open(self.pkg.path, "rb") as source:
            z = ZipOut(fp)
            written = set()
            for info in self.pkg.zip.infolist():
                name = info.filename
                if name in self.removed or name in written:
                    continue
                written.add(name)
                level = 1 if info.file_size > BIG_MEMBER else 6  # as the writer does for long sheets
                if name in self.new:
                    z.writestr(name, self.new[name], level, info.date_time)
                elif name in self.edits:
                    self._edit(z, source, info, level)
                else:
                    z.copy(source, info)
            for name, data in self.new.items():
                if name not in written and name not in self.removed:
                    z.writestr(name, data)
            z.close()

    def _edit(self, z: ZipOut, source, info: zipfile.ZipInfo, level: int) -> None:
        """A sheet with cells set: its head deflated anew and the rest copied raw where the member has a seam
        after the cells, else the whole sheet inflated, edited and deflated."""
        edits = self.edits[info.filename]
        seam = seam_of(info)
        head = head_before(source, info, seam) if seam else None
        if head is not None:
            try:
                z.splice(source, info, seam, edits.head(head), level, edits.fit, edits.note)
                return
            except NotInHead:
                pass
        with self.pkg.zip.open(info) as src, z.open(info.filename, level, info.date_time,
                                                          size_hint=2 * info.file_size) as member:
            edits.stream(src, member)
