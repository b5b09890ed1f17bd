"""Reading a CSV as text columns, and typing and checking them against a spec.

Every refusal names the file, the line and the column, and says how to fix it.
"""
from __future__ import annotations

import codecs
import contextlib
import csv
import io
import itertools
import math
import os
import pickle
import re
import shutil
import stat
import sys
import tempfile
import weakref
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable, Iterable, Iterator, TextIO

import numpy as np

from xlnet.errors import XlnetError
from xlnet.model.spec import MISSING_MARKERS, Column, Spec, TypeTracker, parse_number
from xlnet.table import tokens
from xlnet.workers import can_fork, cores, in_background

CELL_TEXT_LIMIT = 32_767  # characters an Excel cell holds
LINE_BREAK = re.compile(r"\r\n|\r|\n")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")  # not allowed in the workbook's XML
READ_CHUNK = 1 << 20   # bytes read at a time
ENCODE_ROWS = 65_536   # rows a chunk holds: the texts of a chunk are numbered at once
HALVES_FROM = 16 << 20  # bytes of a CSV that predict parses as two halves, a worker each (CsvSource.halves)
ONE_BYTE_BREAK = {"utf-8", "utf-8-sig", "cp1252", "latin-1", "iso8859-1"}  # a 0x0A byte is a line break wherever it is
CSV_FIELD_LIMIT = 1 << 17  # characters a field may hold
csv.field_size_limit(CSV_FIELD_LIMIT)


class TextColumn:
    """One column's texts, compactly: the distinct texts in the order first seen, and each row's number among them.

    A million rows of a column cost 4 bytes each and its distinct texts once, where a list of strings costs some
    60 bytes a row; typing, checking and writing a column then work on each distinct text once.
    """

    def __init__(self, distinct: list[str], codes: np.ndarray):
        self.distinct, self.codes = distinct, codes

    @classmethod
    def of(cls, texts: Iterable[str]) -> "TextColumn":
        index = _Index()
        codes = np.fromiter(map(index.__getitem__, texts), np.int32)
        return cls(list(index), codes)

    @classmethod
    def stripped(cls, texts: Iterable[str]) -> "TextColumn":
        """Texts as read, stripped of surrounding spaces: each distinct text is stripped once."""
        raw = cls.of(texts)
        return cls.renumbered([t.strip() for t in raw.distinct], raw.codes)

    @classmethod
    def renumbered(cls, distinct: list[str], codes: np.ndarray) -> "TextColumn":
        """A column whose `distinct` may repeat a text (each row's number among them in `codes`), each text once."""
        if len(set(distinct)) == len(distinct):
            return cls(distinct, codes)
        index = _Index()
        to = np.fromiter(map(index.__getitem__, distinct), np.int32, len(distinct))
        return cls(list(index), to[codes])

    def __len__(self) -> int:
        return len(self.codes)

    def __iter__(self) -> Iterator[str]:
        return iter(self.texts())

    def __getitem__(self, row: int) -> str:
        return self.distinct[self.codes[row]]

    def texts(self) -> list[str]:
        distinct = np.empty(len(self.distinct), dtype=object)
        distinct[:] = self.distinct
        return distinct[self.codes].tolist()

    def counts(self) -> np.ndarray:
        """How many rows hold each distinct text."""
        return np.bincount(self.codes, minlength=len(self.distinct))

    def part(self, start: int, stop: int) -> "TextColumn":
        """Rows start..stop-1 as a column of their own: only their texts, in the order first seen there."""
        used, first, inverse = np.unique(self.codes[start:stop], return_index=True, return_inverse=True)
        order = np.argsort(first)
        rank = np.empty(len(order), np.int32)
        rank[order] = np.arange(len(order))
        return TextColumn([self.distinct[k] for k in used[order].tolist()], rank[inverse.ravel()])

    def first_row(self, text: str) -> int:
        """The first row (from 0) that holds `text`."""
        return int(np.argmax(self.codes == self.distinct.index(text)))


class _Index(dict):
    """text -> its number, numbering each new text as it comes."""

    def __missing__(self, text: str) -> int:
        n = self[text] = len(self)
        return n


@dataclass
class TypedColumn:
    """A column typed by its spec where it was parsed (parsed_ahead's `typed`): each distinct text's value, and each
    row's number among them."""
    levels: np.ndarray
    codes: np.ndarray

    def __len__(self) -> int:
        return len(self.codes)


@dataclass
class Table:
    """A CSV as read: the header, each column's texts, and the line each row started on."""
    source: Path
    header: list[str]
    columns: list[TextColumn | TypedColumn | None]  # None: a column not read (CsvSource.chunks' only)
    lines: np.ndarray
    decimal_comma: bool = False

    def __len__(self) -> int:
        return len(self.lines)

    def column(self, name: str) -> TextColumn:
        return self.columns[self.header.index(name)]

    def chunks(self, rows: int | None = None) -> Iterator["Table"]:
        """The rows, `rows` at a time (ENCODE_ROWS), as a CsvSource gives them."""
        rows = rows or ENCODE_ROWS
        for start in range(0, len(self), rows):
            stop = min(len(self), start + rows)
            yield Table(self.source, self.header, [c.part(start, stop) for c in self.columns],
                        self.lines[start:stop], self.decimal_comma)


