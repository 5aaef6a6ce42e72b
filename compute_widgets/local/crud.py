"""The state every handler gets (`Plane`: store, catalog, clock, metrics, with the lookups that
fail with the right status) and the generic CRUD of the three resource kinds (clusters,
nodepools, deployments) as plain functions: parse, check, insert, PATCH actions, delete
cascades."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from compute_widgets.api import models as m
from compute_widgets.api.errors import InvalidInput
from compute_widgets.local import store as st
from compute_widgets.local.catalog import Catalog
from compute_widgets.local.clock import Clock
from compute_widgets.local.wire import (
    OPAQUE,
    C,
    Fail,
    Rq,
    quote,
)

log = logging.getLogger("compute_widgets.local")

PROVISION_DELAY_GPU = 300.0  # s, launch -> ready (autoscaling.md §3.1: GPU 180-600 s)
PROVISION_DELAY_CPU = 120.0  # s (CPU 60-240 s)
SHARED_CLUSTER_ID = "shared-saas"


# ------------------------------------------------------------------------------------------------
# the resource kinds (one generic CRUD for clusters, nodepools, deployments)


@dataclass(frozen=True)
class Kind:
    name: str  # "compute cluster"
    key: str  # list field in requests/responses
    model: type
    not_found: int
    invalid: int  # *_INVALID_ARGUMENT
    bad_request: int  # *_INVALID_REQUEST
    actions: tuple[str, ...]
    keep: tuple[str, ...]  # kept from the stored object by every PATCH
    structural: tuple[tuple[str, ...], ...]  # kept by overwrite when absent (groups)
    immutable: tuple[str, ...] = ()
    # overwrite replaces only the fields the patch holds (deployments: what the SDK relies on);
    # False: the given object replaces the stored one (see app's PATCH rules)
    overwrite_given_only: bool = False


CLUSTER = Kind(
    "compute cluster",
    "compute_clusters",
    m.ComputeCluster,
    C.COMPUTE_CLUSTER_DOES_NOT_EXIST,
    C.COMPUTE_CLUSTER_INVALID_ARGUMENT,
    C.COMPUTE_CLUSTER_INVALID_REQUEST,
    ("overwrite",),
    ("id", "user_id", "created_at"),
    (("cloud_provider",), ("region",)),
    ("cloud_provider", "region"),
)
NODEPOOL = Kind(
    "nodepool",
    "nodepools",
    m.Nodepool,
    C.NODEPOOL_DOES_NOT_EXIST,
    C.NODEPOOL_INVALID_ARGUMENT,
    C.NODEPOOL_INVALID_REQUEST,
    ("overwrite", "merge", "remove"),
    ("id", "compute_cluster", "created_at"),
    (("instance_types",), ("node_capacity_type",)),
)
DEPLOYMENT = Kind(
    "deployment",
    "deployments",
    m.Deployment,
    C.DEPLOYMENT_DOES_NOT_EXIST,
    C.DEPLOYMENT_INVALID_ARGUMENT,
    C.DEPLOYMENT_INVALID_REQUEST,
    ("overwrite",),
    ("id", "user_id", "created_at"),
    (("worker",), ("nodepools", "deployment_nodepools")),
    overwrite_given_only=True,
)


def merge_wire(
    stored: dict[str, Any], given: dict[str, Any], parsed: dict[str, Any]
) -> dict[str, Any]:
    """`merge`: keys present in `given` (raw, snake) take their parsed value (absent from
    `parsed` = zero, so dropped); nested objects merge recursively; lists are replaced."""
    out = dict(stored)
    for k, raw in given.items():
        if k not in parsed:
            out.pop(k, None)
        elif isinstance(raw, dict) and isinstance(parsed[k], dict) and isinstance(out.get(k), dict):
            out[k] = merge_wire(out[k], raw, parsed[k])
        else:
            out[k] = parsed[k]
    return out


def _same_entry(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        if a.get("id") != b.get("id"):
            return False
        ca, cb = (
            (a.get("compute_cluster") or {}).get("id"),
            (b.get("compute_cluster") or {}).get("id"),
        )
        return not cb or ca == cb
    return a == b


def remove_wire(stored: dict[str, Any], parsed: dict[str, Any]) -> dict[str, Any]:
    """`remove`: drop the given entries of list fields and the given keys of metadata."""
    out = dict(stored)
    for k, v in parsed.items():
        cur = out.get(k)
        if isinstance(cur, list) and isinstance(v, list):
            out[k] = [x for x in cur if not any(_same_entry(x, y) for y in v)]
        elif isinstance(cur, dict) and isinstance(v, dict):
            if k in OPAQUE:
                out[k] = {kk: vv for kk, vv in cur.items() if kk not in v}
            else:
                out[k] = remove_wire(cur, v)
    return out


def overlay_wire(
    kind: Kind, stored: dict[str, Any], given: dict[str, Any], parsed: dict[str, Any]
) -> dict[str, Any]:
    """`overwrite` of a kind with `overwrite_given_only`: each top-level field present in
    `given` (raw, snake) replaces the stored one whole (absent from `parsed` = zero, so
    dropped); every other field is kept. A group (a deployment's nodepools /
    deployment_nodepools) is replaced together when one of its fields is given."""
    out = dict(stored)
    for group in kind.structural:
        if any(k in given for k in group):
            for k in group:
                out.pop(k, None)
    for k in given:
        if k in parsed:
            out[k] = parsed[k]
        else:
            out.pop(k, None)
    return out


def overwrite_wire(kind: Kind, stored: dict[str, Any], parsed: dict[str, Any]) -> dict[str, Any]:
    out = dict(parsed)
    # to_wire() keeps empty resource lists: [] means absent here. Fields of one group (a
    # deployment's nodepools / deployment_nodepools) are restored together or not at all.
    for group in kind.structural:
        if not any(out.get(k) for k in group):
            out.update({k: stored[k] for k in group if k in stored})
    return out


def merge_cascade(total: st.Cascade, part: st.Cascade) -> None:
    total.clusters += part.clusters
    total.nodepools += part.nodepools
    total.deployments += part.deployments
    total.runners += part.runners
    for dep, nps in part.detached.items():
        if dep in total.deployments:
            continue
        total.detached.setdefault(dep, []).extend(nps)
    for dep in part.deployments:
        total.detached.pop(dep, None)


def describe(c: st.Cascade) -> dict[str, Any]:
    """The status of a delete, saying exactly what went."""
    parts = []
    if c.clusters:
        parts.append(
            f"{'compute cluster' if len(c.clusters) == 1 else 'compute clusters'} {quote(c.clusters)}"
        )
    if c.nodepools:
        parts.append(
            f"{'nodepool' if len(c.nodepools) == 1 else 'nodepools'} {quote(f'{cc}/{np}' for cc, np in c.nodepools)}"
        )
    if c.deployments:
        parts.append(
            f"{'deployment' if len(c.deployments) == 1 else 'deployments'} {quote(c.deployments)} (no nodepool left)"
        )
    if c.runners:
        parts.append(f"{'runner' if len(c.runners) == 1 else 'runners'} {quote(c.runners)}")
    text = "Deleted " + ", ".join(parts) + "."
    for dep, nps in c.detached.items():
        text += f" Deployment '{dep}' no longer uses nodepool {quote(nps)}."
    return {"code": C.SUCCESS, "description": text}


@dataclass
class Plane:
    """What every handler gets first: the state (store, catalog, clock, the metrics engine when
    attached), the shared cluster, and the lookups that fail with the right status. Handlers
    are plain functions ``handler(plane, rq) -> body``; the route table names them."""

    store: st.Store
    catalog: Catalog
    clock: Clock
    metrics: Any = None
    owner: str = "me"
    version: str = "0"
    serving: Any = None  # serving.Serving, set by create_app (GET /local/stats reads it)
    shared: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.shared = {
            "id": SHARED_CLUSTER_ID,
            "description": "Shared SaaS (Serverless)",
            "cloud_provider": {"id": "aws", "name": "aws"},
            "region": "us-east-1",
            "user_id": "clarifai",
            "created_at": st.rfc3339(self.store.created_at),
            "modified_at": st.rfc3339(self.store.created_at),
            "visibility": {"gettable": 50},
            "cluster_type": "shared",
            "managed_by": "clarifai",
        }

    # -- lookups ---------------------------------------------------------------------------------

    def cluster_or_fail(self, user: str, cc_id: str) -> dict[str, Any]:
        if cc_id == SHARED_CLUSTER_ID:
            return dict(self.shared)
        c = self.store.cluster_wire(user, cc_id)
        if c is None:
            raise Fail(
                C.COMPUTE_CLUSTER_DOES_NOT_EXIST,
                f"Compute cluster '{cc_id}' not found for user '{user}'.",
            )
        return c

    def nodepool_or_fail(self, user: str, cc_id: str, np_id: str) -> dict[str, Any]:
        np = self.store.nodepool_wire(user, cc_id, np_id) if cc_id != SHARED_CLUSTER_ID else None
        if np is None:
            self.cluster_or_fail(user, cc_id)
            raise Fail(
                C.NODEPOOL_DOES_NOT_EXIST,
                f"Nodepool '{np_id}' not found in compute cluster '{cc_id}'.",
            )
        return np

    def invalidate(self, user: str, cc_id: str, np_id: str) -> None:
        if self.metrics is not None:
            try:
                self.metrics.invalidate(user, cc_id, np_id)
            except Exception:  # a cache problem must not fail the write that already committed
                log.exception("metrics.invalidate failed")

    def live(self, user: str, np: dict[str, Any]) -> dict[str, Any]:
        """Add the output fields status and node_count (from the metrics engine when attached)."""
        cc_id = np["compute_cluster"]["id"]
        pinned = np.get("status")
        if self.metrics is not None:
            count, status = self.metrics.node_state(user, cc_id, np["id"])
            count, status = int(count), int(status)
        else:
            age = (self.clock.now() - datetime.fromisoformat(np["created_at"])).total_seconds()
            spec = np.get("instance_types") or [{}]
            gpu = bool((spec[0].get("compute_info") or {}).get("num_accelerators"))
            ready = age >= (PROVISION_DELAY_GPU if gpu else PROVISION_DELAY_CPU)
            status = 2 if ready else 1
            count = int(np.get("enforced_min_instances") or 0) if ready else 0
        if pinned:
            status = int(pinned)
        else:
            np.pop("status_description", None)
        np["status"] = status
        if count:
            np["node_count"] = count
        else:
            np.pop("node_count", None)
        return np


# ------------------------------------------------------------------------------------------------
# generic CRUD steps (no state: the same for the three kinds)


def parse_items(kind: Kind, items: Any, where: str) -> list[tuple[dict[str, Any], Any]]:
    """(raw snake dict, model) per item; wrong shapes and business rules -> one Fail."""
    if not isinstance(items, list) or not items:
        raise Fail(kind.invalid, f"{where}: give a non-empty list of {kind.name}s.")
    out, problems = [], []
    for i, item in enumerate(items):
        prefix = f"{where}[{i}]"
        if not isinstance(item, dict):
            problems.append(f"{prefix}: must be an object, got {type(item).__name__}")
            continue
        try:
            model = kind.model.from_wire(item)
        except InvalidInput as e:
            problems.extend(f"{prefix}: {p.message}" for p in e.problems)
            continue
        except (ValueError, TypeError, RecursionError) as e:  # odd shapes the models reject
            problems.append(f"{prefix}: {e}")
            continue
        out.append((item, model))
    if problems:
        raise Fail(kind.invalid, "; ".join(problems) + ".")
    return out


def problems_of(model: Any, prefix: str) -> list[str]:
    """The model's own business rules, each prefixed with where the item is."""
    return [f"{prefix}: {p.message}" for p in model.problems()]


