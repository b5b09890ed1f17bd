"""The XML of the parts xlnet writes: cells and sheets, shared strings, styles, charts and drawings.

The writer of a new workbook and the patcher of a user's workbook both use these, so a
sheet xlnet owns looks the same whichever wrote it.
"""
from __future__ import annotations

import math
import string
from dataclasses import dataclass, field

from lxml import etree

from .read import NS, PARSER, letters

XML_HEAD = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
CT = {
    "sheet": "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml",
    "drawing": "application/vnd.openxmlformats-officedocument.drawing+xml",
    "chart": "application/vnd.openxmlformats-officedocument.drawingml.chart+xml",
    "strings": "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml",
    "styles": "application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml",
}
REL = {k: f"{R_NS}/{v}" for k, v in (("sheet", "worksheet"), ("drawing", "drawing"), ("chart", "chart"),
                                     ("strings", "sharedStrings"), ("styles", "styles"))}


PRINT_TITLES = "_xlnm.Print_Titles"  # a sheet's local name for the rows every printed page repeats
PRINT_AREA = "_xlnm.Print_Area"      # ... and for the part of it that prints
XML_TEXT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
XML_ATTR = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\n": "&#10;", "\r": "&#13;",
                          "\t": "&#9;"})


def escape(text: str) -> str:
    """Text as XML character data (xml.sax.saxutils' escape, without importing urllib and http with it)."""
    return text.translate(XML_TEXT)


def quoteattr(text: str) -> str:
    """Text as a double-quoted XML attribute value."""
    return '"' + text.translate(XML_ATTR) + '"'


def number(x: float) -> str:
    """The shortest text that reads back as exactly `x`."""
    r = repr(float(x))
    return r[:-2] if r.endswith(".0") else r


SOLVER_OPTIONS = {  # Excel Solver's model, as the reference workbook stores it
    "solver_typ": "2", "solver_eng": "1", "solver_neg": "2", "solver_num": "0", "solver_ver": "3",
    "solver_cvg": "0.0001", "solver_drv": "1", "solver_est": "1", "solver_itr": "2147483647",
    "solver_mip": "2147483647", "solver_mni": "30", "solver_mrt": "0.075", "solver_msl": "2",
    "solver_nod": "2147483647", "solver_nwt": "1", "solver_pre": "0.000001", "solver_rbv": "1",
    "solver_rlx": "2", "solver_rsd": "0", "solver_scl": "1", "solver_sho": "2", "solver_ssz": "100",
    "solver_tim": "2147483647", "solver_tol": "0.01", "solver_val": "0",
    # LibreOffice 24.2+ reads this; without it, it would pick a linear engine.
    "solver_lo_eng": '"com.sun.star.comp.Calc.NLPSolver.DEPSSolverImpl"',
}


def sheet_ref(sheet: str, rng: str) -> str:
    """A reference to `rng` on `sheet`, quoted when the name needs it."""
    plain = sheet.replace("_", "").isalnum() and not sheet[0].isdigit()
    return f"{sheet}!{rng}" if plain else "'" + sheet.replace("'", "''") + f"'!{rng}"


class SharedStrings:
    """The shared-strings table: existing items keep their index, new text is appended."""

    def __init__(self, existing: bytes | None = None):
        self.items: list[bytes] = []
        self.index: dict[str, int] = {}
        if existing:
            root = etree.fromstring(existing, etree.XMLParser(**PARSER))
            for i, si in enumerate(root):
                self.items.append(etree.tostring(si))
                if len(si) == 1 and si[0].tag == f"{{{NS}}}t":
                    self.index.setdefault(si[0].text or "", i)
        self.added = False
        self.new: list[str] = []  # the texts appended, in order (a copy in another process appends them too)

    def __call__(self, text: str) -> int:
        i = self.index.get(text)
        if i is None:
            i = self.index[text] = len(self.items)
            space = ' xml:space="preserve"' if text != text.strip() or "\n" in text else ""
            self.items.append(f'<si xmlns="{NS}"><t{space}>{escape(text)}</t></si>'.encode())
            self.new.append(text)
            self.added = True
        return i

    def xml(self) -> bytes:
        body = b"".join(item.replace(f' xmlns="{NS}"'.encode(), b"") for item in self.items)
        return (XML_HEAD + f'<sst xmlns="{NS}" uniqueCount="{len(self.items)}">'.encode() + body + b"</sst>")


@dataclass(frozen=True)
class Style:
    bold: bool = False
    num_fmt: str | None = None
    fill: str | None = None     # an RGB like "FFFFF2CC": input cells
    border: bool = False
    align: str | None = None    # left, right, center


