"""Writing a new workbook as a stream: a sheet's rows go straight into its zip member.

Memory stays flat in the number of rows (only shared strings are kept). The parts
are the few xlnet needs: sheets with values, formulas and array formulas, shared
strings, styles, defined names, charts, and the workbook's calculation settings.
"""
from __future__ import annotations

import contextlib
import queue
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

from openpyxl.writer.theme import theme_xml

from . import parts
from .parts import (FIT_TO_WIDTH, NS, R_NS, XML_HEAD, Formula, SharedStrings, Style, Styles, cell_xml, escape,
                    print_setup, quoteattr)
from .read import letters
from .safety import exclusive, os_error, replacing
from .zipout import ZipOut

DOC_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
BUFFER = 1 << 16
BIG_SHEET = 20_000        # rows: a sheet this long is compressed faster (level 1: ~3x the speed, ~1.3x the size)...
THREAD_BUFFER = 1 << 20   # ... in a thread of its own (zlib lets it run beside the rendering), this much at a time


SEAM = object()


class _Compressor(threading.Thread):
    """Writes (so compresses) a sheet's bytes into its zip member while the next rows are rendered. The thread
    starts with the first bytes written (see SheetStream.settle)."""

    def __init__(self, out):
        super().__init__(daemon=True)
        self.out, self.queue, self.error = out, queue.Queue(maxsize=8), None
        self.started = False

    def run(self) -> None:
        while (data := self.queue.get()) is not None:
            if self.error is None:
                try:
                    self.out.mark_seam(data[1]) if type(data) is tuple else self.out.write(data)
                except BaseException as e:  # handed to the rendering thread, which raises it
                    self.error = e

    def mark_seam(self, layout: int) -> None:
        self.write((SEAM, layout))

    def write(self, data: bytes) -> None:
        if self.error is not None:
            raise self.error
        if not self.started:
            self.started = True
            self.start()
        self.queue.put(data)

    def close(self) -> None:
        if not self.started:
            return
        self.queue.put(None)
        self.join()
        if self.error is not None:
            raise self.error


class SheetStream:
    """Rows of one sheet, written in order as they come. Sheets `side_by_side` may be written at the same time
    (each is deflated into a file of its own until it closes)."""

    def __init__(self, writer: "Writer", name: str, part: str, *, widths: dict[int, float] | None = None,
                 freeze: tuple[int, int] | None = None, rows: int = 0, seam_after: int | None = None,
                 layout: int = 0, side_by_side: bool = False):
        self.writer, self.name, self.part = writer, name, part
        self.big = rows >= BIG_SHEET
        self.seam_after = seam_after  # the row after which a refit's cells end: see zipout.Member.mark_seam
        self.layout = layout          # ... and the fingerprint of the layout of the rows after it
        level = 1 if self.big else writer.level
        self.member = writer.zip.spooled(part, level) if side_by_side else writer.zip.open(part, level)
        self.out = _Compressor(self.member) if self.big else self.member
        self.buffer: list[bytes] = []
        self.size = 0
        self.drawing_rid: str | None = None
        head = [XML_HEAD, f'<worksheet xmlns="{NS}" xmlns:r="{R_NS}">'.encode(), FIT_TO_WIDTH]
        if freeze:
            col, row = freeze
            pane = (f'<pane {"xSplit=%s " % col if col else ""}ySplit="{row}" topLeftCell="{letters(col + 1)}'
                    f'{row + 1}" activePane="bottomLeft" state="frozen"/>')
            head.append(f'<sheetViews><sheetView workbookViewId="0">{pane}</sheetView></sheetViews>'.encode())
        else:
            head.append(b'<sheetViews><sheetView workbookViewId="0"/></sheetViews>')
        head.append(b'<sheetFormatPr defaultRowHeight="15"/>')
        if widths:
            head.append(b"<cols>" + b"".join(f'<col min="{c}" max="{c}" width="{w:g}" customWidth="1"/>'.encode()
                                             for c, w in sorted(widths.items())) + b"</cols>")
        head.append(b"<sheetData>")
        self._emit(b"".join(head))

    def _emit(self, data: bytes) -> None:
        self.buffer.append(data)
        self.size += len(data)
        if self.size > (THREAD_BUFFER if self.big else BUFFER):
            self._flush()

    def _flush(self) -> None:
        self.out.write(b"".join(self.buffer))
        self.buffer, self.size = [], 0

    def row(self, r: int, cells: Iterable[tuple[int, object, int]]) -> None:
        """One row: (column, value, style index) per cell, columns ascending. A str is text, never a formula."""
        strings = self.writer.strings
        self._emit(f'<row r="{r}">'.encode() + b"".join(cell_xml(c, r, v, s, strings) for c, v, s in cells)
                   + b"</row>")
        if r == self.seam_after:
            self._flush()
            self.out.mark_seam(self.layout)

    def raw_row(self, xml: bytes) -> None:
        """A row already rendered (a template filled in): the fast path for large sheets."""
        self._emit(xml)

    def settle(self) -> None:
        """Every byte handed to the compressing thread written, and the thread ended (a new one starts with the
        next bytes): the process may fork, and the child write on (a thread is not forked with its process)."""
        if isinstance(self.out, _Compressor) and self.out.started:
            self.out.close()
            self.out = _Compressor(self.member)

    def close(self, *, data: int = 0, row_breaks: Iterable[int] = (), landscape: bool = True) -> None:
        """`data`: a digest of the data in the rows after the seam, known once they are written. `row_breaks`:
        the rows after which a printed page ends; `landscape` False: pages upright (a tall sheet of charts)."""
        self.finish(data=data, row_breaks=row_breaks, landscape=landscape)
        if self.member.spool:
            self.writer.zip.add_spooled(self.member)

    def finish(self, *, data: int = 0, row_breaks: Iterable[int] = (), landscape: bool = True) -> None:
        """The sheet's last bytes written and its member closed (a spooled one is not yet in the zip): all of
        `close` that a forked process may do for its parent."""
        tail = [b"</sheetData>", print_setup(row_breaks, landscape=landscape)]
        if self.drawing_rid:
            tail.append(f'<drawing r:id="{self.drawing_rid}"/>'.encode())
        tail.append(b"</worksheet>")
        self._emit(b"".join(tail))
        self._flush()
        if isinstance(self.out, _Compressor):
            self.out.close()
        if data:
            self.member.seam_data(data)
        self.member.close()

    def add_finished(self, entry) -> None:
        """A spooled sheet that another process finished (`finish`) into the spool this one shares: its member's
        entry as that process closed it (sizes, CRC, seam), now added to the zip."""
        self.member.entry = entry
        self.writer.zip.add_spooled(self.member)


