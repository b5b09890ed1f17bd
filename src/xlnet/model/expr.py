"""Derived columns: an expression in spreadsheet syntax over a row's columns, with two faces.

`parse` reads the text (a real parser, never `eval`) into a tree whose nodes each render their part of the row's
formula and evaluate it for one row, with the spreadsheet's semantics: blank is 0 in arithmetic and "" in text,
text compares without case, positions count from 1, and an error value (`#VALUE!`, `#DIV/0!`, `#NUM!`) flows on
until `IFERROR` catches it. `Expression.values` evaluates a whole column, once per distinct row of its inputs.

Where LibreOffice and Gnumeric would compute different values for the same cell (text that reads as a date used
as a number, a number too long to turn into text the same way, `0^0`, ...), evaluation raises `Unportable`: no
IFERROR hides it, and the column is refused rather than written to differ between apps. The grammar admits only
the functions in FUNCTIONS and the row's own columns, so a derived cell can never hold another formula.
"""
from __future__ import annotations

import decimal
import math
import re
from typing import Callable

import numpy as np

from xlnet.errors import XlnetError

MAX_TEXT = 32_767          # characters a cell holds
MAX_LITERAL = 255          # characters of a text constant in a formula
MAX_FORMULA = 8_192        # characters of a formula
PLAIN_NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")
ORDERED_TEXT = re.compile(r"[a-z0-9 ]*")


class Error:
    """A spreadsheet error value."""
    __slots__ = ("code",)

    def __init__(self, code: str):
        self.code = code

    def __repr__(self) -> str:
        return self.code


VALUE, DIV0, NUM = Error("#VALUE!"), Error("#DIV/0!"), Error("#NUM!")


class Unportable(Exception):
    """A value the spreadsheet apps disagree on; the message says which and why."""


class ExpressionError(XlnetError):
    """An expression that does not parse, with the position of the fault."""


# --- Values --------------------------------------------------------------------------------------------------

def number(v):
    """A value as arithmetic reads it: blank 0, TRUE 1, a plain number's text its number."""
    if v is None:
        return 0.0
    if type(v) is float or isinstance(v, Error):
        return v
    if isinstance(v, bool):
        return float(v)
    if PLAIN_NUMBER.fullmatch(v):
        return float(v)
    if not any(ch.isdigit() for ch in v):
        return VALUE
    raise Unportable(f"the text {v[:40]!r} is used as a number, and spreadsheet apps read such text differently "
                     "(as a date, a percentage, thousands); use only plain numbers")


def text(v):
    """A value as text functions and & read it: blank "", a number in its shortest form."""
    if v is None:
        return ""
    if isinstance(v, (str, Error)):
        return v
    if isinstance(v, bool):
        raise Unportable("TRUE/FALSE made into text reads 1 or TRUE by the app; use IF(test,\"yes\",\"no\")")
    if v != int(v) or abs(v) >= 1e15:  # Gnumeric computes in long double: its digits past the 15th differ
        raise Unportable(f"the number {v!r} made into text is written with different digits by each app; only "
                         "whole numbers are: ROUND it to a whole number first, or compare it instead")
    return str(int(v))


def condition(v):
    """A value as IF, AND, OR and NOT read it."""
    if v is None:
        return False
    if isinstance(v, (bool, Error)):
        return v
    if type(v) is float:
        return v != 0
    raise Unportable(f"the text {v[:40]!r} used as TRUE/FALSE is read differently by each app; compare it "
                     "(Sex=\"male\")")


def _finite(x: float):
    if isinstance(x, Error) or math.isfinite(x):
        return x
    raise Unportable("a number too large for a spreadsheet (apps show #NUM! or inf)")


def _first_error(*values):
    return next((v for v in values if isinstance(v, Error)), None)


def compare(a, b) -> int | Error:
    """-1, 0 or 1 as a spreadsheet orders a and b: numbers before text, text without case."""
    err = _first_error(a, b)
    if err:
        return err
    if a is None and b is None:
        return 0
    if a is None:
        a = "" if isinstance(b, str) else False if isinstance(b, bool) else 0.0
    if b is None:
        b = "" if isinstance(a, str) else False if isinstance(a, bool) else 0.0
    if isinstance(a, bool) != isinstance(b, bool):
        raise Unportable("TRUE/FALSE compared with a number or text is ordered differently by each app")
    if isinstance(a, str) and isinstance(b, str):
        a, b = a.lower(), b.lower()
    elif isinstance(a, str) or isinstance(b, str):
        return 1 if isinstance(a, str) else -1
    return (a > b) - (a < b)