BASE_STYLES = (f'<styleSheet xmlns="{NS}"><numFmts count="0"/>'
               '<fonts count="1"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
               '<fills count="2"><fill><patternFill patternType="none"/></fill>'
               '<fill><patternFill patternType="gray125"/></fill></fills>'
               '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
               '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
               '<cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs>'
               '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
               '</styleSheet>').encode()
BUILTIN_FORMATS = {"General": 0, "0": 1, "0.00": 2}


class Styles:
    """A styles part that xlnet adds the few cell formats it needs to, finding them if already there."""

    def __init__(self, existing: bytes | None = None):
        self.root = etree.fromstring(existing or BASE_STYLES, etree.XMLParser(**PARSER))
        self.ns = self.root.nsmap.get(None, NS)
        self.cache: dict[Style, int] = {}
        self.changed = False

    def _list(self, tag: str, before: tuple[str, ...] = ()) -> etree._Element:
        el = self.root.find(f"{{{self.ns}}}{tag}")
        if el is None:
            el = etree.Element(f"{{{self.ns}}}{tag}")
            anchor = next((self.root.find(f"{{{self.ns}}}{b}") for b in before
                           if self.root.find(f"{{{self.ns}}}{b}") is not None), None)
            if anchor is not None:
                anchor.addprevious(el)
            else:
                self.root.append(el)
        return el

    def _num_fmt(self, code: str) -> int:
        if code in BUILTIN_FORMATS:
            return BUILTIN_FORMATS[code]
        fmts = self._list("numFmts", before=("fonts",))
        for el in fmts:
            if el.get("formatCode") == code:
                return int(el.get("numFmtId"))
        used = [int(el.get("numFmtId")) for el in fmts]
        i = max([163] + used) + 1
        etree.SubElement(fmts, f"{{{self.ns}}}numFmt", numFmtId=str(i), formatCode=code)
        fmts.set("count", str(len(fmts)))
        self.changed = True
        return i

    def __call__(self, style: Style) -> int:
        if style == Style():
            return 0
        if style in self.cache:
            return self.cache[style]
        fmt = self._num_fmt(style.num_fmt) if style.num_fmt else 0
        fonts = self._list("fonts")
        font = 0
        if style.bold:
            base = etree.tostring(fonts[0]).decode() if len(fonts) else "<font/>"
            bold = etree.fromstring(base)
            for b in bold.findall(f"{{{self.ns}}}b"):
                bold.remove(b)
            bold.insert(0, etree.Element(f"{{{self.ns}}}b"))
            font = self._append_unique(fonts, bold)
        fill = 0
        if style.fill:
            el = etree.fromstring(f'<fill xmlns="{self.ns}"><patternFill patternType="solid">'
                                  f'<fgColor rgb="{style.fill}"/><bgColor indexed="64"/></patternFill></fill>')
            fill = self._append_unique(self._list("fills"), el)
        border = 0
        if style.border:
            side = '<{0} style="thin"><color rgb="FF7F7F7F"/></{0}>'
            el = etree.fromstring(f'<border xmlns="{self.ns}">' + "".join(side.format(s) for s in
                                  ("left", "right", "top", "bottom")) + "<diagonal/></border>")
            border = self._append_unique(self._list("borders"), el)
        xf = etree.Element(f"{{{self.ns}}}xf", numFmtId=str(fmt), fontId=str(font), fillId=str(fill),
                           borderId=str(border), xfId="0")
        for attr, value in (("applyNumberFormat", fmt), ("applyFont", font), ("applyFill", fill),
                            ("applyBorder", border)):
            if value:
                xf.set(attr, "1")
        if style.align:
            xf.set("applyAlignment", "1")
            etree.SubElement(xf, f"{{{self.ns}}}alignment", horizontal=style.align)
        i = self.cache[style] = self._append_unique(self._list("cellXfs"), xf)
        return i

    def _append_unique(self, parent: etree._Element, el: etree._Element) -> int:
        want = etree.tostring(el, method="c14n")
        for i, old in enumerate(parent):
            if etree.tostring(old, method="c14n") == want:
                return i
        parent.append(el)
        parent.set("count", str(len(parent)))
        self.changed = True
        return len(parent) - 1

    def xml(self) -> bytes:
        return XML_HEAD + etree.tostring(self.root)


