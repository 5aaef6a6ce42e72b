"""Clarifai CLI YAML config files <-> models (clarifai-api.md §5.2).

A file that works with ``clarifai computecluster|nodepool|deployment create --config FILE``
loads here, and `dump_config` writes files in the same format (same keys, integer enums, the
keys the SDK asserts on always present), so they work with the CLI.

    compute_cluster:            nodepool:                      deployment:
      cloud_provider: {id: aws}   instance_types: [{id: ...}]    worker: {model: {...}}
      region: us-east-1           node_capacity_type: ...        nodepools: [{id, compute_cluster}]
      ...                         min_instances / max_instances  autoscale_config: {...}

Differences from the official SDK, all on the side of saying more:

* an unknown key is an error naming the key path, the line and the closest valid keys
  (the SDK raises a bare protobuf ValueError);
* type errors and the business rules of api/models.py are reported the same way, all at once:
  ``nodepool.yaml line 7: nodepool.min_instances (3) is above nodepool.max_instances (1): ...``;
* several documents (``---``) may sit in one text (a notebook cell): `load_documents` returns
  them in dependency order (clusters, nodepools, deployments) and fills the obvious links
  (a nodepool's compute_cluster, a deployment nodepool's compute_cluster) from the others.

Create-or-update lives here too, so Python and the `%%compute` magic share one engine:

    plan = plan_config(client, "stack.yaml")   # read-only: Plan of creates/updates/unchanged
    plan                                       # a table in a notebook; plan.problems if any
    apply_config(client, plan)                 # writes in dependency order -> [Applied]

Nothing is written unless every document passes (rules, parents and names checked against
the server); a write failing half-way raises ApplyError saying what was already done.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from compute_widgets.api.errors import ApiError, ComputeError, InvalidInput, Problem
from compute_widgets.api.models import (
    CapacityType,
    ComputeCluster,
    Deployment,
    DeploymentNodepool,
    DeploymentStatus,
    Gettable,
    Key,
    ModelRef,
    ModelVersion,
    Nodepool,
    SchedulingChoice,
    WireModel,
)

__all__ = [
    "KINDS",
    "Applied",
    "ApplyError",
    "ConfigError",
    "Plan",
    "PlanItem",
    "Wording",
    "apply_config",
    "dump_config",
    "load_config",
    "load_documents",
    "plan_config",
]

# top key -> model, in dependency order
KINDS: dict[str, type[WireModel]] = {
    "compute_cluster": ComputeCluster,
    "nodepool": Nodepool,
    "deployment": Deployment,
}
_KIND_OF = {cls: kind for kind, cls in KINDS.items()}

# Real proto fields we do not model: the SDK accepts them, so we accept (and ignore) them too.
_PROTO_ONLY: dict[type[WireModel], frozenset[str]] = {
    Deployment: frozenset({"email_reminder_after"}),
    DeploymentNodepool: frozenset({"nodepool"}),
    Key: frozenset({"apps", "authorized_idp_ids", "created_at", "endpoints", "expires_at",
                    "organization_id", "scopes", "type"}),
    ModelRef: frozenset({
        "billing_type", "bookmark_origin", "check_consents", "created_at", "creator",
        "default_eval_info", "deploy_restriction", "description", "display_name", "featured_order",
        "image", "is_starred", "languages", "languages_full", "license_type", "metadata",
        "model_type_id", "modified_at", "name", "notes", "open_router_info", "output_info",
        "presets", "replica_count", "source", "star_count", "task", "toolkits", "use_cases",
        "version_count", "visibility", "workflow_recommended"}),
    ModelVersion: frozenset({
        "active_concept_count", "app_id", "build_info", "completed_at", "created_at",
        "description", "import_info", "inference_compute_info", "input_info", "license",
        "metadata", "method_signatures", "metrics", "modified_at", "num_threads", "output_info",
        "pretrained_model_config", "special_handling", "status", "total_input_count",
        "train_info", "train_log", "user_id", "visibility"}),
}

# Keys that used to exist: say what replaced them.
_RENAMED: dict[str, str] = {
    "enable_packing": "removed in 12.x); use disable_packing (the opposite: enable_packing: true "
                      "is disable_packing: false",
}

# Keys the official SDK asserts on (create from --config); dump_config always writes them.
_SDK_REQUIRED: dict[str, tuple[str, ...]] = {
    "compute_cluster": ("cloud_provider", "region", "managed_by", "cluster_type"),
    "nodepool": ("instance_types", "node_capacity_type", "min_instances", "max_instances"),
    "deployment": ("autoscale_config", "worker", "scheduling_choice", "nodepools"),
}

# Never written to a config file: timestamps and live state the server owns (protobuf
# constructors, which the SDK feeds the YAML into, cannot take RFC 3339 strings anyway), and
# the cluster's key, which holds a PAT. Everything else is kept, so a dump loads back unchanged.
_NOT_IN_CONFIG: dict[type[WireModel], frozenset[str]] = {
    ComputeCluster: frozenset({"created_at", "modified_at", "key"}),
    Nodepool: frozenset({"created_at", "modified_at", "node_count", "status"}),
    Deployment: frozenset({"created_at", "modified_at", "deployment_metrics"}),
}


class ConfigError(InvalidInput):
    """A config file/text failed: every problem names the file, the line and the key path.

    `file` is the name given (path or "<cell>"), `line` the first problem's line (1-based, 0 when
    unknown), `lines` one per problem; `problems[i].field` is the full key path.
    """

    def __init__(self, problems: Iterable[Problem], *, file: str = "", lines: Iterable[int] = ()):
        super().__init__(list(problems))
        self.file = file
        self.lines: list[int] = list(lines) or [0] * len(self.problems)
        self.line: int = self.lines[0] if self.lines else 0


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def load_config(path_or_text: str | os.PathLike[str], *, check: bool = True,
                name: str | None = None) -> dict[str, WireModel]:
    """Read one Clarifai CLI config (file path or YAML text) -> {"nodepool": Nodepool, ...}.

    With `check` (default) the business rules of api/models.py apply too, except what a
    command line supplies (ids; a deployment's nodepools and their clusters, as in
    `clarifai deployment create NP_ID DEP_ID --config FILE`). Type errors and unknown keys
    always raise. Raises ConfigError; an empty text is an error.
    """
    text, name = _read(path_or_text, name)
    docs = _load(text, name)
    if check:
        _raise_rules(docs, name)
    out: dict[str, WireModel] = {}
    for kind, model, line, _ in docs:
        if kind in out:
            raise ConfigError([Problem(kind, f"{name} line {line}: a second {kind}: put one "
                                             f"{kind} per file, or read it with load_documents()")],
                              file=name, lines=[line])
        out[kind] = model
    return out


def load_documents(text: str | os.PathLike[str], *, check: bool = False, link: bool = True,
                   name: str | None = None) -> list[tuple[str, WireModel]]:
    """Every resource of a multi-document YAML text (`---`), in dependency order.

    Clusters come first, then nodepools, then deployments (each group in file order), so a
    caller can create them one after the other. With `link`, a nodepool without
    `compute_cluster` gets the only cluster of the text, and a deployment nodepool without
    `compute_cluster.id` gets the cluster of the nodepool with that id in the text.

    An empty text gives []. Type errors and unknown keys raise ConfigError; the business rules
    only with `check=True` (as in load_config), since a caller such as `%%compute` fills in
    parents from its own options first and validates afterwards.
    """
    return [(d.kind, d.model) for d in _documents(text, name, check=check, link=link)[1]]


@dataclass
class _Located:
    """A document with where it came from: its place in the text and its key lines."""

    kind: str
    model: WireModel
    position: int  # 1-based, in text order
    line: int
    lines: dict[str, int]  # key path -> line


def _documents(text: str | os.PathLike[str], name: str | None, *, check: bool = False,
               link: bool = True) -> tuple[str, list[_Located]]:
    """load_documents' work, keeping the text's name and each document's position and lines."""
    text, name = _read(text, name)
    docs = _load(text, name, empty_ok=True)
    if link:
        _link(docs)
    if check:
        _raise_rules(docs, name)
    located = [_Located(kind, model, i, line, index)
               for i, (kind, model, line, index) in enumerate(docs, start=1)]
    order = list(KINDS)
    located.sort(key=lambda d: order.index(d.kind))  # stable: file order inside a kind
    return name, located