def _ordered(a, b, test: Callable[[int], bool]):
    c = compare(a, b)
    if isinstance(c, Error):
        return c
    if isinstance(a, str) and isinstance(b, str) and c and not (
            ORDERED_TEXT.fullmatch(a.lower()) and ORDERED_TEXT.fullmatch(b.lower())):
        raise Unportable(f"text with symbols ({a[:20]!r}, {b[:20]!r}) is ordered by each app's own collation; "
                         "compare with = or <> instead")
    return test(c)


def _arith(op: str, a, b):
    a, b = number(a), number(b)
    err = _first_error(a, b)
    if err:
        return err
    if op == "+":
        return _finite(a + b)
    if op == "-":
        return _finite(a - b)
    if op == "*":
        return _finite(a * b)
    if op == "/":
        return DIV0 if b == 0 else _finite(a / b)
    if a == 0 and b <= 0:
        if b == 0:
            raise Unportable("0^0 is 1 in LibreOffice and #NUM! in Gnumeric")
        return NUM
    if a < 0 and b != int(b):
        raise Unportable("a negative number to a fractional power differs between apps")
    try:
        return _finite(a ** b)
    except OverflowError:
        raise Unportable("a number too large for a spreadsheet (apps show #NUM! or inf)") from None


BINARY: dict[str, Callable] = {
    "+": lambda a, b: _arith("+", a, b), "-": lambda a, b: _arith("-", a, b),
    "*": lambda a, b: _arith("*", a, b), "/": lambda a, b: _arith("/", a, b),
    "^": lambda a, b: _arith("^", a, b),
    "&": lambda a, b: _first_error(text(a), text(b)) or _concat(text(a), text(b)),
    "=": lambda a, b: _equal(a, b, True), "<>": lambda a, b: _equal(a, b, False),
    "<": lambda a, b: _ordered(a, b, lambda c: c < 0), "<=": lambda a, b: _ordered(a, b, lambda c: c <= 0),
    ">": lambda a, b: _ordered(a, b, lambda c: c > 0), ">=": lambda a, b: _ordered(a, b, lambda c: c >= 0),
}
PRECEDENCE = {"=": 1, "<>": 1, "<": 1, "<=": 1, ">": 1, ">=": 1, "&": 2, "+": 3, "-": 3, "*": 4, "/": 4, "^": 5}
UNARY_PRECEDENCE, ATOM = 6, 7


def _concat(a: str, b: str):
    if len(a) + len(b) > MAX_TEXT:
        return VALUE
    return a + b


def _equal(a, b, same: bool):
    c = compare(a, b)
    return c if isinstance(c, Error) else (c == 0) == same


# --- Functions -----------------------------------------------------------------------------------------------

def _whole(v) -> int | Error:
    """A count or position argument: truncated toward zero, as the apps do."""
    if v is None:
        raise Unportable("an empty cell as a count or position is 0 in LibreOffice and left out in Gnumeric")
    x = number(v)
    return x if isinstance(x, Error) else int(x)


def _numeric(f: Callable[[float], float]) -> Callable:
    def apply(v):
        x = number(v)
        if isinstance(x, Error):
            return x
        try:
            return _finite(f(x))
        except (ValueError, ZeroDivisionError):
            return NUM
        except OverflowError:
            raise Unportable("a number too large for a spreadsheet (apps show #NUM! or inf)") from None
    return apply


def _log(base_log: Callable[[float], float]) -> Callable[[float], float]:
    def log(x: float) -> float:
        if x <= 0:
            raise ValueError
        return base_log(x)
    return log


def _round(v, digits=0.0):
    x, n = number(v), _whole(digits)
    err = _first_error(x, n)
    if err:
        return err
    if n > 400 or x == 0:
        return x
    if n < -400:
        return 0.0
    shown = decimal.Decimal(f"{x:.15g}")  # the apps round the 15-digit value, half away from zero
    exact = decimal.Context(prec=1000, Emax=10_000, Emin=-10_000)
    return float(shown.quantize(decimal.Decimal(1).scaleb(-n), rounding=decimal.ROUND_HALF_UP, context=exact)) + 0.0


def _extreme(pick: Callable) -> Callable:
    def apply(*values):
        numbers = []
        for v in values:
            if isinstance(v, Error):
                return v
            if type(v) is float:
                numbers.append(v)
            elif v is not None:
                raise Unportable("MIN and MAX of text or TRUE/FALSE differ between apps; give them numbers")
        return pick(numbers) if numbers else 0.0
    return apply


