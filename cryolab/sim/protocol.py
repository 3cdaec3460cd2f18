"""The table machinery of the simulated instruments: command rows, argument parsers, reply
formats, header grammars and the line interpreter that every device shares.

A device is a class with one table, a list of ``Row`` s that reads like the manual's command
list: the mnemonic (or SCPI path), the parsers of its arguments, what setting it does and what
asking it answers. ``TableDevice.handle_line`` splits a line into commands, finds each row with
one dict lookup, parses the arguments and calls the row; an unknown command or a bad argument
goes to the device's ``command_error`` (a status bit, an error queue), never into a reply, as
on the real instruments. Quirks that differ between models — reply terminator, how several
replies on a line come back (one line each, joined, or only the last), a banner, a connection
limit — are class attributes of the device.
"""

from __future__ import annotations

import math
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar

Parser = Callable[[str], Any]
#: a compiled row side: (device, argument strings) → reply or None
Invoker = Callable[[Any, list[str]], str | None]

# ------------------------------------------------------------------------------ parsers
# Every parser takes one argument as sent and returns its value, or raises ValueError; any float
# spelling is accepted (``5``, ``.5E1``, ``+000.100``, ``001``: pymeasure and QCoDeS send them).


def _integer(text: str) -> int:
    v = float(text)
    if not math.isfinite(v) or v != int(v):
        raise ValueError(f"{text} is not an integer")
    return int(v)


def int_in(low: int, high: int) -> Parser:
    """An integer in [low, high]; float spellings of integers too (pymeasure's ``SRAT4.000000``)."""

    def parse(text: str) -> int:
        v = _integer(text)
        if not low <= v <= high:
            raise ValueError(f"{text} is not an integer in {low}..{high}")
        return v

    return parse


def float_in(low: float, high: float) -> Parser:
    """A finite number in [low, high]."""

    def parse(text: str) -> float:
        v = float(text)
        if not (math.isfinite(v) and low <= v <= high):
            raise ValueError(f"{v} outside {low}..{high}")
        return v

    return parse


#: 0 or 1 (off / on, no / yes)
bit = int_in(0, 1)


def number(text: str) -> float:
    """Any number, left to the handler to judge (a target checked against a limit)."""
    return float(text)


def positive(text: str) -> float:
    """A finite number above zero (a coil constant, a rate, a limit)."""
    v = float(text)
    if not (math.isfinite(v) and v > 0):
        raise ValueError(text)
    return v


def one_of(*words: str) -> Parser:
    """One of a few words, case-insensitive; returns the word as listed."""
    table = {w.upper(): w for w in words}

    def parse(text: str) -> str:
        return table[text.strip().upper()]  # KeyError: an invalid argument

    return parse


def quoted(max_length: int) -> Parser:
    """A name, in double quotes or not, of at most ``max_length`` characters."""

    def parse(text: str) -> str:
        name = text.strip().strip('"')
        if len(name) > max_length:
            raise ValueError(f"{name!r} is longer than {max_length} characters")
        return name

    return parse


def channel(names: Iterable[str]) -> Parser:
    """An input channel by letter (``A``) or number (``1``, ``01``, ``1.0``) → its name."""
    valid = frozenset(names)

    def parse(text: str) -> str:
        t = text.strip().upper()
        key = t if t.isalpha() else str(_integer(t))
        if key not in valid:
            raise ValueError(f"no channel {text}")
        return key

    return parse


def channels(names: Sequence[str], everything: str) -> Parser:
    """One channel, or the word ``everything`` stands for (the 372's ``0``) → a tuple of names."""
    one, every = channel(names), tuple(names)

    def parse(text: str) -> tuple[str, ...]:
        return every if text.strip() == everything else (one(text),)

    return parse


def code_or_name(names: Sequence[str]) -> Parser:
    """A parameter by its code (its position in ``names``) or by its name in the short or long
    form, any case; upper case in ``names`` marks the short form (the SR860's ``SNAP? X, Y`` is
    ``SNAP? 0,1``, ``THeta`` is ``TH`` or ``THETA``) → the code."""
    nodes = [_node(name) for name in names]

    def parse(text: str) -> int:
        t = text.strip().upper()
        if t[:1].isdigit():
            code = _integer(t)
            if 0 <= code < len(nodes):
                return code
        else:
            for code, node in enumerate(nodes):
                if _matches(t, node):
                    return code
        raise ValueError(f"{text!r} is not one of {', '.join(names)} or 0–{len(names) - 1}")

    return parse


class optional:  # noqa: N801 - reads as a parser modifier in the tables
    """An argument that may be left out; ``default`` stands in for it."""

    def __init__(self, parser: Parser, default: Any = None) -> None:
        self.parser, self.default = parser, default


