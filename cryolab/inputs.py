"""Reading user files safely, and the vocabulary of strict input types with plain-word errors.

Station, sequence and calibration files are what a physicist types by hand. Every one is read
through :func:`read_input` (a size cap that holds for pipes and devices too, never a hang on a
FIFO), parsed without YAML aliases or duplicate keys, and validated by pydantic models built from
the types below: numbers are numbers (never ``true``, ``null`` or a list), finite, within bounds a
clock and HDF5 can hold; texts carry no control characters. Every problem is reported at once,
each as ``file: key.path: what is wrong (got value)``, in words a physicist reads without knowing
pydantic ("required" rather than "Field required"; a near miss for a mistyped key).
"""

from __future__ import annotations

import difflib
import math
import os
import re
import select
import stat
import time
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, BeforeValidator, ValidationError

MAX_INPUT_BYTES = 1_000_000  # a sequence or station file is a page of text, not megabytes
PIPE_TIMEOUT_S = 10.0  # a pipe or terminal that sends nothing for this long is refused
#: no quantity a station or sequence holds is bigger or (apart from 0) smaller than these, in
#: the units its key names; beyond them lie overflows (durations that reach inf) and subnormals
MAX_MAGNITUDE = 1.0e15
MIN_MAGNITUDE = 1.0e-15


class InputError(Exception):
    """A user file cryolab refuses. ``problems`` holds one line per problem."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {p}" for p in problems))


# ------------------------------------------------------------------------------- reading


def read_input(path: str | Path, cap: int = MAX_INPUT_BYTES, what: str = "file") -> bytes:
    """The bytes of a user file, at most ``cap``; InputError when it cannot be had.

    The cap holds whatever the path is: a regular file is refused by its size before it is
    read, a pipe or device (``/dev/zero``, a FIFO, ``<(…)``) is read only up to the cap; a
    FIFO nobody writes to reads as empty instead of blocking, and one that stalls is given up
    after PIPE_TIMEOUT_S.
    """
    source = str(path)
    if "\x00" in source:
        raise InputError(source.replace("\x00", "\\0"), ["a file name cannot contain NUL"])
    try:
        fd = os.open(source, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise InputError(source, [f"{what} not found"]) from None
    except IsADirectoryError:
        raise InputError(source, ["is a directory, not a file"]) from None
    except OSError as exc:
        raise InputError(source, [f"cannot read ({exc.strerror})"]) from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise InputError(source, ["is a directory, not a file"])
        if stat.S_ISREG(info.st_mode):
            if info.st_size > cap:
                raise InputError(source, [f"{what} is {info.st_size // 1000} kB; the limit is "
                                          f"{cap // 1000} kB"])
            os.set_blocking(fd, True)
        return _read_up_to(fd, cap, source, what)
    except OSError as exc:
        raise InputError(source, [f"cannot read ({exc.strerror})"]) from None
    finally:
        os.close(fd)


def _read_up_to(fd: int, cap: int, source: str, what: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    deadline = time.monotonic() + PIPE_TIMEOUT_S
    while size <= cap:
        try:
            chunk = os.read(fd, min(65536, cap + 1 - size))
        except BlockingIOError:  # a pipe with a writer that has nothing to say yet
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise InputError(source, [f"nothing arrived for {PIPE_TIMEOUT_S:g} s"]) from None
            continue
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
    raise InputError(source, [f"{what} is larger than {cap // 1000} kB (the limit)"])


def read_text(path: str | Path, cap: int = MAX_INPUT_BYTES, what: str = "file") -> str:
    """A user file as UTF-8 text (see :func:`read_input`)."""
    try:
        return read_input(path, cap, what).decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(str(path), ["not a UTF-8 text file"]) from None


# ------------------------------------------------------------------------------- YAML


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader that refuses anchors/aliases: they can expand a small file exponentially."""

    def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.constructor.ConstructorError(
                None, None, "YAML aliases (*name) are not accepted in cryolab files",
                event.start_mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):  # type: ignore[no-untyped-def]
        """Refuse a key given twice: YAML would silently keep the last one."""
        seen: dict = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                first = seen.setdefault(key, key_node)
            except TypeError:  # an unhashable key: let the base class report it
                continue
            if first is not key_node:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice (first on line "
                                f"{first.start_mark.line + 1})", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


# YAML 1.1 turns on/off/yes/no into booleans ("heater: off" would become False) and reads 1e-9
# as a string; use the YAML 1.2 rules for booleans and floats instead.
_REPLACED = {"tag:yaml.org,2002:bool", "tag:yaml.org,2002:float"}
_NoAliasLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in _REPLACED]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_NoAliasLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"))
_NoAliasLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*|[0-9]+(?=[eE]))(?:[eE][-+]?[0-9]+)?$"
               r"|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$"),
    list("-+0123456789."))


