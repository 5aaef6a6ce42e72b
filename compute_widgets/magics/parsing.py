"""Argument parsing for `%compute`: the command table and an argparse that never exits.

The table below is the single list of subcommands, their CLI aliases and verbs. Dispatch,
help and tab completion all read it. It is plain data, so loading the extension stays cheap;
which function runs each (command, verb) is the table `dispatch.HANDLERS`, whose entries
import the modules that run a command (`cmd_*.py`) on first use.
"""

from __future__ import annotations

import argparse
import shlex
from dataclasses import dataclass, field
from typing import Any, NoReturn

from IPython.core.error import UsageError

PROG = "%compute"


class HelpShown(Exception):  # noqa: N818 - a signal, not an error
    """Raised instead of SystemExit after `--help` printed the usage."""


class UsageParser(argparse.ArgumentParser):
    """argparse whose errors become one-line `UsageError`s and whose `--help` never exits."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)

    #: True for parsers whose arguments may hold a secret: errors then never echo values.
    hide_values = False

    def error(self, message: str) -> NoReturn:
        if self.hide_values:
            raise UsageError(
                f"{self.prog}: invalid arguments (not shown, in case one is a token). "
                f"See `{self.prog} --help`."
            )
        raise UsageError(f"{self.prog}: {message}. See `{self.prog} --help`.")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            print(message)
        raise HelpShown()


@dataclass(frozen=True)
class Command:
    """One subcommand: `%compute NAME [VERB] ...`, run by its entry in `dispatch.HANDLERS`.

    A group (clusters, nodepools, deployments) has verbs; each verb has aliases.
    """

    name: str
    aliases: tuple[str, ...] = ()
    verbs: dict[str, tuple[str, ...]] = field(default_factory=dict)
    summary: str = ""

    def verb_for(self, word: str) -> str | None:
        for verb, aliases in self.verbs.items():
            if word == verb or word in aliases:
                return verb
        return None


COMMANDS: tuple[Command, ...] = (
    Command(
        "clusters",
        ("cc", "computecluster"),
        {"list": ("ls",), "create": ("c",), "delete": ("rm",)},
        "compute clusters: list, create, delete",
    ),
    Command(
        "nodepools",
        ("np", "nodepool"),
        {"list": ("ls",), "create": ("c",), "scale": (), "delete": ("rm",)},
        "nodepools: list, create, scale, delete",
    ),
    Command(
        "deployments",
        ("dp", "deployment"),
        {
            "list": ("ls",),
            "create": ("c",),
            "get": ("status",),
            "logs": (),
            "delete": ("rm",),
        },
        "deployments: list, create, get, logs, delete",
    ),
    Command("list-instances", ("li",), summary="instance types, with filters"),
    Command("wizard", summary="the create wizard (cluster, nodepool, deployment)"),
    Command("browse", summary="browse clusters, nodepools and deployments"),
    Command("chart", summary="utilization, scaling or cost chart of a nodepool"),
    Command("monitor", summary="live chart of a nodepool"),
    Command("plan", summary="what-if: simulate new nodepool settings"),
    Command("recommend", summary="right-size a nodepool: cheapest settings meeting a p95 target"),
    Command("connect", summary="choose the backend (local, Clarifai, or a CLI context)"),
    Command("contexts", summary="the Clarifai CLI's contexts (never a PAT)"),
    Command("status", summary="backend, user and server health"),
)


def find_command(word: str) -> Command | None:
    for cmd in COMMANDS:
        if word == cmd.name or word in cmd.aliases:
            return cmd
    return None


def command_names(with_aliases: bool = True) -> list[str]:
    names: list[str] = []
    for cmd in COMMANDS:
        names.append(cmd.name)
        if with_aliases:
            names.extend(cmd.aliases)
    return names


def valid_commands_text() -> str:
    """`clusters|cc, nodepools|np, ...` for error messages."""
    return ", ".join("|".join((c.name, *c.aliases[:1])) for c in COMMANDS)


def split_line(line: str) -> list[str]:
    """shlex-split a magic line; an unbalanced quote is a usage error, not a traceback."""
    try:
        return shlex.split(line, comments=False, posix=True)
    except ValueError as exc:
        raise UsageError(f"{PROG}: cannot parse the line ({exc}); check the quotes.") from None


def usage_text() -> str:
    """The overview printed by `%compute` with no arguments and by `%compute --help`."""
    width = max(len("|".join((c.name, *c.aliases))) for c in COMMANDS)
    lines = ["usage: %compute SUBCOMMAND [VERB] [ARGS] [--help]", "", "subcommands:"]
    for c in COMMANDS:
        lines.append(f"  {'|'.join((c.name, *c.aliases)):<{width}}  {c.summary}")
    lines += [
        "",
        "cell magic: %%compute [--dry-run | --apply] [--cluster CC]  (Clarifai CLI YAML in the cell)",
        "`%compute SUBCOMMAND --help` shows the arguments of one subcommand.",
    ]
    return "\n".join(lines)


def positive_int(text: str) -> int:
    """A whole number >= 0 in ASCII digits: int() also takes "٣", "1_0" and " 3 ". The upper
    bound is the field's (api/models.py names it, e.g. uint32 for --max)."""
    if text.startswith("-") and text[1:].isascii() and text[1:].isdigit():
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text}")
    if not (text.isascii() and text.isdigit()):
        shown = repr(text) if len(text) <= 40 else repr(text[:37]) + "…"
        raise argparse.ArgumentTypeError(f"expected a whole number in digits 0-9, got {shown}")
    if len(text) > 40:  # int() refuses text beyond 4300 digits; no field takes more than 20
        raise argparse.ArgumentTypeError(f"expected a number of at most 40 digits, got {len(text)}")
    return int(text)


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value}")
    return value
