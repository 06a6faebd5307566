"""Type checks for options given from Python: a value of the wrong type is named in one line
("steps must be a whole number, got '3' (a str)") before anything runs, instead of failing later
with a bare TypeError from deep inside (or, worse, after files were written)."""

from __future__ import annotations

import dataclasses
import numbers
import os
import types
import typing
from typing import Any

# What each kind of option takes, as its message says it.
KINDS = {
    "int": "a whole number",
    "float": "a number",
    "bool": "True or False",
    "str": "a string",
    "path": "a path (a string or a Path)",
}


def _is(value: Any, kind: str) -> bool:
    if kind == "int":
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool) or (isinstance(value, numbers.Integral) and value in (0, 1))
    if kind == "str":
        return isinstance(value, str)
    if kind == "path":
        return isinstance(value, (str, os.PathLike))
    raise ValueError(f"unknown kind {kind}")


def shown(value: Any) -> str:
    """A value as a message shows it: its repr (shortened) and, for what is not a plain number, its type."""
    text = repr(value)
    text = text if len(text) <= 40 else text[:37] + "..."
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return text
    article = "an" if type(value).__name__[0] in "aeiou" else "a"
    return f"{text} ({article} {type(value).__name__})"


def type_problem(value: Any, kind: str, optional: bool = False) -> str | None:
    """None if `value` is of `kind` (or None when `optional`), else what it should be and what it is:
    "must be a whole number, got '3' (a str)"."""
    if (optional and value is None) or _is(value, kind):
        return None
    return f"must be {KINDS[kind]}{' or None' if optional else ''}, got {shown(value)}"


def hinted_kind(hint: Any) -> tuple[str, bool] | None:
    """(kind, None allowed) of a field's type hint: int, float, bool, str, a path (a hint naming
    os.PathLike), each optional with None; None for any other hint (a list, a tuple: checked on their own)."""
    args = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    optional = type(None) in args
    rest = [arg for arg in args if arg is not type(None)]
    if os.PathLike in rest:
        return "path", optional
    simple = {bool: "bool", int: "int", float: "float", str: "str"}
    return (simple[rest[0]], optional) if len(rest) == 1 and rest[0] in simple else None


def field_problem(config: Any) -> str | None:
    """The first field of a dataclass whose value is not of its type hint's kind (hinted_kind):
    "steps must be a whole number, got 2.5"; None when every one is."""
    hints = typing.get_type_hints(type(config))
    for item in dataclasses.fields(config):
        kind = hinted_kind(hints[item.name])
        problem = kind and type_problem(getattr(config, item.name), *kind)
        if problem:
            return f"{item.name} {problem}"
    return None