def _read(source: str | os.PathLike[str], name: str | None) -> tuple[str, str]:
    if isinstance(source, os.PathLike) or (
        isinstance(source, str) and "\n" not in source and source.strip().endswith((".yaml", ".yml"))
    ):
        path = Path(source)
        try:
            return path.read_text(encoding="utf-8"), name or str(source)
        except OSError as exc:
            raise ConfigError([Problem("", f"{source}: cannot read the config file "
                                           f"({exc.strerror or exc})")], file=str(source)) from None
    return str(source), name or "<config>"


_Doc = tuple[str, WireModel, int, dict[str, int]]  # kind, model, line, key path -> line


def _load(text: str, name: str, empty_ok: bool = False) -> list[_Doc]:
    """Parse, reject unknown keys and wrong types; (kind, model, line, index) in file order."""
    try:
        parsed = _parse(text)
    except yaml.YAMLError as exc:
        raise _syntax_error(exc, name) from None
    except _Refused as exc:
        raise ConfigError([Problem("", f"{name} line {exc.line}: {exc.message}")],
                          file=name, lines=[exc.line]) from None
    problems: list[tuple[Problem, int]] = []
    docs: list[_Doc] = []
    seen_any = False
    for data, node in parsed:
        if data is None:
            continue  # an empty document (e.g. a trailing ---)
        seen_any = True
        doc_line = node.start_mark.line + 1
        if not isinstance(data, dict):
            problems.append((Problem("", f"{name} line {doc_line}: expected a top key "
                                         "compute_cluster:, nodepool: or deployment:, "
                                         f"got {type(data).__name__}"), doc_line))
            continue
        local: dict[str, int] = {}
        _index_node(node, "", local)
        doc_problems: list[Problem] = []
        for key, value in data.items():
            kind = _snake(str(key))
            if kind not in KINDS:
                doc_problems.append(_unknown_top_key(str(key), data))
                continue
            cls = KINDS[kind]
            if not isinstance(value, dict):
                doc_problems.append(Problem(kind, f"{kind} must be a mapping of fields (indent them "
                                                  f"under {kind}:), got {_short(value)}"))
                continue
            found = _unknown_keys(value, cls, kind)
            try:
                model = cls.from_wire(value)
            except InvalidInput as exc:
                found += [_prefixed(p, kind) for p in exc.problems]
            else:
                docs.append((kind, model, local.get(kind, doc_line), local))
            doc_problems += found
        problems += [(p, _line_of(local, p.field, doc_line)) for p in doc_problems]
    if not seen_any and not empty_ok:
        problems.append((Problem("", f"{name}: the config is empty: expected a top key "
                                     "compute_cluster:, nodepool: or deployment:"), 0))
    if problems:
        raise _config_error(problems, name)
    return docs


