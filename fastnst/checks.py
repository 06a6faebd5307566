"""Type checks for options given from Python: a value of the wrong type is named in one line
("steps must be a whole number, got '3' (a str)") before anything runs, instead of failing later
with a bare TypeError from deep inside (or, worse, after files were written)."""

from __future__ import annotations

import dataclasses
import functools
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
    text = " ".join(repr(value).split())  # on one line, whatever the repr (an array's spans several)
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


# The kinds above by the type a hint names.
_KIND_OF = {int: "int", float: "float", bool: "bool", str: "str", os.PathLike: "path"}


def hint_problem(value: Any, hint: Any) -> str | None:
    """type_problem for a field's type hint (int, float, bool, str, a path (a hint naming
    os.PathLike), a class, or a union of them such as `int | None`): None if `value` fits, else
    what it should be and what it is. Hints of containers (a list, a tuple) are checked on their
    own: None here."""
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    choices = typing.get_args(hint) if union else (hint,)
    optional = type(None) in choices
    kinds = [kind for kind in choices if kind is not type(None)]
    if os.PathLike in kinds:  # str | os.PathLike: one kind, a path
        kinds = [os.PathLike]
    if any(typing.get_origin(kind) is not None or not isinstance(kind, type) for kind in kinds):
        return None
    if optional and value is None:
        return None
    if any(_is(value, _KIND_OF[kind]) if kind in _KIND_OF else isinstance(value, kind) for kind in kinds):
        return None
    if len(kinds) == 1 and kinds[0] in _KIND_OF:
        return type_problem(value, _KIND_OF[kinds[0]], optional)
    names = [KINDS[_KIND_OF[kind]] if kind in _KIND_OF else f"a {kind.__name__}" for kind in kinds]
    return f"must be {' or '.join(names)}{' or None' if optional else ''}, got {shown(value)}"


@functools.cache
def _hints(kind: type) -> dict[str, Any]:
    """A dataclass's type hints, resolved once: options are checked on every video frame."""
    return typing.get_type_hints(kind)


def field_problem(config: Any) -> str | None:
    """The first field of a dataclass whose value does not fit its type hint (hint_problem):
    "steps must be a whole number, got 2.5"; None when every one does."""
    hints = _hints(type(config))
    for item in dataclasses.fields(config):
        problem = hint_problem(getattr(config, item.name), hints[item.name])
        if problem:
            return f"{item.name} {problem}"
    return None
