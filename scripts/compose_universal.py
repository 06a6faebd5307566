"""One universal model from the decoders of several: each level's decoder from the first file that has
it, the encoder VGG19 up to the deepest level (every file holds the same ImageNet VGG19).

    python scripts/compose_universal.py checkpoints/universal.pt --levels relu3_1 relu2_1 \\
        runs/relu3_1/universal.pt runs/decoders/universal.pt

Decoders of one level train apart from the others' (each level's loss is its own), so a level trained
later, or longer, joins the others this way. Every source's training options are kept in the new file's
train_args, by level.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from fastnst.errors import FastNSTError
from fastnst.universal import UniversalConfig, UniversalNet, load_universal, save_universal
from fastnst.universal.encoder import LEVELS

from any_painting import one_line_errors  # scripts/ is on sys.path when run


def compose(sources: Sequence[Path], levels: Sequence[str]) -> tuple[UniversalNet, dict]:
    loaded = [load_universal(path) for path in sources]
    widths = {item.net.config.width for item in loaded}
    if len(widths) > 1:
        raise FastNSTError(f"the files' decoders have different widths ({', '.join(map(str, sorted(widths)))})")
    config = UniversalConfig(levels=tuple(levels), width=widths.pop())
    deep = next((item for item in loaded if LEVELS.index(item.net.config.deepest) >= LEVELS.index(config.deepest)), None)
    if deep is None:
        raise FastNSTError(f"none of the files has an encoder down to {config.deepest}")
    net = UniversalNet(config, encoder_state=deep.net.encoder.features.state_dict())
    train_args = {}
    for level in config.levels:
        source = next((item for item in loaded if level in item.net.decoders), None)
        if source is None:
            raise FastNSTError(f"none of the files has a decoder for {level}")
        net.decoders[level].load_state_dict(source.net.decoders[level].state_dict())
        train_args[level] = {"from": source.path.name, "step": source.step, **source.train_args}
    return net, train_args


def run(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path, help="the universal file to write")
    p.add_argument("sources", type=Path, nargs="+", help="universal files, the first that has a level gives it")
    p.add_argument("--levels", nargs="+", required=True)
    args = p.parse_args(argv)
    if args.out.resolve() in {path.resolve() for path in args.sources}:
        raise FastNSTError(f"{args.out} is one of the sources: write the new model elsewhere")
    net, train_args = compose(args.sources, args.levels)
    save_universal(net, args.out, train_args)
    print(f"{args.out}: " + ", ".join(f"{level} from {a['from']}" for level, a in train_args.items()))
    return 0


if __name__ == "__main__":
    sys.exit(one_line_errors(run, None))
