"""python -m fastnst COMMAND [options]: train, stylize, optimize, evaluate, export, flicker, info,
train-decoders (the universal model's) or app (the web page)."""

import sys

from .cli import COMMANDS


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in COMMANDS:
        print(f"usage: python -m fastnst {{{','.join(COMMANDS)}}} [options]   (COMMAND --help for each)",
              file=sys.stderr)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
