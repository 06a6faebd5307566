"""Choosing the style of a net that holds several (model.py, conditional instance norm).

A choice is a mix over the net's styles: one style by name or index, a blend ("mosaic=0.6,candy=0.4",
weights normalized to sum 1), or "all" (one output per style). Inference runs the one-style net
that the mix makes (TransformerNet.single_style), so every runtime treats it like any other net;
switching a running net to another mix rewrites its norms in place (StyleSwitch).
"""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import torch

from ..checks import shown
from ..errors import FastNSTError
from ..model import TransformerNet, one_hot, set_norms
from .options import OptionError

# What `--style` and the Python API's `style=` take.
StyleSpec = str | int | Mapping[str | int, float] | None


@dataclass
class StyleChoice:
    label: str              # for file names and captions: "candy", "mosaic60+candy40"
    mix: torch.Tensor       # one weight per style of the net, summing to 1


def split_blend(spec: str, known: Callable[[str], bool]) -> list[tuple[str, str | None]]:
    """What a style string names, as (key, weight text or None) pairs: the one resolver of names,
    paths and blends, for a net's styles (`known`: a style's name) and for paintings (`known`: a
    file that exists).

    A string `known` accepts is one key, whatever characters it holds ("x=y", "a,b.jpg"); only
    otherwise is it a blend, its parts split at "," (where several parts joined by "," are known,
    they are one key) and each part, unless known itself, split at its last "=" into KEY=WEIGHT
    (not where the weight holds a path separator: "dir=1/a.jpg" is one path). Empty parts come back
    as ("", None).
    """
    text = spec.strip()
    if known(text):
        return [(text, None)]
    tokens, pairs, i = text.split(","), [], 0
    while i < len(tokens):
        for j in range(len(tokens), i, -1):  # the longest run of parts that is a known key
            part = ",".join(tokens[i:j]).strip()
            key, equals, weight = part.rpartition("=")
            if known(part):
                pairs.append((part, None))
                break
            if equals and "," not in weight and known(key.strip()):
                pairs.append((key.strip(), weight.strip()))
                break
        else:
            j = i + 1
            part = tokens[i].strip()
            key, equals, weight = part.rpartition("=")
            split = equals and not re.search(r"[/\\]", weight)
            pairs.append((key.strip(), weight.strip()) if split else (part, None))
        i = j
    return pairs


def normalized(weights: Sequence[float], given: str) -> list[float]:
    """Blend weights (numbers, none negative) scaled to sum 1, summed in float64: weights near a
    float's limit would add up to inf, and the blend to NaN (a black or flat picture). given: the
    blend as the user wrote it, for the message."""
    total = sum(float(w) for w in weights)  # Python floats: float64
    if not math.isfinite(total):
        raise FastNSTError(f"style weights too large: they add up to more than a number can hold ({given}); "
                           f"give them as fractions")
    if total <= 0:
        raise FastNSTError("a style blend needs a weight above 0")
    return [w / total for w in weights]


def _index(key: str | int, names: list[str]) -> int:
    if isinstance(key, numbers.Integral) and not isinstance(key, bool):
        key = int(key)
    elif isinstance(key, str) and key.strip() in names:  # a name first: a style named "0" is chosen by it
        return names.index(key.strip())
    elif isinstance(key, str) and re.fullmatch(r"-?\d+", key.strip()):
        key = int(key)
    elif not isinstance(key, str):
        raise OptionError(f"{{style}}: a style is a name or an index, got {shown(key)}")
    if isinstance(key, int):
        if not 0 <= key < len(names):
            raise FastNSTError(f"style index {key} is out of range: this net has {_listing(names)}")
        return key
    key = key.strip()
    if key not in names:
        hint = (f": a blend gives each style a weight ({names[0]}=0.5,...)" if "," in key and "=" not in key
                else "")
        raise FastNSTError(f"unknown style '{key}': this net has {_listing(names)}{hint}")
    return names.index(key)


def _listing(names: list[str]) -> str:
    return f"{len(names)} style{'s' * (len(names) > 1)}: " + ", ".join(f"{i} {n}" for i, n in enumerate(names))


