"""Reading user files safely: YAML without aliases or size bombs, errors that name key and value.

Station and sequence files are the two inputs a physicist types by hand. Both go through here:
refused quickly (size checked before parsing, aliases refused while parsing) and reported with
every problem at once, each as ``file: key.path: message (got value)``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

MAX_INPUT_BYTES = 1_000_000  # a sequence or station file is a page of text, not megabytes


class InputError(Exception):
    """A user file cryolab refuses. ``problems`` holds one line per problem."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {p}" for p in problems))


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader that refuses anchors/aliases: they can expand a small file exponentially."""

    def compose_node(self, parent, index):  # type: ignore[override]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.constructor.ConstructorError(
                None, None, "YAML aliases (*name) are not accepted in cryolab files",
                event.start_mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):  # type: ignore[override]
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
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputError(source, [f"{where}not valid YAML ({problem})"]) from None
    except RecursionError:
        raise InputError(source, ["YAML nested too deeply"]) from None
    if data is None:
        raise InputError(source, ["file is empty"])
    if not isinstance(data, dict):
        raise InputError(source, [f"expected a mapping of keys at the top level, got a "
                                  f"{type(data).__name__}"])
    return data


def read_yaml_mapping(path: str | Path) -> dict[str, Any]:
    """Read a YAML file (size-checked before reading it whole) that holds a mapping."""
    path = Path(path)
    source = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_INPUT_BYTES:
            raise InputError(source, [f"file is {size // 1000} kB; the limit is "
                                      f"{MAX_INPUT_BYTES // 1000} kB"])
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(source, ["file not found"]) from None
    except IsADirectoryError:
        raise InputError(source, ["is a directory, not a file"]) from None
    except OSError as exc:
        raise InputError(source, [f"cannot read ({exc.strerror})"]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(source, ["not a UTF-8 text file"]) from None
    return parse_yaml_mapping(text, source)


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


def validation_problems(exc: ValidationError, prefix: tuple[Any, ...] = ()) -> list[str]:
    """One line per pydantic error: ``key.path: message (got value)``."""
    problems = []
    for err in exc.errors(include_url=False):
        loc = prefix + tuple(p for p in err["loc"] if not _is_union_tag(p))
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        value = err.get("input")
        shown = err["type"] != "missing" and not isinstance(value, dict | list)
        got = f" (got {_short(value)})" if shown else ""
        problems.append(f"{key_path(loc)}: {msg}{got}")
    return problems


def _is_union_tag(part: Any) -> bool:
    # pydantic inserts validator wrappers' names ("function-after[...]") into locations
    return isinstance(part, str) and part.startswith("function-")