def no_dupes(kind: Kind, ids: list[str]) -> None:
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            raise Fail(
                C.DATABASE_DUPLICATE_KEY,
                f"{kind.name.capitalize()} id '{i}' appears twice in this request.",
            )
        seen.add(i)


def insert(
    kind: Kind, insert_fn: Callable[[dict[str, Any]], dict[str, Any]], wire: dict[str, Any]
) -> dict[str, Any]:
    try:
        return insert_fn(wire)
    except st.DuplicateId as e:
        raise Fail(C.DATABASE_DUPLICATE_KEY, str(e)) from None
    except st.ModelConflict as e:
        raise Fail(kind.invalid, str(e)) from None


def patched(
    kind: Kind, action: str, stored: dict[str, Any], raw: dict[str, Any], model: Any
) -> dict[str, Any]:
    parsed = model.to_wire()
    if action == "merge":
        new = merge_wire(stored, raw, parsed)
    elif action == "remove":
        new = remove_wire(stored, parsed)
    elif kind.overwrite_given_only:
        new = overlay_wire(kind, stored, raw, parsed)
    else:
        new = overwrite_wire(kind, stored, parsed)
    for k in kind.keep:
        if k in stored:
            new[k] = stored[k]
        else:
            new.pop(k, None)
    for k in kind.immutable:
        if k in new and k in stored and new[k] != stored[k]:
            raise Fail(
                kind.invalid,
                f"{kind.key}[].{k}: a {kind.name}'s {k} cannot change (create a new {kind.name}).",
            )
    return new


def action_of(kind: Kind, rq: Rq) -> str:
    raw = rq.body.get("action") or "overwrite"
    action = str(raw).lower()
    if action not in kind.actions:  # Clarifai's words for PatchDeployments (clarifai/cli/model.py)
        raise Fail(
            kind.invalid,
            f"Invalid action: Unrecognized action '{str(raw)[:40]}'. action: {kind.name}s take "
            f"{' or '.join(repr(a) for a in kind.actions)}.",
        )
    return action


def ids_of(kind: Kind, rq: Rq) -> list[str]:
    ids = rq.body.get("ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids):
        raise Fail(kind.invalid, f"ids: give a non-empty list of {kind.name} ids (strings).")
    return list(dict.fromkeys(ids))