def _logical(combine: Callable) -> Callable:
    def apply(*values):
        tests = [condition(v) for v in values if v is not None]
        return _first_error(*tests) or (combine(tests) if tests else VALUE)
    return apply


def _not(v):
    if isinstance(v, str) and PLAIN_NUMBER.fullmatch(v):
        raise Unportable(f"NOT of the text {v!r} reads it as a number in LibreOffice, and is #VALUE! in Gnumeric")
    c = VALUE if isinstance(v, str) else condition(v)
    return c if isinstance(c, Error) else not c


def _left(v, n=1.0):
    t, k = text(v), _whole(n)
    return _first_error(t, k) or (VALUE if k < 0 else t[:k])


def _right(v, n=1.0):
    t, k = text(v), _whole(n)
    return _first_error(t, k) or (VALUE if k < 0 else t[len(t) - min(k, len(t)):])


def _mid(v, start, n):
    t, s, k = text(v), _whole(start), _whole(n)
    return _first_error(t, s, k) or (VALUE if s < 1 or k < 0 else t[s - 1:s - 1 + k])


def _len(v):
    t = text(v)
    if isinstance(t, Error):
        return t
    if any(ord(ch) > 0xFFFF for ch in t):
        raise Unportable("LEN of a character outside the Basic Multilingual Plane differs between apps")
    return float(len(t))


def _find(needle, haystack, start=1.0, *, wildcards: bool = False):
    f, t, s = text(needle), text(haystack), _whole(start)
    err = _first_error(f, t, s)
    if err:
        return err
    if f == "":
        raise Unportable("FIND or SEARCH of an empty text is 1 in Gnumeric and #VALUE! in LibreOffice")
    if s < 1 or s > len(t):
        return VALUE
    if wildcards:
        m = re.compile(_wildcard(f), re.I | re.S).search(t, s - 1)
        return VALUE if m is None else float(m.start() + 1)
    k = t.find(f, s - 1)
    return VALUE if k < 0 else float(k + 1)