def _parse(text: str) -> list[tuple[Any, yaml.Node]]:
    """Each document as (data, node): one parse, the nodes keep the line numbers."""
    loader = _StrictLoader(text)
    try:
        out = []
        while loader.check_node():
            node = loader.get_node()
            out.append((loader.construct_document(node), node))
        return out
    finally:
        loader.dispose()


# ---- a YAML reader that cannot hang or surprise --------------------------------------------------

# Aliases are legal YAML and handy in a multi-document cell, but each reference copies its
# anchor's whole subtree: 7 levels of 10 references turn 448 bytes into 10^7 values (a
# "billion laughs"), which the walks after parsing (line index, models, JSON) would expand.
# Clarifai's own example configs use no alias at all, so a small budget costs nothing.
MAX_ALIAS_NODES = 10_000
MAX_DEPTH = 64  # nesting levels; PyYAML's composer recurses and a deep text hits RecursionError
_MAX_INT_DIGITS = 4000  # below Python's int-from-text limit (4300), which raises ValueError


class _Refused(Exception):
    """A YAML text we refuse to read, at a 1-based line."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses, with the line: duplicate keys (YAML keeps the last one
    silently), an alias inside its own anchor (a cycle: RecursionError in every walk),
    aliases that expand to more than MAX_ALIAS_NODES nodes, nesting deeper than MAX_DEPTH."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._open: dict[str, int] = {}  # anchors being composed -> their line
        self._sizes: dict[int, int] = {}  # id(node) -> nodes in its subtree (aliases expanded)
        self._expanded = 0  # nodes produced by alias references so far
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            line = event.start_mark.line + 1
            if event.anchor in self._open:
                raise _Refused(line, f"the alias *{event.anchor} is inside its own anchor "
                                     f"&{event.anchor} (line {self._open[event.anchor]}), which "
                                     "makes the value contain itself: write the values out")
            node = super().compose_node(parent, index)
            self._expanded += self._size(node)
            if self._expanded > MAX_ALIAS_NODES:
                raise _Refused(line, f"the text uses YAML aliases (*{event.anchor}) that expand "
                                     f"to more than {MAX_ALIAS_NODES:,} nodes: write the values "
                                     "out instead of repeating aliases")
            return node
        event = self.peek_event()
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _Refused(event.start_mark.line + 1, f"the text is nested more than {MAX_DEPTH} "
                                                      "levels deep: flatten it")
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            self._open[anchor] = event.start_mark.line + 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1
            if anchor is not None:
                self._open.pop(anchor, None)

    def _size(self, node: yaml.Node) -> int:
        """Nodes in `node` with aliases expanded; memoized, so linear in the text (no cycles:
        compose_node refused them)."""
        known = self._sizes.get(id(node))
        if known is not None:
            return known
        if isinstance(node, yaml.MappingNode):
            size = 1 + sum(self._size(k) + self._size(v) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            size = 1 + sum(self._size(v) for v in node.value)
        else:
            size = 1
        self._sizes[id(node)] = size
        return size

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *base` then overriding a key of base is what merge keys are for
            key = self.construct_object(key_node, deep=False)
            line = key_node.start_mark.line + 1
            try:
                first = seen.get(key)
                seen.setdefault(key, line)
            except TypeError:
                continue  # an unhashable key: SafeLoader reports it
            if first is not None:
                raise _Refused(line, f"the key {_short(key)} appears twice in one mapping (first "
                                     f"on line {first}); YAML would silently keep the second: "
                                     "keep one")
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        digits = sum(c.isdigit() for c in str(node.value))
        if digits > _MAX_INT_DIGITS:
            raise _Refused(node.start_mark.line + 1, f"a number with {digits:,} digits: write "
                                                     "a number that fits its field")
        return super().construct_yaml_int(node)


_StrictLoader.add_constructor("tag:yaml.org,2002:int", _StrictLoader.construct_yaml_int)


# Empty in a file is fine when a command line supplies it (ids are skipped by require_id=False).
_SUPPLIED_ELSEWHERE = re.compile(
    r"^deployment\.(nodepools|(deployment_)?nodepools\[\d+\]\.compute_cluster\.id)$")


def _raise_rules(docs: list[_Doc], name: str) -> None:
    """The business rules of api/models.py, each problem located at its key's line."""
    problems = [(p, _line_of(index, p.field, line))
                for kind, model, line, index in docs
                for p in model._all_problems(kind + ".", False)
                if not (_SUPPLIED_ELSEWHERE.match(p.field) and " is empty" in p.message)]
    if problems:
        raise _config_error(problems, name)


