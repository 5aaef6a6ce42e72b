"""`%compute SUB [VERB] ARGS`: find the subcommand, build its parser, run it."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from IPython.core.error import UsageError

from compute_widgets.magics.parsing import (
    PROG,
    Command,
    HelpShown,
    UsageParser,
    find_command,
    split_line,
    usage_text,
    valid_commands_text,
)

_HELP = ("-h", "--help", "help")


def _module(cmd: Command) -> ModuleType:
    return importlib.import_module(f"compute_widgets.magics.{cmd.module}")


def function_name(cmd: Command, verb: str | None) -> str:
    return (verb or cmd.name).replace("-", "_")


def build_parser(cmd: Command, verb: str | None) -> UsageParser:
    """The argparse parser of one subcommand (verb), described by its run_ docstring."""
    module = _module(cmd)
    name = function_name(cmd, verb)
    run = getattr(module, f"run_{name}")
    prog = f"{PROG} {cmd.name}" + (f" {verb}" if verb else "")
    parser = UsageParser(prog=prog, description=(run.__doc__ or "").strip())
    getattr(module, f"build_{name}")(parser)
    return parser


def verbs_text(cmd: Command) -> str:
    return ", ".join("|".join((verb, *aliases)) for verb, aliases in cmd.verbs.items())


def group_help(cmd: Command) -> str:
    lines = [f"usage: {PROG} {'|'.join((cmd.name, *cmd.aliases))} VERB [ARGS] [--help]", "", "verbs:"]
    for verb, aliases in cmd.verbs.items():
        doc = (getattr(_module(cmd), f"run_{function_name(cmd, verb)}").__doc__ or "").strip()
        lines.append(f"  {'|'.join((verb, *aliases)):<14} {doc.splitlines()[0] if doc else ''}")
    lines.append(f"\nWithout a verb, `{PROG} {cmd.name}` lists.")
    return "\n".join(lines)


def resolve(words: list[str]) -> tuple[Command, str | None, list[str]]:
    """words -> (command, verb or None, remaining args); UsageError naming the valid choices."""
    cmd = find_command(words[0])
    if cmd is None:
        raise UsageError(
            f"unknown subcommand {words[0]!r}. Valid subcommands: {valid_commands_text()} "
            f"(`{PROG} --help` for more)."
        )
    rest = words[1:]
    if not cmd.verbs:
        return cmd, None, rest
    if not rest or rest[0].startswith("-"):
        return cmd, "list", rest
    verb = cmd.verb_for(rest[0])
    if verb is None:
        raise UsageError(
            f"unknown verb {rest[0]!r} for `{PROG} {cmd.name}`. Valid verbs: {verbs_text(cmd)}."
        )
    return cmd, verb, rest[1:]


def run_line(magics: Any, line: str) -> Any:
    words = split_line(line)
    if not words or words[0] in _HELP:
        print(usage_text())
        return None
    cmd = find_command(words[0])
    if cmd is not None and cmd.verbs and len(words) == 2 and words[1] in _HELP:
        print(group_help(cmd))
        return None
    cmd, verb, rest = resolve(words)
    parser = build_parser(cmd, verb)
    try:
        args = parser.parse_args(rest)
    except HelpShown:
        return None
    return getattr(_module(cmd), f"run_{function_name(cmd, verb)}")(magics, args)