class rest:  # noqa: N801
    """All remaining arguments, each through ``parser``, between ``low`` and ``high`` of them."""

    def __init__(self, parser: Parser, low: int, high: int) -> None:
        self.parser, self.low, self.high = parser, low, high

    def __call__(self, args: list[str]) -> list:
        if not self.low <= len(args) <= self.high:
            raise ValueError(f"expected {self.low} to {self.high} arguments, got {len(args)}")
        return [self.parser(a) for a in args]


#: how a row takes one argument: a parser, an ``optional`` one or ``rest`` of the arguments
ArgSpec = Parser | optional | rest


def _parse_all(parsers: tuple, args: list[str]) -> list:
    values = []
    for i, p in enumerate(parsers):
        if isinstance(p, rest):
            values.append(p(args[i:]))
        elif i < len(args):
            values.append(p.parser(args[i]) if isinstance(p, optional) else p(args[i]))
        elif isinstance(p, optional):
            values.append(p.default)
        else:
            raise ValueError(f"argument {i + 1} is missing")
    return values  # arguments beyond the parsers are ignored, as the twins always did


# ------------------------------------------------------------------------------ reply formats


def six_digits(v: float) -> str:
    """SR830 replies: plain floats of about six significant digits (SR830 manual p. 5-2)."""
    return f"{v:.6g}"


def engineering(v: float) -> str:
    """372 readings: sign, three integer digits, three decimals, exponent a multiple of 3
    (``+012.034E-03``; 372 manual p. 174)."""
    if v == 0 or not math.isfinite(v):
        return "+000.000E+00"
    exp = 3 * math.floor(math.log10(abs(v)) / 3)
    mant = v / 10**exp
    if abs(round(mant, 3)) >= 1000:
        exp += 3
        mant /= 1000
    return f"{mant:+08.3f}E{exp:+03d}"


def plain_decimal(v: float) -> str:
    """430 replies: plain decimals, no exponent (``0.03``, ``1.0``)."""
    if v == 0 or not math.isfinite(v):
        return "0.0"
    text = f"{v:.10f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


# ------------------------------------------------------------------------------ rows and tables


def _invoker(handler: Callable, parsers: tuple) -> Invoker:
    """The row side compiled once: the common shapes skip the general argument loop."""
    if not parsers:
        return lambda device, args: handler(device)
    if len(parsers) == 1:
        only = parsers[0]
        if isinstance(only, rest):
            return lambda device, args: handler(device, only(args))
        if isinstance(only, optional):
            parse, default = only.parser, only.default
            return lambda device, args: handler(device, parse(args[0]) if args else default)
        return lambda device, args: handler(device, only(args[0]))  # IndexError: missing
    return lambda device, args: handler(device, *_parse_all(parsers, args))


class Row:
    """One command of a manual's command list.

    ``command`` is the mnemonic (or a tuple of spellings that mean the same); for SCPI tables a
    path such as ``CONFigure:FIELD:TARGet``, upper case marking the short form and ``#`` a
    numeric node whose value is passed as the first argument. ``get(device, *values)`` answers
    the query form, its arguments parsed by ``get_args``; ``apply(device, *values)`` executes
    the set form, its arguments parsed by ``set`` (a parser or a tuple of them). A row without
    ``get`` has no query form, one without ``apply`` no set form.
    """

    def __init__(self, command: str | tuple[str, ...], *, get: Callable | None = None,
                 get_args: ArgSpec | tuple = (), set: ArgSpec | tuple = (),
                 apply: Callable | None = None) -> None:
        self.names = (command,) if isinstance(command, str) else tuple(command)
        self.query = None if get is None else _invoker(get, _as_tuple(get_args))
        self.setter = None if apply is None else _invoker(apply, _as_tuple(set))


def _as_tuple(parsers: ArgSpec | tuple) -> tuple:
    return parsers if isinstance(parsers, tuple) else (parsers,)


class Stored(Row):
    """A setting with a power-on value: stored per device in ``device.stored``, reset to
    ``default`` by ``*RST``; by default answered as a bare integer and set as it is parsed."""

    def __init__(self, command: str, default: Any, set: ArgSpec | tuple,
                 *, get: Callable | None = None, get_args: ArgSpec | tuple = (),
                 apply: Callable | None = None) -> None:
        def store(device: Any, value: Any) -> None:
            device.stored[command] = value

        super().__init__(command, get=get or (lambda device: str(device.stored[command])),
                         get_args=get_args, set=set, apply=apply or store)
        self.default = default