def _config_error(problems: list[tuple[Problem, int]], name: str) -> ConfigError:
    located = []
    for p, line in problems:
        msg = p.message if p.message.startswith(name) else (
            f"{name} line {line}: {p.message}" if line else f"{name}: {p.message}")
        located.append(Problem(p.field, msg))
    return ConfigError(located, file=name, lines=[line for _, line in problems])


def _syntax_error(exc: yaml.YAMLError, name: str) -> ConfigError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else 0
    what = " ".join(filter(None, [getattr(exc, "context", None), getattr(exc, "problem", None)]))
    what = what or str(exc).splitlines()[0]
    hint = "check the indentation of this line and the one above (spaces, same depth for keys " \
           "of one mapping) and the ': ' after each key"
    if "found character '\\t'" in what or "\t" in what:
        hint = "replace the tab characters with spaces"
    msg = f"{name} line {line}: not valid YAML ({what}): {hint}"
    return ConfigError([Problem("", msg)], file=name, lines=[line])


def _index_node(node: yaml.Node, path: str, out: dict[str, int]) -> None:
    """key path ("nodepool.instance_types[0].id", snake_case) -> 1-based line of that key."""
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = _snake(str(key_node.value))
            sub = f"{path}.{key}" if path else key
            out.setdefault(sub, key_node.start_mark.line + 1)
            if key != key_node.value:  # the camelCase spelling too, for "same field" problems
                out.setdefault(f"{path}.{key_node.value}" if path else str(key_node.value),
                               key_node.start_mark.line + 1)
            _index_node(value_node, sub, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            sub = f"{path}[{i}]"
            out.setdefault(sub, item.start_mark.line + 1)
            _index_node(item, sub, out)


def _line_of(index: dict[str, int], field: str, default: int) -> int:
    """Line of `field`, or of its closest ancestor present in the file."""
    while field:
        if field in index:
            return index[field]
        cut = max(field.rfind("."), field.rfind("["))
        field = field[:cut] if cut > 0 else ""
    return default


def _prefixed(p: Problem, kind: str) -> Problem:
    field = f"{kind}.{p.field}" if p.field and p.field != kind else kind
    msg = p.message
    if p.field and msg.startswith(p.field) and p.field != kind:
        msg = f"{kind}.{msg}"
    return Problem(field, msg)


# ---- unknown keys ------------------------------------------------------------------------------


def _valid_keys(cls: type[WireModel]) -> dict[str, str]:
    """key as written (snake or camel) -> field name."""
    return {k: v for k, v in cls._key_to_name.items() if v in cls.model_fields}


def _unknown_keys(data: dict[str, Any], cls: type[WireModel], path: str) -> list[Problem]:
    out = []
    keys = _valid_keys(cls)
    extras = _PROTO_ONLY.get(cls, frozenset())
    spelled: dict[str, str] = {}  # field name -> the key that set it first
    for key, value in data.items():
        key = str(key)
        name = keys.get(key)
        if name is None:
            if key in extras or _snake(key) in extras:
                continue
            out.append(_unknown_key(key, cls, path))
            continue
        first = spelled.setdefault(name, key)
        if first != key:  # `maxInstances:` and `max_instances:`: one field, two values
            out.append(Problem(f"{path}.{key}", f"{path}.{first} and {path}.{key} are the same "
                                                "field (camelCase and snake_case): keep one"))
        sub = cls._model_fields.get(name)
        if sub is None:
            continue
        if isinstance(value, dict):
            out += _unknown_keys(value, sub, f"{path}.{cls._plan[name][0]}")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, dict):
                    out += _unknown_keys(item, sub, f"{path}.{cls._plan[name][0]}[{i}]")
    return out


def _unknown_key(key: str, cls: type[WireModel], path: str) -> Problem:
    field = f"{path}.{key}"
    snake = _snake(key)
    if snake in _RENAMED:
        return Problem(field, f"{field} is not a Clarifai field ({_RENAMED[snake]})")
    valid = [cls._plan[n][0] for n in cls.model_fields]
    where = _fields_named(snake, cls)
    close = _closest(snake, valid)
    if where:
        hint = f"it belongs under {where[0]} (indent it there)"
    elif close:
        hint = "did you mean " + " or ".join(close) + "?"
    else:
        hint = "valid keys here: " + ", ".join(valid)
    return Problem(field, f"{field} is not a Clarifai field: {hint}")


def _closest(word: str, choices: list[str]) -> list[str]:
    """The best match(es) only: `min_instance` -> [min_instances], not every *_instances."""
    scored = sorted(((difflib.SequenceMatcher(None, word, c).ratio(), c) for c in choices),
                    reverse=True)
    if not scored or scored[0][0] < 0.6:
        return []
    return [c for r, c in scored[:3] if r >= scored[0][0] - 0.03]