def pointed(text: str, decimal_comma: bool) -> str:
    """A number's text with a decimal point, where the CSV (semicolon-separated) writes decimal commas."""
    return text.replace(",", ".") if decimal_comma else text


def all_numbers(texts: list[str], decimal_comma: bool = False) -> bool:
    """Whether every text is a finite number (spec.parse_number), all parsed at once."""
    try:
        x = np.array([pointed(t, decimal_comma) for t in texts], dtype=float)
    except ValueError:  # numpy parses each text as float() does
        return False
    return bool(np.isfinite(x).all())


class Survey:
    """What a pass over a CSV's chunks learns of its columns: how many cells are missing, whether a column holds
    numbers and nothing else but empty cells, and (`count_texts`) how often each text occurs, for inference."""

    def __init__(self, header: list[str], *, count_texts: bool = True):
        self.header, self.count_texts = header, count_texts
        self.trackers = [TypeTracker() for _ in header]
        self.some, self.only = [False] * len(header), [True] * len(header)
        self.n_rows = 0

    def add(self, table: "Table") -> None:
        self.n_rows += len(table)
        for k, col in enumerate(table.columns):
            counts = col.counts()
            if self.count_texts:
                self.trackers[k].add(col.distinct, counts)
            else:
                self.trackers[k].missing += int(sum(n for t, n in zip(col.distinct, counts.tolist())
                                                    if t in MISSING_MARKERS))
            if self.only[k]:
                texts = [t for t in col.distinct if t]
                self.some[k] = self.some[k] or bool(texts)
                self.only[k] = all_numbers(texts, table.decimal_comma)

    @property
    def missing(self) -> list[int]:
        return [t.missing for t in self.trackers]

    @property
    def numbers_only(self) -> list[bool]:
        """Columns the data sheet writes as numbers."""
        return [some and only for some, only in zip(self.some, self.only)]


def _encoding(path: Path, fp: BinaryIO) -> str:
    """The file's encoding: UTF-16 with its mark (Excel's "Unicode text"), UTF-8, Windows-1252, else Latin-1; each
    tried over the whole file in chunks, so that the text is never held whole."""
    head = fp.read(65536)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and _decodes(fp, "utf-16"):
        return "utf-16"
    if b"\x00" in head:
        raise XlnetError(f"{path}: this is a binary file, not a CSV; export the data as CSV (comma-separated text).")
    for encoding in ("utf-8-sig", "cp1252"):
        if _decodes(fp, encoding):
            return encoding
    return "latin-1"  # decodes any bytes


def _decodes(fp: BinaryIO, encoding: str) -> bool:
    fp.seek(0)
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        while chunk := fp.read(READ_CHUNK):
            if fp.tell() > len(chunk) and not decoder.getstate()[0] and chunk.isascii():
                continue  # past the mark, between characters: ASCII decodes in any of these (20 times faster a check)
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
        return True
    except UnicodeDecodeError:
        return False


def read_table(path: str | Path, *, max_rows: int | None = None, empty_hint: str = "",
               noun: str = "row") -> Table:
    """The CSV's header and text columns, streamed; refuses what cannot be read unambiguously."""
    source = CsvSource(path, max_rows=max_rows, empty_hint=empty_hint, noun=noun)
    return merged(source, source.chunks())


def merged(source: "CsvSource | Table", chunks: Iterable[Table]) -> Table:
    """One table of consecutive chunks, each column's texts numbered in the order first seen."""
    index = [_Index() for _ in source.header]
    codes: list[list[np.ndarray]] = [[] for _ in source.header]
    lines = []
    for chunk in chunks:
        for k, column in enumerate(chunk.columns):
            to = np.fromiter(map(index[k].__getitem__, column.distinct), np.int32, len(column.distinct))
            codes[k].append(to[column.codes])
        lines.append(chunk.lines)
    columns = [TextColumn(list(i), np.concatenate(c)) for i, c in zip(index, codes)]
    return Table(source.source, source.header, columns, np.concatenate(lines), source.decimal_comma)


def _lines(batch: list[list[str]], start: int, end: int) -> np.ndarray:
    """The line each row of a batch ends on, the batch having started after line `start` and ended on `end`: one
    line a row, unless a quoted field holds line breaks."""
    if end - start == len(batch):
        return np.arange(start + 1, end + 1, dtype=np.int32)
    return start + np.cumsum([1 + sum(len(LINE_BREAK.findall(f)) for f in fields) for fields in batch],
                             dtype=np.int32)