class Indexed(Stored):
    """A setting kept per index (an output, a channel, a rate range): ``CEXP 1, 2`` sets index
    1, ``CEXP? 1`` reads it. ``defaults`` holds the power-on value of each index, ``index``
    parses the index (0 … len(defaults) − 1), ``fmt`` writes a value into the reply."""

    def __init__(self, command: str, defaults: Sequence[Any], index: Parser, set: Parser,
                 fmt: Callable[[Any], str] = str) -> None:
        def store(device: Any, i: int, value: Any) -> None:
            values = list(device.stored[command])
            values[i] = value
            device.stored[command] = tuple(values)

        super().__init__(command, tuple(defaults), set=(index, set), get_args=index,
                         get=lambda device, i: fmt(device.stored[command][i]), apply=store)


class Table:
    """A device's rows by mnemonic: one dict lookup per command."""

    def __init__(self, rows: Iterable[Row], grammar: Callable[[str], tuple | None]) -> None:
        self.rows = list(rows)
        self.grammar = grammar
        #: (mnemonic, is query) → (row side, no path arguments): one dict lookup per command
        self._sides: dict[tuple[str, bool], tuple[Invoker, tuple[str, ...]]] = {}
        for row in self.rows:
            for name in row.names:
                for query, side in ((True, row.query), (False, row.setter)):
                    if side is not None:
                        if (name, query) in self._sides:
                            raise ValueError(f"{name}{'?' if query else ''} is in the table twice")
                        self._sides[(name, query)] = (side, ())

    def lookup(self, key: str, query: bool) -> tuple[Invoker, tuple[str, ...]] | None:
        """The row side for a command header, and the arguments its path carries (none here)."""
        return self._sides.get((key, query))

    def defaults(self) -> dict[str, Any]:
        """The ``Stored`` settings' power-on values."""
        return {row.names[0]: row.default for row in self.rows if isinstance(row, Stored)}


class ScpiTable(Table):
    """Rows matched SCPI-style: every node in its short or long form (430 manual §4.6.1)."""

    MEMO_LIMIT = 512  # distinct headers remembered; garbage beyond that is looked up each time

    def __init__(self, rows: Iterable[Row]) -> None:
        super().__init__(rows, scpi)
        self._paths = [([_node(p) for p in name.split(":")], query, side)
                       for (name, query), (side, _) in self._sides.items()]
        self._memo: dict[tuple[str, bool], tuple[Invoker, tuple[str, ...]] | None] = {}
        self._memo_lock = threading.Lock()

    def lookup(self, key: str, query: bool) -> tuple[Invoker, tuple[str, ...]] | None:
        try:
            return self._memo[(key, query)]
        except KeyError:
            pass
        tokens = key.split(":")
        found = None
        for nodes, is_query, side in self._paths:
            if is_query == query and len(nodes) == len(tokens) and all(
                    _matches(t, n) for t, n in zip(tokens, nodes, strict=True)):
                numbers = tuple(t for t, n in zip(tokens, nodes, strict=True) if n[0] == "#")
                found = (side, numbers)
                break
        with self._memo_lock:
            if len(self._memo) < self.MEMO_LIMIT:
                self._memo[(key, query)] = found
        return found


def _node(spec: str) -> tuple[str, str]:
    """(short, long) forms of a SCPI keyword written as e.g. ``CONFigure``."""
    short = "".join(c for c in spec if c.isupper() or c.isdigit() or c in "*#")
    return short, spec.upper()


def _matches(token: str, node: tuple[str, str]) -> bool:
    short, long = node
    if short == "#":
        return token.isdigit()
    return token in (short, long) or (long.startswith(token) and long.startswith(short)
                                      and len(token) >= len(short))


# ------------------------------------------------------------------------------ header grammars
# Each takes one command (stripped, not empty) and returns (mnemonic, is query, argument text),
# or None when it is no command at all.


def four_letter(part: str) -> tuple[str, bool, str] | None:
    """SR830: four letters (or ``*`` and three), an optional ``?``, no space needed before the
    arguments (pymeasure sends ``FREQ3.33000e+00``, ``OUTP?1``), spaces allowed before the
    ``?`` (QCoDeS sends ``SRAT ?``, ``DDEF ? 1``, the SRS manuals' own ``FSTR ? 0`` form)."""
    head = part[:4].upper()
    if len(head) < 4 or not (head.isalpha() or (head[0] == "*" and head[1:].isalpha())):
        return None
    after = part[4:].lstrip()
    query = after[:1] == "?"
    return head, query, after[1:].lstrip() if query else after


_LETTERS = re.compile(r"(\*?[A-Za-z]+)(\?)?\s*")


