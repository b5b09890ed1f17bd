"""The CSV reader splits plain lines with numpy (table.tokens) and everything else with the csv module: both
give the same tables, lines and errors for any file, wherever a block or a half is cut."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xlnet.errors import XlnetError
from xlnet.table import reading, tokens

FIELDS = st.one_of(
    st.sampled_from(["", " ", "1", "2.5", " 3 ", "-0", "1e3", "male", "S", "NA", "x" * 9, "é", "€", "\xa0a",
                     "a b", "\u2003b\u2003"]),
    st.text(alphabet=st.sampled_from(list('ab1 ,"\t;é') + ["\x85"]), max_size=12),
)


def _first(field: str):
    """An oddity: the line with its first field replaced."""
    return lambda line: field + line[line.find(","):] if "," in line else field


ODDITIES = [
    lambda line: "",                            # a blank line
    lambda line: line + ",x",                   # a field too many
    lambda line: line.replace(",", "", 1),      # a field too few
    lambda line: line + '"',                    # a quote never closed
    lambda line: line + "\rz",                  # a lone carriage return: a line break to the csv module
    _first('"a"b'),                             # text after a closing quote
    _first('a"b'),                              # a quote inside an unquoted field
    _first(' "a"'),                             # a quoted field after a space
    _first('"a\nb"'),                           # a quoted line break
    _first('"a\rb"'),                           # a quoted carriage return
    _first('"a"""'),                            # a doubled quote before the closing one
    _first('"""'),                              # a quote, doubled, never closed
    _first('"a"b"c"'),                          # quotes inside, not doubled
    _first('a,b"c'),                            # a comma and a quote, unquoted
    lambda line: line + "\x00",                 # a NUL (refused as binary where the first 64 KiB hold one)
]


@st.composite
def csv_files(draw):
    """CSV bytes of 1-4 columns, fields quoted or not (a quoted field doubles its quotes), on one line, or none, an
    oddity (ODDITIES); LF or CRLF; UTF-8 (with or without a mark) or Windows-1252."""
    width = draw(st.integers(1, 4))
    end = draw(st.sampled_from(["\n", "\r\n"]))
    lines = [",".join(f"c{k}" for k in range(width))]
    for _ in range(draw(st.integers(1, 30))):
        fields = draw(st.lists(FIELDS, min_size=width, max_size=width))
        quote = draw(st.lists(st.booleans(), min_size=width, max_size=width))
        lines.append(",".join('"' + f.replace('"', '""') + '"' if q or any(ch in f for ch in ',"') else f
                              for f, q in zip(fields, quote)))
    odd = draw(st.integers(0, len(ODDITIES)))
    if odd < len(ODDITIES):
        at = draw(st.integers(1, len(lines) - 1))
        lines[at] = ODDITIES[odd](lines[at])
    text = end.join(lines) + draw(st.sampled_from([end, ""]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]))
    return text.encode(encoding, errors="replace"), width


def _read(path, only=None, rows=5, until=None):
    """The tables as rows of texts with their lines, or the error, and cut_clean."""
    try:
        source = reading.CsvSource(path)
        tables = [(t.lines.tolist(), [c.texts() if c is not None else None for c in t.columns])
                  for t in source.chunks(rows=rows, only=only, until=until)]
        return tables, source.cut_clean
    except XlnetError as e:
        return str(e), None


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(case=csv_files(), rows=st.integers(1, 7), read=st.integers(1, 64), only=st.integers(0, 3),
       until=st.one_of(st.none(), st.integers(2, 20)))
def test_numpy_and_the_csv_module_read_any_file_alike(tmp_path, monkeypatch, case, rows, read, only, until):
    data, width = case
    path = tmp_path / "x.csv"
    path.write_bytes(data)
    columns = None if only == 0 else [f"c{k}" for k in range(0, width, only)]
    monkeypatch.setattr(tokens, "READ", read)
    split = _read(path, columns, rows, until)
    monkeypatch.setattr(tokens, "split", lambda *a: None)
    assert split == _read(path, columns, rows, until)


@pytest.mark.parametrize("oddity", range(len(ODDITIES)))
@pytest.mark.parametrize("end", ["\n", "\r\n"])
def test_each_oddity_reads_as_the_csv_module_reads_it(tmp_path, monkeypatch, oddity, end):
    plain = [f'{i},"Smith, Mr. ""J"" {i}", {i % 3} ' for i in range(20)]
    for at in (1, 9, 20):
        lines = ["a,b,c"] + plain
        lines[at] = ODDITIES[oddity](lines[at])
        path = tmp_path / f"{at}.csv"
        path.write_bytes(end.join(lines).encode() + end.encode())
        with monkeypatch.context() as m:
            m.setattr(tokens, "READ", 50)
            split = _read(path, rows=4), _read(path, ["b"], rows=3, until=12)
        monkeypatch.setattr(tokens, "split", lambda *a: None)
        assert split == (_read(path, rows=4), _read(path, ["b"], rows=3, until=12))
        monkeypatch.undo()


def test_plain_lines_are_split_by_numpy_and_the_rest_by_the_csv_module(tmp_path, monkeypatch):
    """A file of plain lines never reaches the csv module; one with a quoted line break reaches it from the block
    that holds it, the blocks before being numpy's."""
    rows = [f'{i},"Smith, Mr. ""J"" {i}", {i % 3} ,"é"' for i in range(50)]
    plain = tmp_path / "plain.csv"
    plain.write_text("a,b,c,d\r\n" + "\r\n".join(rows) + "\r\n", encoding="utf-8")
    broken = tmp_path / "broken.csv"
    broken.write_text("a,b,c,d\n" + "\n".join(rows[:30] + ['1,"two\nlines",3,4'] + rows[30:]) + "\n")
    parsed = []
    monkeypatch.setattr(reading.CsvSource, "_parsed", lambda self, reader, lines, *a: parsed.append(lines) or iter(()))
    tables = list(reading.CsvSource(plain).chunks(rows=8))
    assert parsed == [] and sum(map(len, tables)) == 50
    assert tables[0].column("b").distinct[0] == 'Smith, Mr. "J" 0' and tables[0].column("c").distinct == ["0", "1", "2"]
    list(reading.CsvSource(broken).chunks(rows=8))
    assert parsed == [25]  # lines before the block of the quoted break: the header and 3 blocks of 8 rows


def test_a_nul_past_the_first_64_kib_is_read_as_the_csv_module_reads_it(tmp_path, monkeypatch):
    path = tmp_path / "nul.csv"
    path.write_bytes(b"a,b\n" + b"x,1\n" * 20_000 + b"a\x00,2\na,3\n")
    split = _read(path, rows=30_000)
    monkeypatch.setattr(tokens, "split", lambda *a: None)
    assert split == _read(path, rows=30_000)


@pytest.mark.parametrize("field", ["ab", "abcdefgh", "abcdefghi" * 3, "a" * 300])
def test_distinct_fields_are_numbered_in_the_order_first_seen_at_any_width(field):
    data = "\n".join([field, field + "x", field, "", field + "x", "z"]).encode() + b"\n"
    split = tokens.split(data, 1, ",", "utf-8", 1 << 17)
    texts, codes = split.column(0)
    assert texts == [field, field + "x", "", "z"] and codes.tolist() == [0, 1, 0, 2, 1, 3]