def _wildcard(pattern: str) -> str:
    """SEARCH's pattern as a regex: ? one character, * any run, ~ the next character as itself."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "~" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append("." if ch == "?" else ".*?" if ch == "*" else re.escape(ch))
        i += 1
    return "".join(out)


def _trim(v):
    t = text(v)
    return t if isinstance(t, Error) else " ".join(part for part in t.split(" ") if part)


def _case(convert: Callable[[str], str]) -> Callable:
    def apply(v):
        t = text(v)
        if isinstance(t, Error):
            return t
        out = convert(t)
        if len(out) != len(t) or "ß" in t or "ẞ" in t:
            raise Unportable(f"UPPER and LOWER of {t[:20]!r} differ between apps")
        return out
    return apply


def _substitute(v, old, new, instance=None):
    t, o, n = text(v), text(old), text(new)
    k = None if instance is None else _whole(instance)
    err = _first_error(t, o, n, k)
    if err:
        return err
    if o == "":
        return t
    if k is None:
        return _concat(t.replace(o, n), "")
    if k < 1:
        return VALUE
    at = -1
    for _ in range(k):
        at = t.find(o, at + 1)
        if at < 0:
            return t
    return _concat(t[:at] + n, t[at + len(o):])


def _value(v):
    if v is None:
        raise Unportable("VALUE of an empty cell is 0 in LibreOffice and empty in Gnumeric; test ISBLANK first")
    if type(v) is float or isinstance(v, Error):
        return v
    if isinstance(v, bool):
        raise Unportable("VALUE of TRUE/FALSE differs between apps")
    return number(v)


def _isblank(v):
    return v is None


def _isnumber(v):
    if isinstance(v, bool):
        raise Unportable("ISNUMBER of TRUE/FALSE is TRUE in LibreOffice and FALSE in Gnumeric")
    return type(v) is float


# name -> (least arguments, most arguments (None: any), the function of evaluated arguments)
FUNCTIONS: dict[str, tuple[int, int | None, Callable]] = {
    "AND": (1, None, _logical(all)), "OR": (1, None, _logical(any)), "NOT": (1, 1, _not),
    "ABS": (1, 1, _numeric(abs)), "ROUND": (2, 2, _round), "INT": (1, 1, _numeric(lambda x: float(math.floor(x)))),
    "MIN": (1, None, _extreme(min)), "MAX": (1, None, _extreme(max)),
    "LOG10": (1, 1, _numeric(_log(math.log10))), "LN": (1, 1, _numeric(_log(math.log))),
    "EXP": (1, 1, _numeric(math.exp)), "SQRT": (1, 1, _numeric(math.sqrt)),
    "ISBLANK": (1, 1, _isblank), "ISNUMBER": (1, 1, _isnumber),
    "LEN": (1, 1, _len), "LEFT": (1, 2, _left), "RIGHT": (1, 2, _right), "MID": (3, 3, _mid),
    "FIND": (2, 3, _find), "SEARCH": (2, 3, lambda *a: _find(*a, wildcards=True)),
    "TRIM": (1, 1, _trim), "UPPER": (1, 1, _case(str.upper)), "LOWER": (1, 1, _case(str.lower)),
    "SUBSTITUTE": (3, 4, _substitute), "VALUE": (1, 1, _value),
    "IF": (2, 3, None), "IFERROR": (2, 2, None),  # lazy: evaluated by Call itself
}


# --- The tree ------------------------------------------------------------------------------------------------

class Node:
    precedence = ATOM

    def formula(self, at) -> str:
        raise NotImplementedError

    def ev(self, row: dict):
        raise NotImplementedError

    def names(self) -> list[str]:
        return []


class Number(Node):
    def __init__(self, v: float):
        self.v = v

    def formula(self, at):
        return repr(int(self.v)) if self.v == int(self.v) and abs(self.v) < 1e15 else repr(self.v).upper()

    def ev(self, row):
        return self.v


class Text(Node):
    def __init__(self, v: str):
        self.v = v

    def formula(self, at):
        return '"' + self.v.replace('"', '""') + '"'

    def ev(self, row):
        return self.v


class Logical(Node):
    def __init__(self, v: bool):
        self.v = v

    def formula(self, at):
        return "TRUE()" if self.v else "FALSE()"

    def ev(self, row):
        return self.v


class Ref(Node):
    """Another column of the same row."""

    def __init__(self, name: str):
        self.name = name

    def formula(self, at):
        return at.cell(self.name)

    def ev(self, row):
        return row[self.name]

    def names(self):
        return [self.name]


class Unary(Node):
    precedence = UNARY_PRECEDENCE

    def __init__(self, op: str, a: Node):
        self.op, self.a = op, a

    def formula(self, at):
        inner = self.a.formula(at)
        return self.op + (f"({inner})" if self.a.precedence < UNARY_PRECEDENCE else inner)

    def ev(self, row):
        x = number(self.a.ev(row))
        return x if isinstance(x, Error) else -x

    def names(self):
        return self.a.names()


class Binary(Node):
    def __init__(self, op: str, a: Node, b: Node):
        self.op, self.a, self.b = op, a, b
        self.precedence = PRECEDENCE[op]

    def formula(self, at):
        p = self.precedence
        # Gnumeric reads a^b^c right to left and -a^b as (-a)^b: under ^, any operator is bracketed.
        left = self.a.precedence < p or (self.op == "^" and self.a.precedence < ATOM) or (p == 1 and
                                                                                           self.a.precedence == 1)
        right = self.b.precedence <= p or (self.op == "^" and self.b.precedence < ATOM)
        a, b = self.a.formula(at), self.b.formula(at)
        return f"{f'({a})' if left else a}{self.op}{f'({b})' if right else b}"

    def ev(self, row):
        return BINARY[self.op](self.a.ev(row), self.b.ev(row))

    def names(self):
        return self.a.names() + self.b.names()


class Call(Node):
    def __init__(self, name: str, args: list[Node]):
        self.name, self.args = name, args

    def formula(self, at):
        return f"{self.name}({','.join(a.formula(at) for a in self.args)})"

    def ev(self, row):
        if self.name == "IF":
            c = condition(self.args[0].ev(row))
            if isinstance(c, Error):
                return c
            return self.args[1].ev(row) if c else (self.args[2].ev(row) if len(self.args) > 2 else False)
        if self.name == "IFERROR":
            v = self.args[0].ev(row)
            if v is None:
                raise Unportable("IFERROR of an empty cell is 0 in LibreOffice and an empty value in Gnumeric; "
                                 "test ISBLANK first")
            return self.args[1].ev(row) if isinstance(v, Error) else v
        values = [a.ev(row) for a in self.args]
        if self.name in ("MIN", "MAX", "AND", "OR"):  # text in a column's cell is skipped, as in a range
            values = [None if isinstance(a, Ref) and isinstance(v, str) else v for a, v in zip(self.args, values)]
        return FUNCTIONS[self.name][2](*values)

    def names(self):
        return [n for a in self.args for n in a.names()]


# --- Parsing -------------------------------------------------------------------------------------------------

TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<text>"(?:[^"]|"")*")
  | (?P<bracket>\[(?:[^\]]|\]\])*\])
  | (?P<name>[A-Za-z_][A-Za-z0-9_.]*)
  | (?P<op><>|<=|>=|[-+*/^&=<>(),])
""", re.X)