@dataclass
class SheetXML:
    """A small sheet built in memory: cells with values or formulas, widths, frozen rows, a drawing."""
    strings: SharedStrings
    styles: Styles
    cells: dict[tuple[int, int], tuple] = field(default_factory=dict)  # (row, col) -> (value, Style, kind)
    widths: dict[int, float] = field(default_factory=dict)
    freeze_row: int = 0
    drawing_rid: str | None = None
    row_breaks: list[int] = field(default_factory=list)

    def put(self, row: int, col: int, value, style: Style = Style()) -> None:
        self.cells[(row, col)] = (value, style)

    def xml(self) -> bytes:
        out = [XML_HEAD, f'<worksheet xmlns="{NS}" xmlns:r="{R_NS}">'.encode(), FIT_TO_WIDTH]
        if self.freeze_row:
            out.append(f'<sheetViews><sheetView workbookViewId="0"><pane ySplit="{self.freeze_row}" '
                       f'topLeftCell="A{self.freeze_row + 1}" activePane="bottomLeft" state="frozen"/>'
                       '</sheetView></sheetViews>'.encode())
        out.append(b'<sheetFormatPr defaultRowHeight="15"/>')
        if self.widths:
            out.append(b"<cols>" + b"".join(f'<col min="{c}" max="{c}" width="{w}" customWidth="1"/>'.encode()
                                            for c, w in sorted(self.widths.items())) + b"</cols>")
        out.append(b"<sheetData>")
        row_cells: dict[int, list] = {}
        for (r, c), v in sorted(self.cells.items()):
            row_cells.setdefault(r, []).append((c, v))
        for r, cells in row_cells.items():
            out.append(f'<row r="{r}">'.encode())
            out.extend(cell_xml(c, r, value, self.styles(style), self.strings) for c, (value, style) in cells)
            out.append(b"</row>")
        out.append(b"</sheetData>")
        out.append(print_setup(self.row_breaks))
        if self.drawing_rid:
            out.append(f'<drawing r:id="{self.drawing_rid}"/>'.encode())
        out.append(b"</worksheet>")
        return b"".join(out)


FIT_TO_WIDTH = b'<sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>'  # opens a worksheet: see print_setup


def print_setup(row_breaks=(), *, landscape: bool = True) -> bytes:
    """How a sheet prints, as every sheet xlnet writes does: gridlines, landscape, one page wide (as many pages
    down as it takes; the worksheet opens with FIT_TO_WIDTH), a page ending after each of `row_breaks`."""
    out = [b'<printOptions gridLines="1"/>',
           b'<pageMargins left="0.5" right="0.5" top="0.6" bottom="0.6" header="0.3" footer="0.3"/>',
           f'<pageSetup orientation="{"landscape" if landscape else "portrait"}" fitToWidth="1" '
           f'fitToHeight="0"/>'.encode()]
    breaks = sorted(row_breaks)
    if breaks:
        out.append(f'<rowBreaks count="{len(breaks)}" manualBreakCount="{len(breaks)}">'.encode()
                   + b"".join(f'<brk id="{r}" max="16383" man="1"/>'.encode() for r in breaks) + b"</rowBreaks>")
    return b"".join(out)


def cell_xml(c: int, r: int | str, value, style: int, strings: SharedStrings) -> bytes:
    """One cell. A str is text (never a formula); a Formula is a formula; None is an empty styled cell."""
    s = f' s="{style}"' if style else ""
    ref = f"{letters(c)}{r}"
    if isinstance(value, Formula):
        return value.xml(ref, s)
    return f'<c r="{ref}"{s}{value_tail(value, strings)}'.encode()


def value_tail(value, strings: SharedStrings) -> str:
    """A value cell's XML after its reference and style: the part that depends on the value."""
    if value is None:
        return "/>"
    if isinstance(value, bool):
        return f' t="b"><v>{int(value)}</v></c>'
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            return ' t="e"><v>#NUM!</v></c>'
        return f"><v>{number(value)}</v></c>"
    return f' t="s"><v>{strings(str(value))}</v></c>'


OPEN = object()  # a value cell of a row template, filled in per row
ROW_MARK = "\x00"  # stands for the row number while a template is made