class Writer:
    """A new workbook package. Sheets are written one after another; `close` writes the rest."""

    def __init__(self, path: str | Path, *, compresslevel: int = 6):
        self.fp = open(path, "wb")
        self.zip, self.level = ZipOut(self.fp), compresslevel
        self.strings, self.styles = SharedStrings(), Styles()
        self.sheets: list[tuple[str, str, str]] = []  # name, part, state
        self.names: list[tuple[str, str, int | None, bool]] = []
        self.overrides: dict[str, str] = {}
        self.sheet_rels: dict[str, list] = {}
        self.pending: dict[str, bytes] = {}
        self.active = 0

    def style(self, style: Style) -> int:
        return self.styles(style)

    def sheet(self, name: str, *, state: str = "visible", **options) -> SheetStream:
        part = f"xl/worksheets/sheet{len(self.sheets) + 1}.xml"
        self.sheets.append((name, part, state))
        self.overrides[part] = parts.CT["sheet"]
        return SheetStream(self, name, part, **options)

    def define(self, name: str, text: str, *, sheet: str | None = None, hidden: bool = False) -> None:
        local = None if sheet is None else [s[0] for s in self.sheets].index(sheet)
        self.names.append((name, text, local, hidden))

    def charts(self, stream: SheetStream, charts: list[bytes], anchors: list[tuple[int, int, int, int]]) -> None:
        """Charts on a sheet still open for writing (its drawing is linked when it closes; the parts are
        written by `close`, as a zip takes one member at a time)."""
        n = len([p for p in self.overrides if p.startswith("xl/drawings/")]) + 1
        drawing = f"xl/drawings/drawing{n}.xml"
        rels = []
        for i, chart in enumerate(charts):
            k = len([p for p in self.overrides if p.startswith("xl/charts/")]) + 1
            part = f"xl/charts/chart{k}.xml"
            self.pending[part] = chart
            self.overrides[part] = parts.CT["chart"]
            rels.append((f"rId{i + 1}", parts.REL["chart"], f"../charts/chart{k}.xml"))
        self.pending[drawing] = parts.drawing([(*a, f"rId{i + 1}") for i, a in enumerate(anchors)])
        self.pending[f"xl/drawings/_rels/drawing{n}.xml.rels"] = parts.relationships(rels)
        self.overrides[drawing] = parts.CT["drawing"]
        stream.drawing_rid = "rId1"
        self.sheet_rels[stream.part] = [("rId1", parts.REL["drawing"], f"../drawings/drawing{n}.xml")]

    def close(self) -> None:
        z = self.zip
        for part, data in self.pending.items():
            z.writestr(part, data)
        for part, rels in self.sheet_rels.items():
            folder, file = part.rsplit("/", 1)
            z.writestr(f"{folder}/_rels/{file}.rels", parts.relationships(rels))
        z.writestr("xl/sharedStrings.xml", self.strings.xml())
        z.writestr("xl/styles.xml", self.styles.xml())
        z.writestr("xl/theme/theme1.xml", theme_xml)  # Office's default theme, which Excel requires
        sheets = "".join(f'<sheet name={quoteattr(name)} sheetId="{i + 1}"'
                         + ("" if state == "visible" else f' state="{state}"') + f' r:id="rId{i + 1}"/>'
                         for i, (name, _, state) in enumerate(self.sheets))
        names = "".join(f'<definedName name={quoteattr(n)}' + ("" if local is None else f' localSheetId="{local}"')
                        + (' hidden="1"' if hidden else "") + f">{escape(text)}</definedName>"
                        for n, text, local, hidden in self.names)
        z.writestr("xl/workbook.xml", XML_HEAD + (
            f'<workbook xmlns="{NS}" xmlns:r="{R_NS}"><workbookPr/><bookViews><workbookView '
            f'activeTab="{self.active}"/></bookViews><sheets>{sheets}</sheets>'
            + (f"<definedNames>{names}</definedNames>" if names else "")
            + '<calcPr calcId="191029" fullCalcOnLoad="1"/></workbook>').encode())
        n = len(self.sheets)
        rels = [(f"rId{i + 1}", parts.REL["sheet"], f"worksheets/{part.rsplit('/', 1)[1]}")
                for i, (_, part, _) in enumerate(self.sheets)]
        rels += [(f"rId{n + 1}", parts.REL["strings"], "sharedStrings.xml"),
                 (f"rId{n + 2}", parts.REL["styles"], "styles.xml"),
                 (f"rId{n + 3}", f"{DOC_NS}/theme", "theme/theme1.xml")]
        z.writestr("xl/_rels/workbook.xml.rels", parts.relationships(rels))
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        z.writestr("docProps/core.xml", XML_HEAD + (
            '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dc:creator>xlnet</dc:creator>'
            f'<dcterms:created xsi:type="dcterms:W3CDTF">{now}</dcterms:created>'
            f'<dcterms:modified xsi:type="dcterms:W3CDTF">{now}</dcterms:modified></cp:coreProperties>').encode())
        z.writestr("docProps/app.xml", XML_HEAD + (
            '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
            '<Application>xlnet</Application></Properties>').encode())
        z.writestr("_rels/.rels", parts.relationships([
            ("rId1", f"{DOC_NS}/officeDocument", "xl/workbook.xml"),
            ("rId2", "http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties",
             "docProps/core.xml"),
            ("rId3", f"{DOC_NS}/extended-properties", "docProps/app.xml")]))
        overrides = {"xl/workbook.xml": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                     "xl/sharedStrings.xml": parts.CT["strings"], "xl/styles.xml": parts.CT["styles"],
                     "xl/theme/theme1.xml": "application/vnd.openxmlformats-officedocument.theme+xml",
                     "docProps/core.xml": "application/vnd.openxmlformats-package.core-properties+xml",
                     "docProps/app.xml": "application/vnd.openxmlformats-officedocument.extended-properties+xml",
                     **self.overrides}
        z.writestr("[Content_Types].xml", XML_HEAD + (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            + "".join(f'<Override PartName="/{p}" ContentType="{t}"/>' for p, t in overrides.items())
            + "</Types>").encode())
        z.close()
        self.fp.close()


@contextlib.contextmanager
def new_workbook(out: str | Path):
    """A Writer for a new workbook at `out`: its folder made, the file locked and replaced atomically."""
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise os_error(out, e, "write") from None
    with exclusive(out), replacing(out) as tmp:
        w = Writer(tmp)
        try:
            yield w
            w.close()
        finally:
            w.fp.close()


__all__ = ["Writer", "new_workbook", "SheetStream", "Formula", "Style"]