class _Parser:
    def __init__(self, source: str, where: str):
        self.source, self.where = source, where
        self.tokens: list[tuple[str, str, int]] = []
        pos = 0
        while pos < len(source):
            m = TOKEN.match(source, pos)
            if m is None:
                self.fail(pos, f"{source[pos]!r} is not part of the language"
                          + ("; put a column name with spaces or symbols in [brackets]" if source[pos] in "'`"
                             else ""))
            if m.lastgroup != "space":
                self.tokens.append((m.lastgroup, m.group(), pos))
            pos = m.end()
        self.tokens.append(("end", "", len(source)))
        self.i = 0

    def fail(self, pos: int, message: str):
        raise ExpressionError(f"{self.where}: at character {pos + 1} of {self.source!r}: {message}.")

    @property
    def peek(self) -> tuple[str, str, int]:
        return self.tokens[self.i]

    def take(self, value: str | None = None) -> tuple[str, str, int]:
        kind, tok, pos = self.peek
        if value is not None and tok != value:
            self.fail(pos, f"expected {value!r}, found {tok or 'the end'!r}")
        self.i += 1
        return kind, tok, pos

    def expression(self, level: int = 1) -> Node:
        if level == UNARY_PRECEDENCE:
            return self.unary()
        node = self.expression(level + 1)
        while self.peek[0] == "op" and PRECEDENCE.get(self.peek[1]) == level:
            op = self.take()[1]
            node = Binary(op, node, self.expression(level + 1))
        return node

    def unary(self) -> Node:
        if self.peek[1] == "+":  # a no-op that the apps treat differently on text: left out of the formula
            self.take()
            return self.unary()
        if self.peek[1] == "-":
            return Unary(self.take()[1], self.unary())
        return self.primary()

    def primary(self) -> Node:
        kind, tok, pos = self.take()
        if kind == "number":
            return Number(float(tok))
        if kind == "text":
            value = tok[1:-1].replace('""', '"')
            if len(value) > MAX_LITERAL:
                self.fail(pos, f"a text constant holds at most {MAX_LITERAL} characters in a formula")
            return Text(value)
        if kind == "bracket":
            return Ref(tok[1:-1].replace("]]", "]"))
        if kind == "name":
            if self.peek[1] == "(":
                return self.call(tok, pos)
            if tok.upper() in ("TRUE", "FALSE"):
                return Logical(tok.upper() == "TRUE")
            return Ref(tok)
        if tok == "(":
            node = self.expression()
            self.take(")")
            return node
        self.fail(pos, f"expected a value, found {tok or 'the end'!r}")

    def call(self, name: str, pos: int) -> Node:
        upper = name.upper()
        if upper not in FUNCTIONS:
            self.fail(pos, f"{name} is not a function xlnet derives with; it knows {', '.join(sorted(FUNCTIONS))}")
        self.take("(")
        args: list[Node] = []
        if self.peek[1] != ")":
            args.append(self.expression())
            while self.peek[1] == ",":
                self.take()
                args.append(self.expression())
        self.take(")")
        least, most, _ = FUNCTIONS[upper]
        if len(args) < least or (most is not None and len(args) > most):
            count = f"{least}" if least == most else f"{least} or more" if most is None else f"{least} to {most}"
            self.fail(pos, f"{upper} takes {count} argument{'s' if count != '1' else ''}, not {len(args)}")
        return Call(upper, args)

    def parse(self) -> Node:
        node = self.expression()
        kind, tok, pos = self.peek
        if kind != "end":
            self.fail(pos, f"unexpected {tok!r}")
        return node