def _fields_named(key: str, cls: type[WireModel], prefix: str = "", depth: int = 0) -> list[str]:
    """Where below `cls` a field called `key` exists (for "it belongs under X" hints)."""
    found = []
    for name, sub in cls._model_fields.items():
        wire = cls._plan[name][0]
        if key in sub.model_fields:
            found.append(f"{prefix}{wire}:")
        if depth < 2:
            found += _fields_named(key, sub, f"{prefix}{wire}.", depth + 1)
    return found


def _unknown_top_key(key: str, data: dict[str, Any]) -> Problem:
    snake = _snake(key)
    owners = [k for k, cls in KINDS.items() if snake in cls.model_fields and k in data]
    if owners:
        hint = f"it is a field of {owners[0]}: indent it under {owners[0]}:"
    else:
        close = _closest(snake, list(KINDS))
        hint = (f"did you mean {close[0]}?" if close
                else "use compute_cluster:, nodepool: or deployment:")
    return Problem(key, f"{key} is not a top key of a Clarifai config: {hint}")


def _link(docs: list[_Doc]) -> None:
    clusters = [m for k, m, _, _ in docs if k == "compute_cluster"]
    pools = {m.id: m for k, m, _, _ in docs if k == "nodepool" and m.id}
    if len(clusters) == 1:
        for kind, model, _, _ in docs:
            if kind == "nodepool" and model.compute_cluster is None:
                model.compute_cluster = ComputeCluster(id=clusters[0].id, user_id=clusters[0].user_id)
    for kind, model, _, _ in docs:  # after the nodepools, whatever the order in the text
        if kind == "deployment":
            for np_ in model.nodepools:
                parent = pools.get(np_.id)
                if not np_.compute_cluster_id and parent is not None and parent.compute_cluster:
                    np_.compute_cluster = ComputeCluster(id=parent.compute_cluster.id,
                                                         user_id=parent.compute_cluster.user_id)
            for dn in model.deployment_nodepools:
                parent = pools.get(dn.id)
                if not dn.compute_cluster.id and parent is not None and parent.compute_cluster:
                    dn.compute_cluster = ComputeCluster(id=parent.compute_cluster.id,
                                                        user_id=parent.compute_cluster.user_id)


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "…"


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """Block mappings, but short lists of scalars inline: `capacity_types: [2, 1]`."""


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    flow = all(not isinstance(v, dict | list) for v in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


# Characters YAML readers fold or reject when written raw (NEL, line/paragraph separators,
# controls, BOM): such strings are written double-quoted, where the emitter escapes them.
_NEEDS_ESCAPE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff\ud800-\udfff]")


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    style = '"' if _NEEDS_ESCAPE.search(data) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(list, _represent_list)
_Dumper.add_representer(str, _represent_str)

_ENUM_COMMENTS = {"gettable": Gettable, "scheduling_choice": SchedulingChoice,
                  "capacity_types": CapacityType, "status": DeploymentStatus}


def dump_config(model: WireModel | Iterable[WireModel]) -> str:
    """YAML in the Clarifai CLI format for a cluster, nodepool or deployment (or several).

    Same keys as the official SDK reads, integer enums (with their names as comments), the keys
    it asserts on always present, output-only fields and the cluster's secret key left out.
    Several models give several documents, in dependency order.
    """
    models = [model] if isinstance(model, WireModel) else list(model)
    order = list(KINDS)
    parts = []
    for m in sorted(models, key=lambda m: order.index(_kind_of(m))):
        kind = _kind_of(m)
        parts.append(_annotate(yaml.dump({kind: _config_dict(m, kind)}, Dumper=_Dumper,
                                         sort_keys=False, allow_unicode=True, width=100)))
    return "---\n".join(parts)


def _kind_of(model: WireModel) -> str:
    kind = _KIND_OF.get(type(model))
    if kind is None:
        raise TypeError(f"dump_config takes a ComputeCluster, Nodepool or Deployment, "
                        f"not {type(model).__name__}")
    return kind


def _config_dict(model: WireModel, kind: str) -> dict[str, Any]:
    cls = type(model)
    wire = _scrub(model.to_wire(omit_empty_lists=True), cls)
    out: dict[str, Any] = {}
    for name in cls.model_fields:  # field order, with the keys the SDK asserts on filled in
        key = cls._plan[name][0]
        if key in wire:
            out[key] = wire[key]
        elif key in _SDK_REQUIRED[kind]:
            out[key] = _zero_for(cls, name)
    return out


def _scrub(wire: dict[str, Any], cls: type[WireModel]) -> dict[str, Any]:
    """Drop _NOT_IN_CONFIG fields at every level (nested clusters carry keys too)."""
    drop = _NOT_IN_CONFIG.get(cls, frozenset())
    out = {}
    for key, value in wire.items():
        if key in drop:
            continue
        sub = cls._model_fields.get(cls._key_to_name.get(key, ""))
        if sub is not None and isinstance(value, dict):
            value = _scrub(value, sub)
        elif sub is not None and isinstance(value, list):
            value = [_scrub(v, sub) if isinstance(v, dict) else v for v in value]
        out[key] = value
    return out


