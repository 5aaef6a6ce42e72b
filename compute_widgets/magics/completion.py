"""Tab completion for `%compute` / `%%compute` lines (IPython's matcher API v2).

Completes subcommands, verbs, `--options` (read from the subcommand's own parser), option
choices, cluster / nodepool / deployment IDs and the Clarifai CLI's context names. IDs come from the connected client and are
cached on the magics instance for `completion_cache_seconds`; with no client connected yet,
IDs are not completed (completion never starts a server or waits on the network for long).
"""

from __future__ import annotations

from typing import Any

from compute_widgets.magics.parsing import command_names, find_command

MAGIC_PREFIXES = ("%%compute", "%compute")
_WIZARD_WHAT = ["cluster", "nodepool", "deployment"]

# (command, verb) -> what each positional argument completes to, in order
_POSITIONALS: dict[tuple[str, str | None], list[str]] = {
    ("clusters", "delete"): ["cluster", "cluster", "cluster", "cluster"],
    ("clusters", "create"): [],
    ("clusters", "list"): [],
    ("nodepools", "list"): ["cluster"],
    ("nodepools", "create"): ["cluster"],
    ("nodepools", "scale"): ["cluster", "nodepool"],
    ("nodepools", "delete"): ["cluster", "nodepool", "nodepool", "nodepool"],
    ("deployments", "list"): ["nodepool_any"],
    ("deployments", "create"): ["nodepool_any"],
    ("deployments", "get"): ["deployment"],
    ("deployments", "logs"): ["deployment"],
    ("deployments", "delete"): ["deployment", "deployment", "deployment"],
    ("chart", None): ["cluster", "nodepool"],
    ("monitor", None): ["cluster", "nodepool"],
    ("plan", None): ["cluster", "nodepool"],
    ("recommend", None): ["cluster", "nodepool"],
    ("wizard", None): ["wizard_what", "cluster", "nodepool"],
}
_OPTION_VALUES = {"--cluster": "cluster", "--traffic": "traffic", "--context": "context"}


def make_matcher(magics: Any) -> Any:
    """A v2 matcher bound to one ComputeMagics instance (removed again on unload)."""
    from IPython.core.completer import SimpleCompletion, completion_matcher

    @completion_matcher(identifier="compute_widgets.magics", priority=100, api_version=2)
    def compute_matcher(context: Any) -> dict[str, Any]:
        empty: dict[str, Any] = {"completions": [], "suppress": False}
        line = context.text_until_cursor.lstrip()
        if not line.startswith(MAGIC_PREFIXES) or context.cursor_line != 0:
            return empty
        try:
            words, current = split_for_completion(line)
            if words[0] == "%%compute":
                candidates = cell_candidates(magics, words[1:], current)
            else:
                candidates = candidates_for(magics, words[1:], current)
        except Exception:  # completion must never raise into the frontend
            return empty
        matches = sorted({c for c in candidates if c.startswith(current)})
        if not matches:
            return empty
        return {
            "completions": [SimpleCompletion(c, type="compute") for c in matches],
            "matched_fragment": current,
            "suppress": True,
        }

    return compute_matcher


def split_for_completion(line: str) -> tuple[list[str], str]:
    """`%compute np scale cc1 n` -> (["%compute", "np", "scale", "cc1"], "n")."""
    words = line.split()
    if line.endswith((" ", "\t")):
        return words, ""
    return words[:-1], words[-1]


def cell_candidates(magics: Any, words: list[str], current: str) -> list[str]:
    """The `%%compute` line: its options, and cluster IDs after --cluster."""
    if words and words[-1] == "--cluster":
        return ids_for(magics, "cluster", [], [])
    return ["--dry-run", "--apply", "--cluster", "--help"]


def candidates_for(magics: Any, words: list[str], current: str) -> list[str]:
    """What may follow `%compute <words...>` (current = the word being typed)."""
    if not words:
        if current.startswith("-"):
            return ["--help"]
        return command_names(with_aliases=True)
    cmd = find_command(words[0])
    if cmd is None:
        return []
    rest = words[1:]
    verb = None
    if cmd.verbs:
        if not rest:
            if current.startswith("-"):
                return ["--help"]
            return [n for v, a in cmd.verbs.items() for n in (v, *a)]
        verb = cmd.verb_for(rest[0])
        if verb is None:
            return []
        rest = rest[1:]
    if rest and rest[-1] in _OPTION_VALUES:
        return ids_for(magics, _OPTION_VALUES[rest[-1]], [], [])
    choices = option_choices(cmd, verb, rest[-1] if rest else None)
    if choices is not None:
        return choices
    if current.startswith("-"):
        return option_strings(cmd, verb)
    positionals = [w for w in rest if not w.startswith("-")]
    kinds = _POSITIONALS.get((cmd.name, verb), [])
    if len(positionals) >= len(kinds):
        return []
    return ids_for(magics, kinds[len(positionals)], positionals, kinds)


def _parser(cmd: Any, verb: str | None) -> Any:
    from compute_widgets.magics.dispatch import build_parser

    return build_parser(cmd, verb)


def option_strings(cmd: Any, verb: str | None) -> list[str]:
    parser = _parser(cmd, verb)
    return [
        s
        for action in parser._actions
        if action.help != "==SUPPRESS=="
        for s in action.option_strings
        if s.startswith("--")
    ]


def option_choices(cmd: Any, verb: str | None, previous: str | None) -> list[str] | None:
    """Choices of the option just typed (`--kind <TAB>`), or None if it has none."""
    if not previous or not previous.startswith("--"):
        return None
    for action in _parser(cmd, verb)._actions:
        if previous in action.option_strings and action.choices:
            return [str(c) for c in action.choices]
    return None


def ids_for(magics: Any, kind: str, positionals: list[str], kinds: list[str]) -> list[str]:
    """IDs of `kind`; a nodepool slot reads its cluster from the line's cluster slot."""
    if kind == "wizard_what":
        return list(_WIZARD_WHAT)
    if kind == "traffic":  # the built-in patterns (a file path is typed, not completed)
        from compute_widgets.magics.cmd_recommend import PATTERNS

        return list(PATTERNS)
    if kind == "context":  # the Clarifai CLI's contexts: a local file, no client needed
        from compute_widgets.api.contexts import read_contexts

        return list(read_contexts().contexts)
    client = magics.current_client()
    if client is None:
        return []
    if kind == "cluster":
        return magics.cached_ids(("clusters",), lambda: [c.id for c in client.list_clusters()])
    if kind == "nodepool":
        slot = kinds.index("cluster") if "cluster" in kinds else -1
        cc = positionals[slot] if 0 <= slot < len(positionals) else magics.default_cluster
        if not cc:
            return []
        return magics.cached_ids(
            ("nodepools", cc), lambda: [n.id for n in client.list_nodepools(cc)]
        )
    if kind == "nodepool_any":
        return magics.cached_ids(
            ("nodepools", ""), lambda: sorted({n.id for n in client.list_nodepools(None)})
        )
    if kind == "deployment":
        return magics.cached_ids(("deployments",), lambda: [d.id for d in client.list_deployments()])
    return []

