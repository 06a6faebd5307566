"""Write docs/options.md, every command's options, from the argument parsers themselves.

    python scripts/option_reference.py            # rewrite docs/options.md
    python scripts/option_reference.py --check    # exit 1 if docs/options.md is out of date

The parsers are the one source: this page is generated, never edited by hand.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the checkout's fastnst, not an installed one

import fastnst.cli  # noqa: E402

OPTIONS_PAGE = ROOT / "docs" / "options.md"

# How each command is run; commands not listed here are `fastnst <module name>`.
COMMAND_LINES = {"train": "python train.py", "stylize": "python infer.py"}


def cli_parsers() -> list[tuple[str, argparse.ArgumentParser]]:
    """(module name, parser) for every fastnst.cli module with a get_parser(), train and stylize first."""
    found = []
    for module_info in pkgutil.iter_modules(fastnst.cli.__path__):
        module = importlib.import_module(f"fastnst.cli.{module_info.name}")
        if hasattr(module, "get_parser"):  # the command's name: train_decoders.py is train-decoders
            found.append((module_info.name.replace("_", "-"), module.get_parser()))
    order = {name: i for i, name in enumerate(COMMAND_LINES)}
    return sorted(found, key=lambda item: (order.get(item[0], len(order)), item[0]))


def cell(text: str) -> str:
    """Text fit for one cell of a markdown table."""
    return " ".join(text.split()).replace("|", "\\|")


def option_name(action: argparse.Action) -> str:
    names = ", ".join(f"`{flag}`" for flag in action.option_strings) or f"`{action.metavar or action.dest}`"
    if action.option_strings and action.nargs != 0:
        metavar = action.metavar or action.dest.upper()
        if isinstance(metavar, tuple):
            metavar = " ".join(metavar)
        names += f" {cell(str(metavar))}"
    return names


def default_text(action: argparse.Action) -> str:
    # Many parsers leave defaults as None and state the real default in the help text.
    if action.default in (None, argparse.SUPPRESS) or action.nargs == 0:
        return ""
    return f"`{action.default}`"


def help_text(action: argparse.Action, parser: argparse.ArgumentParser) -> str:
    text = action.help or ""
    if "%(" in text:  # argparse's own placeholders, such as %(default)s
        text = parser._get_formatter()._expand_help(action)
    if action.choices is not None and not isinstance(action.choices, range):
        text += f" (one of: {', '.join(str(choice) for choice in action.choices)})"
    return cell(text)


def command_section(name: str, parser: argparse.ArgumentParser) -> list[str]:
    command = COMMAND_LINES.get(name, f"fastnst {name}")
    lines = [f"## {name}", "", f"`{command}`: {cell(parser.description or '')}", "",
             "| option | default | help |", "| --- | --- | --- |"]
    for action in parser._actions:
        if action.help == argparse.SUPPRESS or isinstance(action, argparse._HelpAction):
            continue
        lines.append(f"| {option_name(action)} | {default_text(action)} | {help_text(action, parser)} |")
    return lines + [""]


def option_reference() -> str:
    parsers = cli_parsers()
    lines = ["# Options", "",
             "Every option of every command, generated from the argument parsers by "
             "`python scripts/option_reference.py`: do not edit by hand. "
             "An empty default means the help text says what applies.", ""]
    lines += [f"- [{name}](#{name})" for name, _ in parsers] + [""]
    for name, parser in parsers:
        lines += command_section(name, parser)
    return "\n".join(lines).rstrip("\n") + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that docs/options.md is up to date")
    args = parser.parse_args()
    text = option_reference()
    if args.check:
        if OPTIONS_PAGE.read_text(encoding="utf-8") != text:
            print("docs/options.md is out of date: run python scripts/option_reference.py")
            return 1
        return 0
    OPTIONS_PAGE.write_text(text, encoding="utf-8")
    print(f"wrote {OPTIONS_PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