def _zero_for(cls: type[WireModel], name: str) -> Any:
    """An explicit empty value for a key the SDK asserts on (it indexes into some of them)."""
    if cls._plan[name][2]:
        return []
    if name == "node_capacity_type":
        return {"capacity_types": []}  # the SDK reads node_capacity_type['capacity_types']
    if name == "cloud_provider":
        return {"id": ""}
    if name in cls._model_fields:
        return {}
    default = cls.model_fields[name].default
    return int(default) if isinstance(default, int) else default


def _annotate(text: str) -> str:
    """`gettable: 10` -> `gettable: 10  # PRIVATE`: integers on the wire, names for people."""
    def comment(m: re.Match[str]) -> str:
        enum = _ENUM_COMMENTS[m.group(2)]
        raw = m.group(3)
        values = [int(v) for v in re.findall(r"-?\d+", raw)]
        names = [enum(v).name for v in values]
        return f"{m.group(0)}  # {', '.join(names)}" if names else m.group(0)

    return re.sub(r"(?m)^(\s*)(gettable|scheduling_choice|capacity_types|status): (\[[\d, ]*\]|\d+)$",
                  comment, text)


# --------------------------------------------------------------------------------------------
# Planning and applying: create-or-update a multi-document config against a server
# --------------------------------------------------------------------------------------------

_LABEL = {"compute_cluster": "compute cluster", "nodepool": "nodepool", "deployment": "deployment"}


@dataclass(frozen=True)
class Wording:
    """How a problem tells the caller to change its call: Python names by default, the
    `%%compute` magic passes its own options (the rule is the same, the spelling differs)."""

    text: str = "config"  # what holds the documents
    update: str = "plan_config(..., update=True)"  # how to allow updates of what exists
    cluster: str = "or pass `cluster='CC'`"  # the other ways to name a nodepool's cluster
    retry: str = "fix the config and apply it again"


@dataclass
class PlanItem:
    """One resource of a plan: what the config asks for and what the server has now."""

    kind: str  # compute_cluster | nodepool | deployment
    model: Any  # the resource to write (parents filled in)
    position: int  # 1-based, in the text
    line: int = 0
    cluster: str = ""  # nodepools: the parent cluster
    current: Any = None  # the resource as the server has it (None: does not exist)
    problems: list[str] = dataclasses.field(default_factory=list)
    lines: dict[str, int] = dataclasses.field(default_factory=dict, repr=False)

    @property
    def exists(self) -> bool:
        return self.current is not None

    @property
    def action(self) -> str:
        """`create` or `update` (an update whose fields all match is also `unchanged`)."""
        return "update" if self.exists else "create"

    @property
    def changes(self) -> list[str]:
        """Top-level keys an update rewrites with a different value ([] for a create)."""
        if not self.exists:
            return []
        new, old = _config_dict(self.model, self.kind), _config_dict(self.current, self.kind)
        return [k for k in new if k not in ("id", "user_id") and not _covers(old.get(k), new[k])]

    @property
    def unchanged(self) -> bool:
        return self.exists and not self.changes

    @property
    def name(self) -> str:
        where = f" in {self.cluster}" if self.kind == "nodepool" and self.cluster else ""
        return f"{_LABEL[self.kind]} {self.model.id!r}{where}"


def _covers(current: Any, wanted: Any) -> bool:
    """Does the server's value hold what the config asks for? Mappings compare on the config's
    keys only: the server fills in more of a reference (an instance type's price, a parent's
    cloud) than a config writes."""
    if isinstance(wanted, dict):
        return isinstance(current, dict) and all(_covers(current.get(k), v) for k, v in wanted.items())
    if isinstance(wanted, list):
        return (isinstance(current, list) and len(current) == len(wanted)
                and all(_covers(c, w) for c, w in zip(current, wanted, strict=True)))
    return current == wanted


@dataclass
class Plan:
    """What `apply_config` would do, in dependency order (clusters, nodepools, deployments).

    `creates`, `updates`, `unchanged` split the items; `problems` lists every reason the
    config cannot be applied ("document 2 (nodepool 'gpu' in demo): ..."), empty when it can.
    Shown in a notebook as a table; `check()` raises ConfigError when there are problems.
    """

    items: list[PlanItem]
    update: bool  # may existing resources be updated (else they are problems)
    file: str = "<config>"
    wording: Wording = dataclasses.field(default_factory=Wording, repr=False)

    @property
    def problems(self) -> list[str]:
        return [f"document {i.position} ({i.name}): {p}" for i in self.items for p in i.problems]

    @property
    def creates(self) -> list[PlanItem]:
        return [i for i in self.items if not i.exists]

    @property
    def updates(self) -> list[PlanItem]:
        return [i for i in self.items if i.exists and not i.unchanged]

    @property
    def unchanged(self) -> list[PlanItem]:
        return [i for i in self.items if i.unchanged]

    def check(self) -> Plan:
        """The plan itself, or ConfigError naming every problem with its document and line."""
        if self.problems:
            raise ConfigError(
                [Problem(i.kind, f"document {i.position} ({i.name}): {p}")
                 for i in self.items for p in i.problems],
                file=self.file,
                lines=[i.line for i in self.items for _ in i.problems],
            )
        return self

    def rows(self) -> list[dict[str, Any]]:
        rows = []
        for i in self.items:
            if i.problems:
                what = "problem: " + "; ".join(i.problems)
            elif not i.exists:
                what = "create"
            elif i.unchanged:
                what = "unchanged"
            else:
                what = "update " + ", ".join(i.changes)
            rows.append({"kind": i.kind, "id": i.model.id, "cluster": i.cluster, "plan": what})
        return rows

    def summary(self) -> str:
        if self.problems:
            return f"cannot apply: {len(self.problems)} problem(s)"
        return (f"{len(self.creates)} to create, {len(self.updates)} to update, "
                f"{len(self.unchanged)} unchanged")

    def __repr__(self) -> str:
        lines = [f"Plan({self.file}: {self.summary()})"]
        lines += [f"  {r['plan']}: {r['kind']} {r['id']!r}" + (f" in {r['cluster']}" if r["cluster"]
                                                               and r["kind"] == "nodepool" else "")
                  for r in self.rows()]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from compute_widgets.api._frames import rows_html

        return rows_html(self.rows(), title=f"Plan for {self.file}: {self.summary()}")