class Expression:
    """A derived column's expression: its text, tree and the columns it reads."""

    def __init__(self, name: str, source: str, known: list[str] | tuple[str, ...] | None = None):
        self.name, self.source = name, source
        where = f"--derive {name}"
        if not source.strip():
            raise ExpressionError(f"{where}: the expression is empty; write it as {name}=EXPRESSION.")
        self.tree = _Parser(source, where).parse()
        self.inputs = list(dict.fromkeys(self.tree.names()))
        if known is not None:
            unknown = [n for n in self.inputs if n not in known]
            if unknown:
                at = source.find(unknown[0])
                hint = _nearest(unknown[0], known)
                raise ExpressionError(f"{where}: at character {at + 1} of {source!r}: {unknown[0]!r} is not a column"
                                      f" (or a column derived before it){hint}.")

    def formula(self, at) -> str:
        return self.tree.formula(at)

    def values(self, env: dict, n: int, where: Callable[[int], str] | None) -> np.ndarray:
        """The column over `n` rows of `env`, each distinct row of inputs evaluated once. A row whose value is an
        error, TRUE/FALSE, text too long for a cell, or a value the apps disagree on is refused, named by `where`;
        with `where` None, it is None."""
        columns = [_cells(env[name]) for name in self.inputs]
        cache: dict = {}
        out = np.empty(n, dtype=object)
        tree, names = self.tree, self.inputs
        for i, key in enumerate(zip(*columns) if columns else ((),) * n):
            v = cache.get(key, cache)
            if v is cache:
                try:
                    v = tree.ev(dict(zip(names, key)))
                except Unportable as e:
                    v = e
                v = 0.0 if v is None else v  # a formula shows a blank cell it points at as 0
                cache[key] = v
            out[i] = v
        if any(map(_invalid, cache.values())):
            if where is not None:
                self._refuse(out, where, env)
            out[np.array([_invalid(v) for v in out.tolist()], bool)] = None
        if all(type(v) is float for v in cache.values()):
            return out.astype(float)
        return out

    def _refuse(self, out: np.ndarray, where: Callable[[int], str], env: dict) -> None:
        for i, v in enumerate(out.tolist()):
            if isinstance(v, Error):
                cells = ", ".join(f"{name} is {_shown(env[name][i])}" for name in self.inputs[:4])
                raise XlnetError(f"{where(i)}: {self.name} = {self.source} is {v.code} there"
                                 f"{f' ({cells})' if cells else ''}; wrap it in IFERROR({self.source}, "
                                 "VALUE_IF_ERROR) or correct the data.")
            if isinstance(v, Unportable):
                raise XlnetError(f"{where(i)}: {self.name} = {self.source}: {v}.")
            if isinstance(v, bool):
                raise XlnetError(f"{where(i)}: {self.name} = {self.source} is TRUE or FALSE; a column holds numbers "
                                 f"or text: write IF({self.source},1,0).")
            if isinstance(v, str) and len(v) > MAX_TEXT:
                raise XlnetError(f"{where(i)}: {self.name} = {self.source} is {len(v):,} characters long; a cell "
                                 f"holds {MAX_TEXT:,}.")


def _cells(values: np.ndarray) -> list:
    """A column as the cells of a row hold it: floats, text, None for blank (NaN in a float column)."""
    if values.dtype.kind == "f":
        out = values.tolist()
        return [None if x != x else x for x in out] if np.isnan(values).any() else out
    return [None if v is None or (isinstance(v, float) and v != v) else
            float(v) if isinstance(v, (int, np.number)) and not isinstance(v, bool) else v for v in values.tolist()]


def _shown(v) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "empty"
    return repr(v[:40]) if isinstance(v, str) else f"{float(v):g}"


def _invalid(v) -> bool:
    return isinstance(v, (Error, Unportable, bool)) or (isinstance(v, str) and len(v) > MAX_TEXT)


def _nearest(name: str, known) -> str:
    same_case = [k for k in known if k.lower() == name.lower()]
    if same_case:
        return f"; did you mean {same_case[0]!r}"
    import difflib
    close = difflib.get_close_matches(name, list(known), n=1)
    return f"; did you mean {close[0]!r}" if close else f"; the columns are: {', '.join(known)[:200]}"


def parse_derive(option: str) -> tuple[str, str]:
    """`--derive NAME=EXPRESSION` as (name, expression)."""
    name, eq, source = option.partition("=")
    name = name.strip()
    if not eq or not name:
        raise ExpressionError(f"--derive {option!r}: write it as NAME=EXPRESSION, like FamilySize=SibSp+Parch+1.")
    return name, source.strip()