class RowTemplate:
    """A row's XML compiled once, with its row number and its value cells open: rendering a row joins the
    compiled pieces, and gives exactly the bytes of rendering its cells one by one with cell_xml."""

    def __init__(self, cells: list[tuple[int, object, int]], strings: SharedStrings):
        """cells: (column, value, style) in column order; the value OPEN for a value cell, else fixed."""
        text, self.open_columns = ['<row r="{0}">'], []
        for c, value, style in cells:
            if value is OPEN:
                text.append(f'<c r="{letters(c)}{{0}}"' + (f' s="{style}"' if style else "")
                            + f"{{{len(self.open_columns) + 1}}}")
                self.open_columns.append(c)
            else:
                xml = cell_xml(c, ROW_MARK, value, style, strings).decode()
                text.append(xml.replace("{", "{{").replace("}", "}}").replace(ROW_MARK, "{0}"))
        text.append("</row>")
        self.text = "".join(text)
        # The text between open cells, each a list of the pieces between row numbers: a row is then a join per
        # open cell, 3.7 times faster than self.text.format (on a row of 10 open cells and 59 row numbers).
        self.pieces: list[list[str]] = [[]]
        literal = ""
        for text, name, _, _ in string.Formatter().parse(self.text):
            literal += text  # an escaped brace comes as text without a field
            if name is not None:
                self.pieces[-1].append(literal)
                literal = ""
                if name != "0":
                    self.pieces.append([])
        self.pieces[-1].append(literal)

    def render(self, r: int, tails: tuple[str, ...]) -> bytes:
        """Row r, with value_tail of each open cell's value in column order."""
        row = str(r)
        out = [row.join(self.pieces[0])]
        for tail, pieces in zip(tails, self.pieces[1:]):
            out.append(tail)
            out.append(row.join(pieces))
        return "".join(out).encode()


def value_tails(values: list, strings: SharedStrings) -> list[str]:
    """value_tail of each value, remembering those seen (columns repeat their values)."""
    memo: dict = {}
    out = []
    for v in values:
        tail = memo.get(v) if type(v) is not bool else None  # True would find 1.0's
        if tail is None:
            tail = value_tail(v, strings)
            if v == v and type(v) is not bool:  # NaN is never found again: do not keep it
                memo[v] = tail
        out.append(tail)
    return out


@dataclass(frozen=True)
class Formula:
    text: str                 # with its leading '='
    array: str | None = None  # the range of a legacy array formula, on its top-left cell

    def xml(self, ref: str, s: str = "") -> bytes:
        body = escape(self.text[1:])
        if self.array:
            return f'<c r="{ref}"{s}><f t="array" ref="{self.array}">{body}</f></c>'.encode()
        return f'<c r="{ref}"{s}><f>{body}</f></c>'.encode()


# --- Charts -------------------------------------------------------------------------------------------

C_NS = "http://schemas.openxmlformats.org/drawingml/2006/chart"
A_NS = "http://schemas.openxmlformats.org/drawingml/2006/main"
XDR_NS = "http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing"


COLOURS = ("1F77B4", "D62728", "2CA02C")


def nice_range(lo: float, hi: float) -> tuple[float, float]:
    """Axis bounds around [lo, hi] at round numbers, so the curve fills the chart and the ticks read well:
    powers of ten when the curve spans more than a factor of 4 (the axis is then logarithmic)."""
    if lo > 0 and hi / lo > 4:
        return 10.0 ** math.floor(math.log10(lo)), 10.0 ** math.ceil(math.log10(hi))
    span = hi - lo or abs(hi) or 1.0
    step = 10 ** math.floor(math.log10(span)) / 2
    return math.floor(lo / step) * step, math.ceil(hi / step) * step


def _rich(text: str, size: int = 1200) -> str:
    return (f'<c:tx><c:rich><a:bodyPr/><a:p><a:pPr><a:defRPr sz="{size}" b="1"/></a:pPr>'
            f'<a:r><a:rPr lang="en-US" sz="{size}" b="1"/><a:t>{escape(text)}</a:t></a:r></a:p></c:rich></c:tx>')


def _axis(ax: int, cross: int, pos: str, title: str, lo: float | None = None, hi: float | None = None,
          log: bool = False, whole: bool = False) -> str:
    """A value axis; `whole`: whole-number ticks (iterations), at least 1 apart. It crosses the other axis at that
    axis's least value, so tick labels never print through the points."""
    scale = ('<c:logBase val="10"/>' if log else "") + '<c:orientation val="minMax"/>' + "".join(
        f"<c:{k} val={quoteattr(number(v))}/>" for k, v in (("max", hi), ("min", lo)) if v is not None)
    unit = ""
    if whole and lo is not None and hi is not None:
        unit = f'<c:majorUnit val="{max(1, int(nice_range(0, (hi - lo) / 5)[1]) or 1)}"/>'
    return (f'<c:valAx><c:axId val="{ax}"/><c:scaling>{scale}</c:scaling>'
            f'<c:delete val="0"/><c:axPos val="{pos}"/><c:majorGridlines/><c:title>{_rich(title, 1000)}'
            f'<c:overlay val="0"/></c:title><c:numFmt formatCode="{"0" if whole else "General"}" sourceLinked="0"/>'
            '<c:majorTickMark val="out"/><c:minorTickMark val="none"/><c:tickLblPos val="low"/>'
            f'<c:crossAx val="{cross}"/><c:crosses val="min"/><c:crossBetween val="midCat"/>{unit}</c:valAx>')


