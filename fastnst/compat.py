"""What older fastnst versions wrote, in today's terms: every compatibility branch in one place.

Called only where something stored or typed by an older version comes in: loading a checkpoint,
resuming a run, reading options. The rest of the package sees today's names and formats only.
"""

from __future__ import annotations

from typing import Any

# The style layers of the versions that stored None for "each layer weighs 1" (format 1).
_FORMAT_1_STYLE_LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")

# Format 1 stored the loss options among train_args and again, renamed, in "loss_net".
_LOSS_NET_KEYS = {"name": "loss_net", "weights": "loss_weights", "content_layers": "content_layers",
                  "style_layers": "style_layers", "style_layer_weights": "style_layer_weights"}
_LOSS_KEYS = ("loss_net", "loss_weights", "content_layers", "style_layers", "style_layer_weights",
              "content_weight", "style_weight", "tv_weight", "stability_weight", "style_size")

# Older versions named the precision option "amp", with "off" for fp32.
_RENAMED = {"amp": "precision"}
_RENAMED_VALUES = {("precision", "off"): "fp32"}


def format_1_loss_options(raw: dict[str, Any]) -> dict[str, Any]:
    """The loss options of a checkpoint written before they got their own "loss" entry."""
    train_args, loss_net = raw.get("train_args", {}), raw.get("loss_net", {})
    options = {k: train_args[k] for k in _LOSS_KEYS if k in train_args}
    options.update({ours: loss_net[theirs] for theirs, ours in _LOSS_NET_KEYS.items() if theirs in loss_net})
    if options.get("loss_weights") == "imagenet":  # format 1's word for "torchvision's download"
        options["loss_weights"] = None
    return options


def stored_layer_weights(stored: dict[str, Any]) -> dict[str, Any]:
    """Stored options with their style layer weights spelled out: checkpoints written before the
    per-layer defaults stored None for "1 each", and must keep meaning that."""
    if "style_layer_weights" in stored and stored["style_layer_weights"] is None:
        layers = stored.get("style_layers", _FORMAT_1_STYLE_LAYERS)
        stored = {**stored, "style_layer_weights": (1.0,) * len(layers)}
    return stored


def upgrade_options(options: dict[str, Any]) -> dict[str, Any]:
    """Training options as older versions stored or took them (the API, the command line), in today's names."""
    out = {}
    for key, value in options.items():
        key = _RENAMED.get(key, key)
        out[key] = _RENAMED_VALUES.get((key, value), value) if isinstance(value, str) else value
    return out


def resumed_run_options(stored: dict[str, Any]) -> dict[str, Any]:
    """A resumed run's stored options, with what runs begun before an option existed went on without."""
    stored = stored_layer_weights(upgrade_options(stored))
    stored.setdefault("stability_weight", 0.0)  # runs begun before the stability term go on without it
    stored.setdefault("lr_decay_at", 1.0)  # and before the schedule, without a drop
    return stored


def resumed_rng(rng: Any) -> dict[str, Any]:
    """A training checkpoint's random number generator states as {"torch": ..., "cuda": [...]}: the
    decoders' training checkpoints of older versions stored the CPU generator's state alone."""
    return rng if isinstance(rng, dict) else {"torch": rng, "cuda": []}


def resumed_seconds(raw: dict[str, Any]) -> float:
    """The training seconds a training checkpoint has spent: 0 for those written before runs kept
    their time (a --minutes budget then counts from the resumed step)."""
    return float(raw.get("seconds", 0.0))