@dataclass(frozen=True)
class Applied:
    """One resource `apply_config` wrote: `action` is "created" or "updated"."""

    kind: str
    id: str
    cluster: str
    action: str
    resource: Any = dataclasses.field(repr=False, default=None)


class ApplyError(ComputeError):
    """A write failed half-way (after the plan passed, e.g. a server error). `done` holds
    what was written before it (nothing is rolled back), `item` the resource that failed,
    `cause` (also `__cause__`) the original error; `file`/`line` locate its document."""

    def __init__(self, plan: Plan, item: PlanItem, done: list[tuple[Applied, str]],
                 cause: Exception) -> None:
        self.item, self.cause = item, cause
        self.done = [applied for applied, _ in done]
        self.file, self.line = plan.file, item.line
        self._done_names = [name for _, name in done]
        self._retry = plan.wording.retry
        super().__init__(self.message(str(cause)))

    def message(self, error: str) -> str:
        """The one-line message, with `error` as the failure's text (a caller may word it)."""
        already = ", ".join(self._done_names) or "nothing"
        return (f"{self.item.name} failed: {error} (done before it: {already}; nothing was "
                f"rolled back: {self._retry})")


def plan_config(client: Any, config: str | os.PathLike[str] | Plan, *, update: bool = True,
                cluster: str | None = None, default_cluster: str = "", name: str | None = None,
                wording: Wording | None = None) -> Plan:
    """What applying `config` (YAML text or a file path, several documents) would do.

    Every document is validated, and every name and parent is checked against the server
    (read-only: nothing is written). A nodepool's cluster is its own `compute_cluster: {id}`,
    else `cluster`, else the text's only compute_cluster document, else `default_cluster`; a
    deployment's nodepool refs get theirs the same way. With `update=False`, a resource that
    already exists is a problem (create-only, like `%%compute` without --apply). A cluster's
    cloud and region can never change. Problems are listed in `Plan.problems`, not raised;
    YAML that does not parse (syntax, unknown keys, wrong types) raises ConfigError.
    """
    if isinstance(config, Plan):
        return config
    wording = wording or Wording()
    file, docs = _documents(config, name)
    if not docs:
        raise ConfigError([Problem("", f"the {wording.text} holds no document: write Clarifai "
                                       "CLI YAML with a compute_cluster:, nodepool: or "
                                       "deployment: key (several documents separated by ---)")],
                          file=file)
    items = [PlanItem(d.kind, d.model, d.position, d.line, lines=d.lines) for d in docs]
    _resolve_parents(client, items, cluster, default_cluster, wording)
    _check_items(client, items, update, wording)
    return Plan(items, update=update, file=file, wording=wording)


def apply_config(client: Any, config: str | os.PathLike[str] | Plan, *,
                 on_step: Callable[[str], None] | None = None, **plan_options: Any) -> list[Applied]:
    """Create (or update) every resource of `config`, in dependency order.

    `config` is a Plan from `plan_config`, or YAML text / a path planned here first with
    `plan_options` (update=True by default). Nothing is written unless the whole plan passes
    (ConfigError listing every problem). A write that fails half-way raises ApplyError with
    what was already done; nothing is rolled back, so fix the config and apply it again.
    `on_step("creating nodepool 'gpu' in demo")` is called before each write.
    """
    plan = plan_config(client, config, **plan_options).check()
    done: list[tuple[Applied, str]] = []
    for item in plan.items:
        if on_step is not None:
            on_step(f"{'updating' if item.exists else 'creating'} {item.name}")
        try:
            resource = _write(client, item)
        except ComputeError as exc:
            raise ApplyError(plan, item, done, exc) from exc
        action = "updated" if item.exists else "created"
        done.append((Applied(item.kind, item.model.id, item.cluster, action, resource),
                     f"{action} {item.name}"))
    return [applied for applied, _ in done]