def _spooled(owner, path: Path) -> Path:
    """A CSV that can be read more than once: the file itself, or for a pipe (`<(cat x.csv)`, or `-` for standard
    input) a temporary copy that lives as long as `owner`."""
    if str(path) == "-":
        stream = sys.stdin.buffer
    else:
        try:
            if not stat.S_ISFIFO(os.stat(path).st_mode):
                return path
            stream = open(path, "rb")
        except OSError:
            return path  # the reader says what is wrong
    with tempfile.NamedTemporaryFile(prefix="xlnet-csv-", suffix=".csv", delete=False) as copy:
        try:
            shutil.copyfileobj(stream, copy)
        except OSError as e:
            os.unlink(copy.name)
            raise XlnetError(f"{path}: cannot read it ({e.strerror}).") from None
        finally:
            if stream is not sys.stdin.buffer:
                stream.close()
    weakref.finalize(owner, _remove, copy.name)
    return Path(copy.name)


def _remove(name: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(name)


class CsvSource:
    """A CSV read as a stream of chunks of rows, as often as a command needs: memory holds one chunk.

    The header and the encoding are read once; each pass re-reads the file and refuses it if it changed since.
    """

    def __init__(self, path: str | Path, *, max_rows: int | None = None, empty_hint: str = "", noun: str = "row"):
        self.source = Path(path)
        self.path = _spooled(self, self.source)  # what is read: the file, or a pipe's copy
        self.max_rows, self.empty_hint, self.noun = max_rows, empty_hint, noun
        self.n_rows: int | None = None  # known after a whole pass
        self.encoding: str | None = None
        with self._open() as (f, stamp):
            self.stamp = stamp
            self.header, self.delimiter, _, _ = self._head(f)
        self.decimal_comma = self.delimiter == ";"
        self.cut_clean: bool | None = None  # after chunks(until=...): whether the rows ended at that line

    @contextlib.contextmanager
    def _open(self, offset: int = 0, binary: bool = False) -> Iterator[tuple[TextIO | BinaryIO, tuple[int, int]]]:
        """The file as text (or bytes), from byte `offset` (a line's start, in a ONE_BYTE_BREAK encoding), and its
        stamp."""
        path = self.path
        try:
            if self.encoding is None:
                with open(path, "rb") as fp:
                    self.encoding = _encoding(self.source, fp)
            with open(path, "rb") as raw:
                raw.seek(offset)
                f = raw if binary else io.TextIOWrapper(raw, self._encoding_from(offset), newline="")
                stat = os.fstat(f.fileno())
                yield f, (stat.st_size, stat.st_mtime_ns)
                stat = os.fstat(f.fileno())
                if (stat.st_size, stat.st_mtime_ns) != self.stamp:
                    self._changed()
        except OSError as e:
            raise XlnetError(f"{self.source}: cannot read it ({e.strerror}).") from None
        except UnicodeDecodeError:  # it decoded whole a moment ago
            self._changed()

    def _encoding_from(self, offset: int) -> str:
        return "utf-8" if offset and self.encoding == "utf-8-sig" else self.encoding  # the mark is at the start

    def _changed(self) -> None:
        raise XlnetError(f"{self.source}: the file changed while it was read; run the command again once it is "
                         "saved.")

    def _head(self, f: TextIO):
        """The header, the delimiter, a csv reader of the rest, and how many blank lines came before the header."""
        path, blank, self.head_text = self.source, 0, ""
        for header_line in f:
            self.head_text += header_line
            if header_line.strip():
                break
            blank += 1
        else:
            raise XlnetError(f"{path}: the file is empty; "
                             f"{self.empty_hint or 'xlnet needs a header line and data rows.'}")
        delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
        delimiter = "\t" if header_line.count("\t") > header_line.count(delimiter) else delimiter
        rows = csv.reader(itertools.chain([header_line], f), delimiter=delimiter)
        try:
            header = [h.strip() for h in next(rows)]
        except csv.Error as e:
            raise XlnetError(f"{path}: line {blank + 1} is not valid CSV ({e}).") from None
        if rows.line_num > 1 or not self.head_text.endswith("\n"):
            self.head_text = None  # the rows' first byte is not simply after the header's line
        duplicates = [h for h, n in Counter(header).items() if n > 1]
        if duplicates:
            raise XlnetError(f"{path}: the column {', '.join(sorted(duplicates))[:200]} appears more than once in "
                             "the header; keep one.")
        for h in header:
            _check_text(path, 1, "header", h)
        return header, delimiter, rows, blank

    def chunks(self, rows: int | None = None, only: Iterable[str] | None = None, until: int | None = None
               ) -> Iterator[Table]:
        """The rows, `rows` at a time (ENCODE_ROWS): each chunk a table of its own, its lines those of the file.
        `only`: the columns to read (the others are None in the tables: predict reads no more than its model
        needs); a row counts as blank only where every column of the file is. `until`: the rows that end by this
        line of the file (a cut of halves()), and cut_clean says whether one ended on it; where a row runs past
        it (a quoted line break), every row to the end (cut_clean False)."""
        only = None if only is None else set(only)
        rows = rows or ENCODE_ROWS
        path, limit = self.source, math.inf if self.max_rows is None else self.max_rows
        n = 0
        with self._open() as (f, stamp):
            header, _, reader, blank = self._head(f)
            if (header, stamp) != (self.header, self.stamp):
                self._changed()
            after_head = self._bytes_before(self.head_text)
            parsed = self._parsed(reader, blank, rows, only, until) if after_head is None else \
                self._split(after_head, blank + 1, rows, only, until)
            for chunk in parsed:
                n += len(chunk)
                if n > limit:
                    raise XlnetError(f"{path}: more than {self.max_rows:,} {self.noun} rows, more than a "
                                     "worksheet holds (1,048,576 rows with its headers); split the file.")
                yield chunk
        if until is not None:
            return
        if n == 0:
            raise XlnetError(f"{path}: the header is there but there are no {self.noun} rows.")
        if self.n_rows not in (None, n):
            self._changed()
        self.n_rows = n

    def chunks_after(self, cut: tuple[int, int], rows: int | None = None, only: Iterable[str] | None = None
                     ) -> Iterator[Table]:
        """The rows after a cut of halves() (byte offset, lines before it), as chunks() gives them."""
        offset, lines = cut
        yield from self._split(offset, lines, rows or ENCODE_ROWS, None if only is None else set(only))

    def _bytes_before(self, text: str | None) -> int | None:
        """How many bytes of the file hold `text`, the file's start (its mark, if it has one, included), in an
        encoding that _split reads; else None."""
        if text is None or not self._plain_encoding():
            return None
        encoded = text.encode("utf-8" if self.encoding == "utf-8-sig" else self.encoding)  # the mark apart
        with self._open(binary=True) as (fp, _):
            start = fp.read(len(encoded) + len(codecs.BOM_UTF8))
        mark = len(codecs.BOM_UTF8) if self.encoding == "utf-8-sig" and start.startswith(codecs.BOM_UTF8) else 0
        return mark + len(encoded) if start[mark:mark + len(encoded)] == encoded else None

    def _plain_encoding(self) -> bool:
        """Whether the encoding is one of ONE_BYTE_BREAK (a byte below 0x80 is always that ASCII character)."""
        return codecs.lookup(self.encoding).name in {codecs.lookup(e).name for e in ONE_BYTE_BREAK}

    def _read(self, only: set[str] | None) -> list[int]:
        """The columns read: those `only` names (every one where None), or the first where it names none."""
        return [k for k, name in enumerate(self.header) if only is None or name in only] or [0]

    def _split(self, offset: int, lines_before: int, rows: int, only: set[str] | None, until: int | None = None
               ) -> Iterator[Table]:
        """The chunks of the rows from byte `offset` (a row's start, `lines_before` lines into the file): split
        by numpy while the lines are plain (tokens.split), then from the first block that is not, by the csv
        module (_parsed); `until`: see chunks."""
        read = self._read(only)
        with self._open(offset, binary=True) as (fp, stamp):
            if stamp != self.stamp:
                self._changed()
            most = None if until is None else until - lines_before
            for block in tokens.line_blocks(fp, rows, most):
                split = tokens.split(block, len(self.header), self.delimiter, self._encoding_from(offset),
                                     CSV_FIELD_LIMIT)
                columns = split and [split.column(k) if k in read else None for k in range(len(self.header))]
                if columns is None or any(c is None for k, c in enumerate(columns) if k in read):
                    break
                lines = np.arange(lines_before + 1, lines_before + len(split) + 1, dtype=np.int32)
                table = self._table([c and TextColumn.renumbered(*c) for c in columns], lines, split.row_blank)
                if table is not None:
                    yield table
                offset, lines_before = offset + len(block), lines_before + len(split)
            else:
                if until is not None:
                    self.cut_clean = lines_before == until
                return
        with self._open(offset) as (f, _):
            yield from self._parsed(csv.reader(f, delimiter=self.delimiter), lines_before, rows, only, until)

    def halves(self) -> tuple[int, int] | None:
        """Where the CSV may be parsed as two halves: (the byte offset of a line's start near its middle, the
        lines before it), for a file of HALVES_FROM bytes or more whose line breaks are \\n or \\r\\n in a
        ONE_BYTE_BREAK encoding; None otherwise. Of the breaks near the middle, the first with an even count of
        quotes before it (outside a quoted field, where the file quotes as CSV does); a break inside a quoted
        field after all is found by the first half's parse (chunks' `until`)."""
        size = self.stamp[0]
        if size < HALVES_FROM or self.max_rows is not None or not self._plain_encoding():
            return None
        try:
            with open(self.path, "rb") as f:
                data = f.read(size // 2 + (1 << 20))
        except OSError:
            return None
        at = size // 2
        quotes = data.count(b'"', 0, at)
        for _ in range(64):
            brk = data.find(b"\n", at)
            if brk < 0:
                return None
            quotes += data.count(b'"', at, brk)
            at = brk + 1
            if quotes % 2 == 0:
                break
        else:
            return None
        returns = data.count(b"\r", 0, at)
        if returns and returns != data.count(b"\r\n", 0, at):  # a lone \r breaks a line for csv too
            return None
        return at, data.count(b"\n", 0, at)

    def _parsed(self, reader, lines_before: int, rows: int, only: set[str] | None, until: int | None = None
                ) -> Iterator[Table]:
        """The chunks of `reader`'s rows, the reader having started `lines_before` lines into the file (each
        chunk's lines are the file's); `until`: see chunks."""
        while True:
            batch: list[list[str]] = []
            start, failed = reader.line_num, None
            try:
                batch.extend(itertools.islice(reader, rows))  # what was read stays in batch if a row is bad
            except csv.Error as e:
                failed = e
            lines = lines_before + _lines(batch, start, reader.line_num) if batch else np.zeros(0, np.int32)
            last = int(lines[-1]) if batch else lines_before + start  # where the rows read whole end
            if until is not None and last >= until:
                keep = int(np.searchsorted(lines, until, side="right"))  # the rows ending by the cut
                if keep and lines[keep - 1] == until or not keep and lines_before + start == until:
                    chunk = self._chunk(self.header, batch[:keep], lines[:keep], only) if keep else None
                    if chunk is not None:
                        yield chunk
                    self.cut_clean = True  # the next row starts after the cut: the other half's
                    return
                until, self.cut_clean = None, False  # a row runs past the cut: read on to the end
            if failed is not None:
                raise XlnetError(f"{self.source}: line {last + 1} is not valid CSV ({failed}).") from None
            if not batch:
                if until is not None:
                    self.cut_clean = False
                return
            chunk = self._chunk(self.header, batch, lines, only)
            if chunk is not None:
                yield chunk

    def _chunk(self, header: list[str], batch: list[list[str]], lines: np.ndarray, only: set[str] | None = None
               ) -> Table | None:
        """A batch of rows as a table, without its blank rows (None if that is all of them)."""
        widths = np.fromiter(map(len, batch), np.int64, len(batch))
        odd = np.flatnonzero(widths != len(header))
        for i in odd:
            if "".join(batch[i]).strip():
                raise XlnetError(f"{self.source}: line {lines[i]} has {len(batch[i])} fields but the header has "
                                 f"{len(header)}; check the quoting of that line.")
        if len(odd):
            keep = np.flatnonzero(widths == len(header))
            batch, lines = [batch[i] for i in keep], lines[keep]
            if not batch:
                return None
        fields = np.empty((len(batch), len(header)), dtype=object)
        fields[:] = batch
        read = self._read(only)
        columns = [TextColumn.stripped(fields[:, k]) if k in read else None for k in range(len(header))]
        return self._table(columns, lines, lambda i: not "".join(batch[i]).strip())

    def _table(self, columns: list[TextColumn | None], lines: np.ndarray, row_blank: Callable[[int], bool]
               ) -> Table | None:
        """The rows as a table, without those blank in every column (`row_blank` tells for a row where a column
        was not read); None if that is all of them."""
        blank = np.ones(len(lines), bool)
        for column in filter(None, columns):
            blank &= np.array([t == "" for t in column.distinct], bool)[column.codes]
        if not all(columns):  # blank in the columns read: blank in the others too?
            blank[blank] = [row_blank(i) for i in np.flatnonzero(blank)]
        table = Table(self.source, self.header, columns, lines, self.decimal_comma)
        if not blank.any():
            return table
        keep = np.flatnonzero(~blank)
        if len(keep) == 0:
            return None
        return Table(self.source, self.header, [c and TextColumn(c.distinct, c.codes[keep]).part(0, len(keep))
                                                for c in columns], lines[keep], self.decimal_comma)


@contextlib.contextmanager
def parsed_ahead(source: CsvSource, only: Iterable[str] | None = None, typed: list[Column] = (), noun: str = "row"
                 ) -> Iterator[Callable[[], Iterator[Table]]]:
    """source.chunks(only=only), parsed by forked workers while the caller does other work (predict reads the
    workbook meanwhile): a large CSV in two halves, a worker each (CsvSource.halves), else by one; the `typed`
    columns typed there too (typed_table). The block gets a function that gives the chunks in order, one at a
    time, each as soon as its worker has left it in a temporary file (so the caller works on one while the
    workers parse the next, and memory holds one); it raises what a worker raised, after the chunks before it.
    Without a second core, chunks() parses then, and the caller types."""
    only = None if only is None else list(only)
    if not can_fork():
        yield lambda: source.chunks(only=only)
        return
    cut = source.halves() if cores() > 1 else None
    typed = [c for c in typed if c.name in source.header]  # a missing one is the caller's to name

    def parse(chunks: Callable[[], Iterator[Table]]) -> _Parsed:
        return _Parsed(source, lambda: (typed_table(t, typed, noun) for t in chunks()) if typed else chunks())
    with contextlib.ExitStack() as stack:
        first = stack.enter_context(parse(lambda: source.chunks(only=only, until=cut and cut[1])))
        second = stack.enter_context(parse(lambda: source.chunks_after(cut, only=only))) if cut else None

        def chunks() -> Iterator[Table]:
            yield from first.chunks()
            n, clean = first.result()
            if second is not None and clean:
                yield from second.chunks()
                n += second.result()[0]
            if n == 0:
                raise XlnetError(f"{source.source}: the header is there but there are no {source.noun} rows.")
        yield chunks


class _Parsed:
    """Chunks parsed by a forked worker into a temporary file, the end of each told on a pipe as it is written."""

    def __init__(self, source: CsvSource, make: Callable[[], Iterator[Table]]):
        self.source, self.make = source, make

    def __enter__(self) -> "_Parsed":
        with _kept(self.source):
            self.spool = tempfile.TemporaryFile()
        self.ready, told = os.pipe()
        self.stack = contextlib.ExitStack()
        self.stack.callback(os.close, self.ready)
        self.stack.enter_context(self.spool)
        try:
            self.result = self.stack.enter_context(in_background(lambda: self._spool(told)))
        finally:
            os.close(told)  # the worker has its own
        return self

    def __exit__(self, *exc) -> None:
        self.stack.close()

    def _spool(self, told: int) -> tuple[int, bool | None]:
        """In the worker: the chunks pickled into the spool one after another, each one's end told once written;
        how many, and whether the rows ended at the cut asked for (CsvSource.cut_clean)."""
        n = 0
        try:
            with _kept(self.source):
                for chunk in self.make():
                    pickle.dump(chunk, self.spool, protocol=pickle.HIGHEST_PROTOCOL)
                    self.spool.flush()
                    os.write(told, self.spool.tell().to_bytes(8, "little"))
                    n += 1
        finally:
            os.close(told)
        return n, self.source.cut_clean

    def chunks(self) -> Iterator[Table]:
        start = 0
        with open(self.ready, "rb", closefd=False) as ends, _kept(self.source):
            while len(end := ends.read(8)) == 8:
                end = int.from_bytes(end, "little")
                yield pickle.loads(os.pread(self.spool.fileno(), end - start, start))
                start = end


@contextlib.contextmanager
def _kept(source: "CsvSource | Spooled") -> Iterator[None]:
    """A temporary file of the source's rows that cannot be made or written, as one line."""
    try:
        yield
    except OSError as e:
        raise XlnetError(f"{source.source}: cannot keep its rows in a temporary file ({e.strerror}); make room in "
                         f"{tempfile.gettempdir()} or point TMPDIR elsewhere.") from None


class Spooled:
    """A source of chunks read once: the first pass keeps each chunk in a temporary file, and every later pass
    reads them from there, faster than parsing the CSV again and sure to see the same rows."""

    def __init__(self, source: "CsvSource | Table"):
        self.inner, self.header, self.source = source, source.header, source.source
        self.decimal_comma = source.decimal_comma
        self.spool: BinaryIO | None = None
        self.kept = 0  # chunks in the spool, once a whole pass has been kept

    def chunks(self) -> Iterator[Table]:
        with _kept(self):
            if self.kept:
                self.spool.seek(0)
                for _ in range(self.kept):
                    yield pickle.load(self.spool)
                return
            if self.spool is not None:
                self.spool.close()
            self.spool = tempfile.TemporaryFile()
            n = 0
            for chunk in self.inner.chunks():
                pickle.dump(chunk, self.spool, protocol=pickle.HIGHEST_PROTOCOL)
                n += 1
                yield chunk
            self.kept = n

    def close(self) -> None:
        if self.spool is not None:
            self.spool.close()

    def __enter__(self) -> "Spooled":
        return self

    def __exit__(self, *_) -> None:
        self.close()


def table_from_frame(frame, name: str = "DataFrame") -> Table:
    """A pandas DataFrame (or anything with .columns and per-column values) as the text columns a CSV gives."""
    header = [str(c).strip() for c in frame.columns]
    duplicates = [h for h, n in Counter(header).items() if n > 1]
    if duplicates:
        raise XlnetError(f"{name}: the column {', '.join(sorted(duplicates))[:200]} appears more than once; keep one.")
    if len(frame) == 0:
        raise XlnetError(f"{name}: there are no rows.")

    def text(v) -> str:
        if v is None or (isinstance(v, float) and v != v):
            return ""
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        return str(v).strip()
    columns = [TextColumn.of(map(text, frame[c].tolist())) for c in frame.columns]
    return Table(Path(name), header, columns, np.arange(2, len(frame) + 2))


def _check_text(path: Path, line: int, column: str, text: str) -> None:
    bad = CONTROL.search(text)
    if bad:
        raise XlnetError(f"{path}: line {line}, column {column}: it holds a control character "
                         f"({bad.group()!r}) that a workbook cannot store; remove it.")
    if len(text) > CELL_TEXT_LIMIT:
        raise XlnetError(f"{path}: line {line}, column {column}: {len(text):,} characters, more than the "
                         f"{CELL_TEXT_LIMIT:,} a cell holds.")


def check_columns(table: Table, spec: Spec, *, hint: str = "", need_target: bool = True) -> None:
    """Every column the spec requires is in the CSV."""
    inputs = set(spec.inputs)
    wanted = [c.name for c in spec.columns if c.required and (c.kind != "ignored" or c.name in inputs)
              and (need_target or c.kind != "target") and not c.is_derived]
    missing = [n for n in wanted if n not in table.header]
    if missing:
        more = hint if hint and missing == [spec.target] else f" The header read was: {', '.join(table.header)[:200]}."
        raise XlnetError(f"{table.source}: required column missing: {', '.join(missing)}.{more}")


@dataclass
class Frame:
    """Typed columns: floats (NaN when missing) for numbers, objects (None when missing) for text."""
    values: dict[str, np.ndarray]
    lines: np.ndarray
    report: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.lines)

    def take(self, rows: np.ndarray) -> "Frame":
        return Frame({k: v[rows] for k, v in self.values.items()}, self.lines[rows], dict(self.report))


def _allowed_text(c: Column) -> str:
    allowed = " or ".join(map(str, c.allowed)) + (" or empty" if c.missing_ok else "")
    return allowed


def type_column(table: Table, c: Column, noun: str) -> np.ndarray:
    """One column typed by its spec, or the first bad cell named. Each distinct text is typed once."""
    levels, codes = typed_levels(table, c, noun)
    return levels[codes]


def typed_levels(table: Table, c: Column, noun: str) -> tuple[np.ndarray, np.ndarray]:
    """A column's distinct texts typed by its spec (floats, or objects with None where missing), and each row's
    number among them; or the first bad cell named."""
    column = table.column(c.name)
    if isinstance(column, TypedColumn):
        return column.levels, column.codes
    numeric = c.kind == "numeric" or (c.kind in ("categorical", "target") and _numeric_levels(c))
    distinct = column.distinct  # in the order first seen: the first bad one is on the first bad line
    typed = _typed_numbers(table, c, distinct) if numeric else None
    if typed is None:
        typed = _type_texts(table, c, noun, column, numeric)
    if numeric:
        return np.asarray(typed, float), column.codes
    out = np.empty(len(distinct), dtype=object)
    out[:] = typed
    return out, column.codes


def _typed_numbers(table: Table, c: Column, distinct: list[str]) -> np.ndarray | None:
    """The numbers of a column's distinct texts at once, where every one is a plain valid number (else None, and
    each is typed on its own to name the first that is not)."""
    markers = MISSING_MARKERS.intersection(distinct)  # each text hashed in C: most columns have none
    missing = np.array([t in markers for t in distinct], bool) if markers else np.zeros(len(distinct), bool)
    if table.decimal_comma or (missing.any() and not c.missing_ok) or not _plain_texts(distinct):
        return None
    try:
        x = np.array([t for t, m in zip(distinct, missing) if not m] if markers else distinct, dtype=float)
    except ValueError:
        return None
    ok = np.isfinite(x)
    if c.integer:
        ok &= x == np.round(x)
    if c.minimum is not None:
        ok &= x >= c.minimum
    if c.allowed:
        ok &= np.isin(x, [a for a in c.allowed if not isinstance(a, str)])
    if not ok.all():
        return None
    out = np.full(len(distinct), np.nan)
    out[~missing] = x
    return out


def _plain_texts(texts: list[str]) -> bool:
    """No text holds a character a workbook cannot store, or more than a cell holds (as _check_text asks)."""
    return not CONTROL.search("".join(texts)) and max(map(len, texts), default=0) <= CELL_TEXT_LIMIT


def _type_texts(table: Table, c: Column, noun: str, column: TextColumn, numeric: bool) -> list:
    """Each distinct text typed and checked, one by one; the first that fails names its line."""
    path = table.source
    out = []
    for text in column.distinct:
        where = _Where(table, c.name, text)
        if text in MISSING_MARKERS and not (c.allowed and text in c.allowed):
            if not c.missing_ok:
                raise XlnetError(f"{where}: the value is empty; every {noun} needs a {c.name}.")
            out.append(np.nan if numeric else None)
            continue
        if CONTROL.search(text) or len(text) > CELL_TEXT_LIMIT:
            _check_text(path, table.lines[column.first_row(text)], c.name, text)
        if numeric:
            x = parse_number(pointed(text, table.decimal_comma))
            if x is None:
                hint = " If the file uses decimal commas, save it as CSV with decimal points." if "," in text else ""
                raise XlnetError(f"{where}: {text[:40]!r} is not a number.{hint}")
            if c.integer and (x != int(x) or (c.minimum is not None and x < c.minimum)):
                low = "" if c.minimum is None else f", {c.minimum:g} or more"
                raise XlnetError(f"{where}: {text[:40]!r} is not valid; it must be a whole number{low}.")
            if c.allowed and x not in c.allowed:
                raise XlnetError(f"{where}: {text[:40]!r} is not valid; it must be {_allowed_text(c)}.")
            if c.minimum is not None and x < c.minimum:
                raise XlnetError(f"{where}: {text[:40]!r} is negative; it must be {c.minimum:g} or more.")
            out.append(x)
        else:
            if c.allowed and text not in c.allowed:
                raise XlnetError(f"{where}: {text[:40]!r} is not valid; it must be {_allowed_text(c)}.")
            out.append(text)
    return out


class _Where:
    """'file: line N, column C' of a text's first cell, found only when an error names it."""

    def __init__(self, table: Table, column: str, text: str):
        self.table, self.column, self.text = table, column, text

    def __format__(self, spec: str) -> str:
        line = self.table.lines[self.table.column(self.column).first_row(self.text)]
        return format(f"{self.table.source}: line {line}, column {self.column}", spec)


def _numeric_levels(c: Column) -> bool:
    values = c.levels + (c.allowed or [])
    return bool(values) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def type_table(table: Table, spec: Spec, *, need_target: bool = True) -> Frame:
    """The columns a model needs, typed and checked; every other column is checked only as text."""
    values = {}
    inputs = set(spec.inputs)
    for c in spec.columns:
        if c.name not in table.header or (c.kind == "target" and not need_target):
            continue
        if c.kind in ("ignored", "id") and c.name in inputs:
            values[c.name] = type_cells(table, c.name)
            continue
        if c.kind in ("ignored", "id"):
            column = table.column(c.name)
            if not _plain_texts(column.distinct):
                for text in column.distinct:  # in the order first seen: the first bad one is on the first bad line
                    _check_text(table.source, table.lines[column.first_row(text)], c.name, text)
            continue
        values[c.name] = type_column(table, c, spec.noun)
    return Frame(values, np.asarray(table.lines))


def typed_table(table: Table, columns: list[Column], noun: str) -> Table:
    """The table with these columns typed (TypedColumn), or the first bad cell named: a worker sends their values,
    not their texts."""
    typed = list(table.columns)
    for c in columns:
        typed[table.header.index(c.name)] = TypedColumn(*typed_levels(table, c, noun))
    return Table(table.source, table.header, typed, table.lines, table.decimal_comma)


def type_cells(table: Table, name: str) -> np.ndarray:
    """A column that only derived columns read, typed cell by cell as a spreadsheet reads a CSV: a number where the
    text is one, else the text; None where it is missing."""
    column = table.column(name)
    out = np.empty(len(column.distinct), dtype=object)
    for k, text in enumerate(column.distinct):
        if text in MISSING_MARKERS:
            continue
        if CONTROL.search(text) or len(text) > CELL_TEXT_LIMIT:
            _check_text(table.source, table.lines[column.first_row(text)], name, text)
        x = parse_number(pointed(text, table.decimal_comma))
        out[k] = text if x is None else x
    return out[column.codes]


def check_valid_pct(valid_pct: float) -> None:
    if not (isinstance(valid_pct, (int, float)) and 0 <= valid_pct < 1):
        raise XlnetError(f"--valid-pct must be a fraction from 0 to below 1, like 0.2, not {valid_pct!r}.")


def validation_split(n: int, valid_pct: float, seed: int | None) -> np.ndarray | None:
    """'train'/'valid' for each of n rows: a seeded random valid_pct of them held out; None for 0."""
    held_out = validation_mask(n, valid_pct, seed)
    return None if held_out is None else set_names(held_out)


def set_names(held_out: np.ndarray) -> np.ndarray:
    """The Set column: 'valid' where a row is held out, else 'train'."""
    sets = np.full(len(held_out), "train", dtype=object)
    sets[held_out] = "valid"
    return sets


def validation_mask(n: int, valid_pct: float, seed: int | None) -> np.ndarray | None:
    """True for each of n rows held out: a seeded random valid_pct of them; None for 0 (a byte a row, where the
    Set column's texts take eight)."""
    check_valid_pct(valid_pct)
    if valid_pct == 0:
        return None
    n_valid = round(valid_pct * n)
    if not 0 < n_valid < n:
        raise XlnetError(f"--valid-pct {valid_pct} of {n} rows leaves {n_valid} for validation and "
                         f"{n - n_valid} for training; each needs at least one.")
    # A stream of its own, so the starting parameters do not depend on the split.
    rng = np.random.default_rng(None if seed is None else [seed, 1])
    held_out = np.zeros(n, bool)
    held_out[rng.choice(n, n_valid, replace=False)] = True
    return held_out