def letters(part: str) -> tuple[str, bool, str] | None:
    """372: a mnemonic of any length, an optional ``?``, then the arguments."""
    m = _LETTERS.match(part)
    if m is None:
        return None
    return m.group(1).upper(), m.group(2) is not None, part[m.end():]


def spaced(part: str) -> tuple[str, bool, str] | None:
    """Cryomagnetics 4G: a mnemonic of any length, an optional ``?``, then arguments separated
    by spaces (``RANGE 0 10.0``, ``SWEEP UP FAST``); handed on comma-separated."""
    header = letters(part)
    if header is None:
        return None
    key, query, text = header
    return key, query, ",".join(text.replace(",", " ").split())


def scpi(part: str) -> tuple[str, bool, str]:
    """430: a ``:``-separated header, then at least one space before the arguments (430 manual
    §4.6.1)."""
    header, _, arguments = part.partition(" ")
    return header.rstrip("?").upper(), header.endswith("?"), arguments


# ------------------------------------------------------------------------------ line splitting


def split_commands(line: str) -> list[str]:
    """Split a line on ``;`` outside double quotes (a 372 name may hold one)."""
    if '"' not in line:
        return line.split(";")
    return _split_outside_quotes(line, ";")


def split_args(text: str) -> list[str]:
    """Comma-separated arguments, spaces around them dropped (QCoDeS sends ``0, 5, 1``)."""
    if not text.strip():
        return []
    if '"' not in text:
        return [a.strip() for a in text.split(",")]
    return [a.strip() for a in _split_outside_quotes(text, ",")]


def _split_outside_quotes(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted_ = False
    for c in text:
        if c == '"':
            quoted_ = not quoted_
        if c == separator and not quoted_:
            parts.append("".join(current))
            current = []
        else:
            current.append(c)
    parts.append("".join(current))
    return parts


# ------------------------------------------------------------------------------ the interpreter


class TableDevice(ABC):
    """A simulated instrument that executes input lines against its class's ``table``.

    Subclasses set the table and the quirks below, implement ``command_error`` and may hook
    ``before_line`` / ``after_line`` (e.g. to integrate the world up to now once per line).
    """

    table: ClassVar[Table]
    #: what the instrument does in a lab: "lockin", "bridge" or "magnet"
    role: ClassVar[str]
    #: the identification reply (a class constant, or per instance where firmware varies)
    idn: str
    reply_terminator: ClassVar[str] = "\n"
    #: None: one reply line per query; a string: all replies of a line joined into one line
    join_replies: ClassVar[str | None] = None
    #: True: of several queries on one line only the last is answered (the others still run)
    last_reply_only: ClassVar[bool] = False
    #: True: every line gets a reply, sets included (so faults may hit any line)
    answers_every_line: ClassVar[bool] = False
    # per instance overridable (a lab may shorten the banner delay or limit connections)
    banner: tuple[str, ...] = ()
    banner_delay_s: float = 0.0
    max_connections: int | None = None
    #: the values of the table's ``Stored`` rows, for a device whose table has any
    #: (``self.stored = self.table.defaults()`` in its constructor)
    stored: dict[str, Any]

    def __init__(self, world: Any, name: str) -> None:
        self.world = world
        self.name = name

    def handle_line(self, line: str) -> list[str]:
        """Execute one input line; return the reply lines (without terminators)."""
        grammar, lookup = self.table.grammar, self.table.lookup
        replies: list[str] = []
        with self.world.lock:
            self.before_line()
            for part in split_commands(line):
                part = part.strip()
                if not part:
                    continue
                header = grammar(part)
                if header is None:
                    self.command_error(False, unknown=True)
                    continue
                key, query, text = header
                found = lookup(key, query)
                if found is None:
                    self.command_error(query, unknown=True)
                    continue
                side, path_args = found
                args = split_args(text) if text else []
                if path_args:
                    args = [*path_args, *args]
                try:
                    reply = side(self, args)
                except (ValueError, IndexError, KeyError):
                    self.command_error(query, unknown=False)
                    continue
                if query and reply is not None:
                    replies.append(reply)
            self.after_line()
        if self.last_reply_only:
            return replies[-1:]
        if self.join_replies is not None and replies:
            return [self.join_replies.join(replies)]
        return replies

    def before_line(self) -> None:  # noqa: B027 — an optional hook: nothing by default
        """Called with the world locked before a line's commands run."""

    def after_line(self) -> None:  # noqa: B027 — an optional hook: nothing by default
        """Called with the world locked after a line's commands ran."""

    @abstractmethod
    def command_error(self, query: bool, unknown: bool) -> None:
        """Record an unknown command (``unknown``) or a bad argument; never a reply."""