def _write(client: Any, item: PlanItem) -> Any:
    if item.kind == "compute_cluster":
        return (client.patch_cluster if item.exists else client.create_cluster)(item.model)
    if item.kind == "nodepool":
        if item.exists:
            return client.patch_nodepool(item.cluster, item.model, action="overwrite")
        return client.create_nodepool(item.cluster, item.model)
    return (client.patch_deployment if item.exists else client.create_deployment)(item.model)


def _resolve_parents(client: Any, items: list[PlanItem], given_cluster: str | None,
                     default_cluster: str, wording: Wording) -> None:
    """Fill each nodepool's cluster and each deployment's nodepool refs (explicit wins)."""
    text_clusters = [i.model.id for i in items if i.kind == "compute_cluster" and i.model.id]
    pool_owner: dict[str, str] = {}
    for item in items:
        if not item.model.id:
            item.problems.append("`id:` is missing")
        if item.kind != "nodepool":
            continue
        explicit = item.model.compute_cluster.id if item.model.compute_cluster else ""
        only = text_clusters[0] if len(text_clusters) == 1 else ""
        cc = explicit or given_cluster or only or default_cluster
        if not cc:
            how = f" (the {wording.text} has several clusters)" if len(text_clusters) > 1 else ""
            item.problems.append(
                f"which cluster{how}? add `compute_cluster: {{id: CC}}` to the nodepool, a "
                f"compute_cluster: document, {wording.cluster}"
            )
            continue
        item.cluster = cc
        item.model = item.model.model_copy(
            update={"compute_cluster": ComputeCluster(id=cc, user_id=client.user_id)})
        pool_owner.setdefault(item.model.id, cc)
    pools_in_text = [i for i in items if i.kind == "nodepool" and i.cluster]
    for item in items:
        if item.kind != "deployment":
            continue
        model = item.model
        updates: dict[str, Any] = {}
        if not model.user_id:
            updates["user_id"] = client.user_id
        refs = list(model.nodepools)
        if not refs and not model.deployment_nodepools and len(pools_in_text) == 1:
            refs = [Nodepool(id=pools_in_text[0].model.id)]
        fixed = []
        for ref in refs:
            cc = ref.compute_cluster.id if ref.compute_cluster and ref.compute_cluster.id else ""
            cc = cc or pool_owner.get(ref.id, "") or given_cluster or default_cluster
            if not cc:
                item.problems.append(
                    f"nodepool {ref.id!r}: which cluster? add `compute_cluster: {{id: CC}}` to it")
            fixed.append(ref.model_copy(
                update={"compute_cluster": ComputeCluster(id=cc, user_id=client.user_id)}))
        if refs:
            updates["nodepools"] = fixed
        item.model = model.model_copy(update=updates)


def _check_items(client: Any, items: list[PlanItem], update: bool, wording: Wording) -> None:
    """Business rules of every document, then names and parents against the server."""
    for item in items:
        item.problems.extend(p.message for p in item.model.problems())
    if any(i.problems for i in items):
        return  # fix the documents first; no server round trips for a broken config
    in_text = {("compute_cluster", i.model.id) for i in items if i.kind == "compute_cluster"}
    in_text |= {("nodepool", i.cluster, i.model.id) for i in items if i.kind == "nodepool"}
    for item in items:
        item.current = _fetch(client, item.kind, item.model.id, item.cluster)
        if item.exists and not update:
            item.problems.append(f"already exists: use `{wording.update}` to update it, or pick "
                                 "another id")
        if item.exists and item.kind == "compute_cluster":
            _keep_cluster_placement(item)
        if (item.kind == "nodepool" and ("compute_cluster", item.cluster) not in in_text
                and _fetch(client, "compute_cluster", item.cluster) is None):
            item.problems.append(f"cluster {item.cluster!r} does not exist; add a compute_cluster: "
                                 "document")
        if item.kind == "deployment":
            for ref in item.model.nodepools:
                cc = ref.compute_cluster.id if ref.compute_cluster else ""
                if ("nodepool", cc, ref.id) in in_text:
                    continue
                if _fetch(client, "nodepool", ref.id, cc) is None:
                    item.problems.append(f"nodepool {ref.id!r} does not exist in cluster {cc!r}")


def _keep_cluster_placement(item: PlanItem) -> None:
    """A cluster's cloud and region are fixed at creation: an update may not move it."""
    cur, new = item.current, item.model
    cur_cloud = cur.cloud_provider.id if cur.cloud_provider else ""
    new_cloud = new.cloud_provider.id if new.cloud_provider else ""
    if (cur_cloud, cur.region) != (new_cloud, new.region):
        item.problems.append(
            f"cloud_provider/region cannot change ({cur_cloud}/{cur.region} -> "
            f"{new_cloud}/{new.region}): create a new cluster instead"
        )
        return
    item.model = new.model_copy(update={"cloud_provider": cur.cloud_provider, "region": cur.region})


def _fetch(client: Any, kind: str, resource_id: str, cluster: str = "") -> Any:
    """The resource as the server has it, or None when it does not exist (404)."""
    try:
        if kind == "compute_cluster":
            return client.get_cluster(resource_id)
        if kind == "nodepool":
            return client.get_nodepool(cluster, resource_id)
        return client.get_deployment(resource_id)
    except ApiError as exc:
        if exc.http_status == 404:
            return None
        raise