def _series_look(i: int, points: bool) -> str:
    colour = COLOURS[i % len(COLOURS)]
    if points:
        return (f'<c:spPr><a:ln w="19050"><a:noFill/></a:ln></c:spPr><c:marker><c:symbol val="circle"/>'
                f'<c:size val="4"/><c:spPr><a:solidFill><a:srgbClr val="{colour}"/></a:solidFill></c:spPr></c:marker>')
    return (f'<c:spPr><a:ln w="22225"><a:solidFill><a:srgbClr val="{colour}"/></a:solidFill></a:ln></c:spPr>'
            '<c:marker><c:symbol val="none"/></c:marker>')


def line_chart(title: str, series: list[tuple], x_title: str, y_title: str,
               y_range: tuple[float, float] | None = None, x_range: tuple[float, float] | None = None) -> bytes:
    """A scatter chart: (name ref, x ref, y ref[, points]) per series, a line unless `points`."""
    sers = "".join(
        f'<c:ser><c:idx val="{i}"/><c:order val="{i}"/><c:tx><c:strRef><c:f>{escape(s[0])}</c:f></c:strRef></c:tx>'
        + _series_look(i, len(s) > 3 and s[3])
        + f'<c:xVal><c:numRef><c:f>{escape(s[1])}</c:f></c:numRef></c:xVal>'
        f'<c:yVal><c:numRef><c:f>{escape(s[2])}</c:f></c:numRef></c:yVal><c:smooth val="0"/></c:ser>'
        for i, s in enumerate(series))
    lo, hi = y_range if y_range else (None, None)
    return XML_HEAD + (f'<c:chartSpace xmlns:c="{C_NS}" xmlns:a="{A_NS}" xmlns:r="{R_NS}">'
            '<c:roundedCorners val="0"/>'
            f'<c:chart><c:title>{_rich(title)}<c:overlay val="0"/></c:title><c:autoTitleDeleted val="0"/>'
            '<c:plotArea><c:layout/><c:scatterChart><c:scatterStyle val="lineMarker"/><c:varyColors val="0"/>'
            f'{sers}<c:axId val="500000001"/><c:axId val="500000002"/></c:scatterChart>'
            + _axis(500000001, 500000002, "b", x_title, *(x_range or (None, None)), whole=x_range is not None)
            + _axis(500000002, 500000001, "l", y_title, lo, hi, log=bool(lo and hi and lo > 0 and hi / lo >= 10))
            + '</c:plotArea><c:legend><c:legendPos val="b"/><c:overlay val="0"/></c:legend>'
            '<c:plotVisOnly val="1"/><c:dispBlanksAs val="gap"/></c:chart></c:chartSpace>').encode()


def drawing(anchors: list[tuple[int, int, int, int, str]]) -> bytes:
    """Charts placed on a sheet: (first col, first row, last col, last row, relationship id), 0-based."""
    body = "".join(
        f'<xdr:twoCellAnchor editAs="oneCell"><xdr:from><xdr:col>{c0}</xdr:col><xdr:colOff>0</xdr:colOff>'
        f'<xdr:row>{r0}</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:from><xdr:to><xdr:col>{c1}</xdr:col>'
        f'<xdr:colOff>0</xdr:colOff><xdr:row>{r1}</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:to>'
        f'<xdr:graphicFrame macro=""><xdr:nvGraphicFramePr><xdr:cNvPr id="{i + 2}" name="Chart {i + 1}"/>'
        '<xdr:cNvGraphicFramePr/></xdr:nvGraphicFramePr><xdr:xfrm><a:off x="0" y="0"/><a:ext cx="0" cy="0"/>'
        f'</xdr:xfrm><a:graphic><a:graphicData uri="{C_NS}"><c:chart xmlns:c="{C_NS}" r:id="{rid}"/>'
        '</a:graphicData></a:graphic></xdr:graphicFrame><xdr:clientData/></xdr:twoCellAnchor>'
        for i, (c0, r0, c1, r1, rid) in enumerate(anchors))
    return XML_HEAD + f'<xdr:wsDr xmlns:xdr="{XDR_NS}" xmlns:a="{A_NS}" xmlns:r="{R_NS}">{body}</xdr:wsDr>'.encode()


def relationships(rels: list[tuple[str, str, str]]) -> bytes:
    """(id, type, target) of each relationship of a part."""
    body = "".join(f'<Relationship Id="{i}" Type="{t}" Target={quoteattr(target)}/>' for i, t, target in rels)
    return XML_HEAD + ('<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                       + body + "</Relationships>").encode()
