"""`%compute SUB [VERB] ARGS`: find the subcommand, build its parser, run it.

`HANDLERS` below is the one table from (command, verb) to the function that runs it and the
one that builds its argparse parser. Each entry imports its `cmd_*` module when first used, so
`%load_ext` does not pay for modules a session never runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Handler:
    """`run(magics, args)` runs one verb; `build(parser)` adds its arguments. `run`'s
    docstring is the verb's help text."""

    run: Callable[[Any, argparse.Namespace], Any]
    build: Callable[[argparse.ArgumentParser], None]


def _clusters() -> dict[str | None, Handler]:
    from compute_widgets.magics import cmd_clusters

    return {
        "list": Handler(cmd_clusters.run_list, cmd_clusters.build_list),
        "create": Handler(cmd_clusters.run_create, cmd_clusters.build_create),
        "delete": Handler(cmd_clusters.run_delete, cmd_clusters.build_delete),
    }


def _nodepools() -> dict[str | None, Handler]:
    from compute_widgets.magics import cmd_nodepools

    return {
        "list": Handler(cmd_nodepools.run_list, cmd_nodepools.build_list),
        "create": Handler(cmd_nodepools.run_create, cmd_nodepools.build_create),
        "scale": Handler(cmd_nodepools.run_scale, cmd_nodepools.build_scale),
        "delete": Handler(cmd_nodepools.run_delete, cmd_nodepools.build_delete),
    }


def _deployments() -> dict[str | None, Handler]:
    from compute_widgets.magics import cmd_deployments

    return {
        "list": Handler(cmd_deployments.run_list, cmd_deployments.build_list),
        "create": Handler(cmd_deployments.run_create, cmd_deployments.build_create),
        "get": Handler(cmd_deployments.run_get, cmd_deployments.build_get),
        "logs": Handler(cmd_deployments.run_logs, cmd_deployments.build_logs),
        "delete": Handler(cmd_deployments.run_delete, cmd_deployments.build_delete),
    }


def _list_instances() -> dict[str | None, Handler]:
    from compute_widgets.magics import cmd_catalog

    return {None: Handler(cmd_catalog.run_list_instances, cmd_catalog.build_list_instances)}


def _wizard() -> dict[str | None, Handler]:
    from compute_widgets.magics import cmd_views

    return {None: Handler(cmd_views.run_wizard, cmd_views.build_wizard)}


def _browse() -> dict[str | None, Handler]:
    from compute_widgets.magics import cmd_views

    return {None: Handler(cmd_views.run_browse, cmd_views.build_browse)}


def _chart() -> dict[str | None, Handler]:
    from compute_widgets.magics import cmd_views

    return {None: Handler(cmd_views.run_chart, cmd_views.build_chart)}


def _monitor() -> dict[str | None, Handler]:
    from compute_widgets.magics import cmd_views

    return {None: Handler(cmd_views.run_monitor, cmd_views.build_monitor)}


def _plan() -> dict[str | None, Handler]:
    from compute_widgets.magics import cmd_views

    return {None: Handler(cmd_views.run_plan, cmd_views.build_plan)}


def _recommend() -> dict[str | None, Handler]:
    from compute_widgets.magics import cmd_recommend

    return {None: Handler(cmd_recommend.run_recommend, cmd_recommend.build_recommend)}


def _connect() -> dict[str | None, Handler]:
    from compute_widgets.magics import cmd_connect

    return {None: Handler(cmd_connect.run_connect, cmd_connect.build_connect)}


def _contexts() -> dict[str | None, Handler]:
    from compute_widgets.magics import cmd_connect

    return {None: Handler(cmd_connect.run_contexts, cmd_connect.build_contexts)}


def _status() -> dict[str | None, Handler]:
    from compute_widgets.magics import cmd_connect

    return {None: Handler(cmd_connect.run_status, cmd_connect.build_status)}


#: command name (parsing.COMMANDS) -> its handlers by verb (None: a command without verbs)
HANDLERS: dict[str, Callable[[], dict[str | None, Handler]]] = {
    "clusters": _clusters,
    "nodepools": _nodepools,
    "deployments": _deployments,
    "list-instances": _list_instances,
    "wizard": _wizard,
    "browse": _browse,
    "chart": _chart,
    "monitor": _monitor,
    "plan": _plan,
    "recommend": _recommend,
    "connect": _connect,
    "contexts": _contexts,
    "status": _status,
}


def handler(cmd: Command, verb: str | None) -> Handler:
    return HANDLERS[cmd.name]()[verb]


def build_parser(cmd: Command, verb: str | None) -> UsageParser:
    """The argparse parser of one subcommand (verb), described by its run function's docstring."""
    found = handler(cmd, verb)
    prog = f"{PROG} {cmd.name}" + (f" {verb}" if verb else "")
    parser = UsageParser(prog=prog, description=(found.run.__doc__ or "").strip())
    found.build(parser)
    return parser


def verbs_text(cmd: Command) -> str:
    return ", ".join("|".join((verb, *aliases)) for verb, aliases in cmd.verbs.items())


def group_help(cmd: Command) -> str:
    lines = [f"usage: {PROG} {'|'.join((cmd.name, *cmd.aliases))} VERB [ARGS] [--help]", "", "verbs:"]
    handlers = HANDLERS[cmd.name]()
    for verb, aliases in cmd.verbs.items():
        doc = (handlers[verb].run.__doc__ or "").strip()
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
    return handler(cmd, verb).run(magics, args)