def parse_yaml_mapping(text: str, source: str) -> dict[str, Any]:
    """Parse YAML text that must hold a mapping at the top level."""
    if len(text.encode("utf-8", errors="replace")) > MAX_INPUT_BYTES:
        raise InputError(source, [f"file is larger than {MAX_INPUT_BYTES // 1000} kB"])
    try:
        data = yaml.load(text, Loader=_NoAliasLoader)
    except yaml.YAMLError as exc:
        raise InputError(source, [_yaml_problem(exc, text)]) from None
    except RecursionError:
        raise InputError(source, ["YAML nested too deeply"]) from None
    if data is None:
        raise InputError(source, ["file is empty"])
    if not isinstance(data, dict):
        raise InputError(source, [f"expected a mapping of keys at the top level, got "
                                  f"{kind_of(data)}"])
    bad_keys = [k for k in data if not isinstance(k, str)]
    if bad_keys:
        raise InputError(source, [f"top-level key {bad_keys[0]!r} is not a name"])
    return data


def kind_of(value: Any) -> str:
    """'a list', 'a number', … for messages about what a YAML value turned out to be."""
    if isinstance(value, bool):
        return "true/false"
    names = {int: "a number", float: "a number", str: "text", list: "a list", dict: "a mapping"}
    return names.get(type(value), f"a {type(value).__name__}")


def _yaml_problem(exc: yaml.YAMLError, text: str) -> str:
    """'line 4, column 3: not valid YAML (what) — the line itself' for a syntax error."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is None:
        return f"not valid YAML ({problem})"
    lines = text.splitlines()
    quoted = ""
    if 0 <= mark.line < len(lines):
        line = lines[mark.line].replace("\t", "→")  # a tab is the usual culprit: show it
        quoted = f"\n      {mark.line + 1:>4} | {line[:120]}\n             {' ' * mark.column}^"
    return f"line {mark.line + 1}, column {mark.column + 1}: not valid YAML ({problem}){quoted}"


def read_yaml_mapping(path: str | Path) -> tuple[dict[str, Any], str]:
    """A YAML file (size-capped, UTF-8) that holds a mapping: (the mapping, its text)."""
    text = read_text(path)
    return parse_yaml_mapping(text, str(path)), text


# ------------------------------------------------------------------------------- strict types


def _number(value: Any) -> float:
    """A plain number: YAML true/false, null, text and lists are not numbers here."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        if isinstance(value, str) and re.match(r"^\s*[-+]?[\d.]+(e[-+]?\d+)?\s*\D", value, re.I):
            raise ValueError("must be a number alone: the unit is part of the key's name")
        raise ValueError("must be a number")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError("must be a finite number")
    if abs(v) > MAX_MAGNITUDE or 0 < abs(v) < MIN_MAGNITUDE:
        raise ValueError(f"is out of any sensible range (|value| between {MIN_MAGNITUDE:g} "
                         f"and {MAX_MAGNITUDE:g}, or 0)")
    return v