def parse_style(spec: StyleSpec, names: list[str]) -> list[StyleChoice]:
    """The choices `spec` names among a net's styles `names` (more than one only for "all").

    None: the first style. A name or an index. "all": each style in turn. "a=0.6,b=0.4" or a
    mapping {name or index: weight}: a blend; weights are not negative and are normalized, and
    a style may appear once. A name holding "=" or "," is taken whole; in a blend, each part is
    split at its last "=". Anything else (a float, a list) is an OptionError naming `style`.
    """
    count = len(names)
    if spec is None:
        return [StyleChoice(names[0], one_hot(0, count))]
    if isinstance(spec, str) and not spec.strip():
        raise OptionError("{style} is empty: give a style's name or index, a blend NAME=WEIGHT,... or all")
    if isinstance(spec, str) and spec.strip() == "all":
        return [StyleChoice(name, one_hot(i, count)) for i, name in enumerate(names)]
    if isinstance(spec, str) and spec.strip() in names:  # a name, whatever it holds ("0", "x=y")
        index = names.index(spec.strip())
        return [StyleChoice(names[index], one_hot(index, count))]
    if isinstance(spec, str) and "=" in spec:
        pairs = []
        for key, value in split_blend(spec, lambda name: name in names):
            if (key, value) == ("", None):
                continue
            try:
                pairs.append((key, float(value)))
            except (TypeError, ValueError):
                part = key if value is None else f"{key}={value}"
                raise OptionError(f"{{style}} {spec}: '{part}' is not NAME=WEIGHT") from None
        spec = pairs
    elif isinstance(spec, Mapping):
        spec = list(spec.items())
    elif not (isinstance(spec, str) or (isinstance(spec, numbers.Integral) and not isinstance(spec, bool))):
        raise OptionError(f"{{style}} must be a style's name or index, a blend such as {{'{names[0]}': 0.6, ...}} "
                          f"or 'all', got {shown(spec)}")
    if isinstance(spec, list):  # a blend: (name or index, weight) pairs
        # Summed and normalized in float64: weights near float32's limit (3.4e38) would add up to
        # inf there, and the blend to NaN (a black picture).
        weights = [0.0] * count
        seen: dict[int, object] = {}
        for key, weight in spec:
            if not (isinstance(weight, numbers.Real) and not isinstance(weight, bool)):
                raise OptionError(f"{{style}}: the weight of {key} must be a number, got {shown(weight)}")
            if not (math.isfinite(weight) and weight >= 0):
                raise FastNSTError(f"style weights must be numbers, not negative (got {key}={weight})")
            index = _index(key, names)
            if index in seen:
                raise OptionError(f"{{style}}: style {names[index]} is given twice in the blend "
                                  f"(as {seen[index]} and {key})")
            seen[index] = key
            weights[index] = float(weight)
        mix = torch.tensor(normalized(weights, ", ".join(f"{k}={w}" for k, w in spec)), dtype=torch.float64).float()
        used = [(names[i], w) for i, w in enumerate(mix.tolist()) if w > 0]
        if len(used) == 1:
            return [StyleChoice(used[0][0], one_hot(names.index(used[0][0]), count))]
        return [StyleChoice("+".join(f"{n}{round(w * 100)}" for n, w in used), mix)]
    index = _index(spec, names)
    return [StyleChoice(names[index], one_hot(index, count))]


def net_style_names(model: TransformerNet, names: list[str] | None = None) -> list[str]:
    """The names of a net's styles: the checkpoint's, else style0, style1, ..."""
    if names and len(names) == model.config.num_styles:
        return list(names)
    return [f"style{i}" for i in range(model.config.num_styles)]


def select_style(model: TransformerNet, choice: StyleChoice) -> TransformerNet:
    """The one-style net of this choice (the net itself if it has a single style)."""
    return model if model.config.num_styles == 1 else model.single_style(choice.mix)


class StyleSwitch:
    """One of several styles of one running net (a FastStylizer or a TransformerNet made by
    `select_style`): called, it first gives the shared net this style's norms if another style
    ran last. Several switches share one net: switching costs a few small copies, no reload."""

    def __init__(self, shared: torch.nn.Module, source: TransformerNet, choice: StyleChoice,
                 norms: list[torch.nn.Module], state: dict) -> None:
        self.shared, self.source, self.choice, self.norms, self.state = shared, source, choice, norms, state

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        if self.state.get("active") is not self:
            set_norms(self.norms, self.source, self.choice.mix)
            self.state["active"] = self
        return self.shared(images)

    def __getattr__(self, name: str):  # device, dtype, precision, ... of the shared net
        if name == "shared":  # not set yet (copying)
            raise AttributeError(name)
        return getattr(self.shared, name)