def _whole_number(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a whole number")
    if isinstance(value, float) and not (math.isfinite(value) and value == int(value)):
        raise ValueError("must be a whole number")
    if abs(value) > 1e12:
        raise ValueError("is out of any sensible range")
    return int(value)


def _number_or_auto(value: Any) -> float | str:
    if value == "auto":
        return "auto"
    try:
        return _number(value)
    except ValueError as exc:
        raise ValueError(f"{exc} or 'auto'") from None


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _line_of_text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be text")
    if _CONTROL.search(value) or "\n" in value:
        raise ValueError("must be one line of printable text (no control characters)")
    return value


def _paragraph(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be text")
    if _CONTROL.search(value):
        raise ValueError("must be printable text (no control characters)")
    return value


def _not_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("must be one of the listed values, not true/false")
    return value


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


#: a finite number (int or float in the YAML), never a bool, null, text or list
Number = Annotated[float, BeforeValidator(_number)]
#: an integer count or index (a float only when it is whole: 10.0 is 10)
WholeNumber = Annotated[int, BeforeValidator(_whole_number)]
#: a number or the word ``auto``
NumberOrAuto = Annotated[float | Literal["auto"], BeforeValidator(_number_or_auto)]
#: a name or label: one line, printable, at most 200 characters (HDF5 stores it as an attribute)
Name = Annotated[str, BeforeValidator(_line_of_text)]
#: free text (a description): printable, newlines allowed
Text = Annotated[str, BeforeValidator(_paragraph)]
Flag = Annotated[bool, BeforeValidator(_flag)]
#: put before a ``Literal`` of numbers: YAML ``true`` would otherwise pass as 1
NotBool = BeforeValidator(_not_bool)


def number_or_auto(low: float, high: float, unit: str, low_inclusive: bool = False) -> Any:
    """A number in (low, high] ([low, high] with ``low_inclusive``) or the word ``auto``, as
    one type with one message."""

    def check(value: Any) -> float | str:
        value = _number_or_auto(value)
        if value == "auto":
            return value
        above = value >= low if low_inclusive else value > low
        if not (above and value <= high):
            word = "at least" if low_inclusive else "above"
            raise ValueError(f"must be {word} {low:g} and at most {high:g} {unit}, or 'auto'")
        return value

    return Annotated[float | Literal["auto"], BeforeValidator(check)]


# ------------------------------------------------------------------------------- messages


def key_path(loc: tuple[Any, ...]) -> str:
    """('steps', 3, 'field_Oe') → 'steps[3].field_Oe'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def near_miss(key: str, known: typing.Iterable[str]) -> str:
    """' (did you mean `rate_Oe_per_s`?)' for a key close to a known one, else ''."""
    if not isinstance(key, str):
        return ""
    known = list(known)
    lowered = {k.lower(): k for k in known}
    match = difflib.get_close_matches(key.lower(), list(lowered), n=1, cutoff=0.6)
    if not match:  # ramp_rate → rate_Oe_per_s: share a word
        words = set(re.split(r"[_\W]+", key.lower())) - {""}
        sharing = [k for k in known if words & set(k.lower().split("_"))]
        match = [sharing[0].lower()] if len(sharing) == 1 else []
    return f" (did you mean `{lowered[match[0]]}`?)" if match else ""


#: the name patterns of user files, in words
PATTERN_WORDS = {
    r"^[A-Za-z][A-Za-z0-9_]{0,31}$": "must be a name of 1–32 letters, digits or _, starting "
                                     "with a letter",
    r"^[A-Z0-9]+(\.[A-Z0-9]+)?$": "must be a device name in capitals, as the supply's "
                                   "front panel shows it (e.g. GRPZ)",
    r"^[A-Za-z][A-Za-z0-9]{0,15}$": "must be a name of 1–16 letters or digits, starting with a "
                                    "letter (no _: it starts the run file's column names, "
                                    "e.g. xx_rho_ohm_sq)",
}


def _plain_message(err: dict[str, Any]) -> str:
    """pydantic's message in a physicist's words."""
    kind, ctx = err["type"], err.get("ctx") or {}
    msg = err["msg"]
    if kind == "missing":
        return "required, but missing"
    if kind == "value_error":
        return msg.removeprefix("Value error, ")
    bounds = {"greater_than": "must be above {gt}", "greater_than_equal": "must be at least {ge}",
              "less_than": "must be below {lt}", "less_than_equal": "must be at most {le}"}
    if kind in bounds:
        return bounds[kind].format(**{k: _plain_number(v) for k, v in ctx.items()})
    if kind == "too_short":
        return f"needs at least {ctx.get('min_length')} entries"
    if kind == "too_long":
        return f"takes at most {ctx.get('max_length')} entries"
    if kind == "literal_error":
        return "must be " + msg.removeprefix("Input should be ")
    if kind == "union_tag_invalid":
        return (f"model {ctx.get('tag')!r} is not supported; the supported models are "
                f"{ctx.get('expected_tags')}")
    if kind == "union_tag_not_found":
        return f"{ctx.get('discriminator', 'the model')} is required"
    if kind in ("list_type", "tuple_type"):
        return "must be a list ([a, b, …])"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return "must be a mapping of settings (key: value)"
    if kind == "string_type":
        return "must be text"
    if kind in ("bool_type", "bool_parsing"):
        return "must be true or false"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return "must be a whole number"
    if kind in ("float_type", "float_parsing"):
        return "must be a number"
    if kind == "finite_number":
        return "must be a finite number"
    if kind == "string_pattern_mismatch":
        return PATTERN_WORDS.get(ctx.get("pattern", ""), msg.replace("String should", "must"))
    return msg.removeprefix("Input should be ").removeprefix("Value error, ")


def _plain_number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def validation_problems(exc: ValidationError, prefix: tuple[Any, ...] = (),
                        model: type[BaseModel] | None = None) -> list[str]:
    """One line per pydantic error: ``key.path: what is wrong (got value)``; an unknown key
    gets the nearest known one of ``model`` (walked along the error's location)."""
    problems = []
    for err in exc.errors(include_url=False):
        loc = tuple(p for p in err["loc"] if not _is_tag(p))
        if err["type"] == "extra_forbidden":
            known = _fields_at(model, loc[:-1]) if model is not None else []
            msg = "unknown key" + near_miss(str(loc[-1]), known)
        else:
            msg = _plain_message(err)
        value = err.get("input")
        shown = err["type"] not in ("missing", "extra_forbidden") and \
            not isinstance(value, dict | list | BaseModel)
        got = f" (got {_short(value)})" if shown else ""
        where = key_path(prefix + loc)
        if not prefix + loc and re.match(r"^[\w.\[\]]+: ", msg):
            where, msg = msg.split(": ", 1)  # a model-level check that names its own key
        problems.append(f"{where}: {msg}{got}")
    return problems


#: tags of discriminated unions (instrument models): pydantic puts the tag in an error's
#: location (instruments.<name>.<model>.resource), which is not a key anyone wrote
UNION_TAGS: set[str] = set()


def _is_tag(part: Any) -> bool:
    # pydantic inserts validator and union member names ("function-after[...]",
    # "constrained-float", "literal['auto']") into error locations
    return isinstance(part, str) and (part.startswith("function-") or "[" in part
                                      or part.startswith("constrained-") or part in UNION_TAGS)


def _fields_at(model: type[BaseModel] | None, loc: tuple[Any, ...]) -> list[str]:
    """Field names of the (nested) model found by following ``loc`` from ``model``."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        field = current.model_fields.get(part)
        if field is None:
            return []
        current = _model_in(field.annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _model_in(annotation: Any) -> Any:
    """The BaseModel inside ``X | None``, ``list[X]``, ``dict[str, X]`` or ``Annotated[X, …]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType, list, tuple, dict, Annotated):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None
