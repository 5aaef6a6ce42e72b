"""The v2 routes of the local control plane: Clarifai's compute API on 127.0.0.1.

`create_app(store, catalog, clock, token, metrics=None)` builds the ASGI app. All routes are in
one table (`ROUTES`); every handler is a small method of `ControlPlane` that takes a parsed
`Rq` and returns the response body without its ``status``. The dispatcher adds ``status
{code, description, req_id}``, turns every failure into a Clarifai status with a matching HTTP
status, and never answers 500 for bad input. Auth, the trailing slash and the body size cap
live in one pure-ASGI middleware (`_Guard`).

Wire (clarifai-api.md §3, §8): keys snake_case or camelCase in, enum names or ints in, unknown
query keys and ``True``/``False`` ignored; out: snake_case, int enums, zero values omitted,
``[]`` for empty list fields.

Decisions where Clarifai documents nothing:

- Paging: ``page`` >= 1 (default 1), 1 <= ``per_page`` <= `MAX_PER_PAGE` (default 128;
  ListLogEntries: default 32 and the last page). Anything else is a 400 BAD_REQUEST naming the
  parameter; zero is an explicit value here, not "unset".
- Duplicate id (in the store or twice in one batch): DATABASE_DUPLICATE_KEY, HTTP 409.
- Deletes cascade (reference §6.1: the children stop working, so they go too): deleting a
  cluster deletes its nodepools; deleting a nodepool removes it from the deployments that use
  it and deletes a deployment left with no nodepool. The status description lists exactly
  what was deleted. Deleting an unknown id fails the whole request (404) before any write.
- PATCH ``action`` (default ``overwrite``):
  * ``overwrite`` (clusters, nodepools, deployments): the given object replaces the stored one.
    Kept from the stored object: id, owner, parents, created_at, and the structural fields
    the object cannot be valid without when they are absent (cluster cloud_provider/region,
    nodepool instance_types/node_capacity_type, deployment worker/nodepools). Other absent
    fields become zero (proto3: ``min_instances`` omitted means 0).
  * ``merge`` (nodepools, deployments): only the given fields change; nested objects
    (autoscale_config, metadata, visibility, ...) merge key by key; lists are replaced.
  * ``remove`` (nodepools, deployments): entries of the given list fields are removed
    (matched by id, or by value for capacity types) and given metadata keys are deleted.
  The result is validated like a create. A cluster's provider and region cannot change.
- Deployments: ``desired_worker`` in a PATCH becomes the ``worker`` (re-pin a version); one
  deployment per model (owner/app/model id, any version) per nodepool; without an
  ``autoscale_config`` the docs sample's server defaults are stored.
- Nodepool status: PENDING until provisioned (metrics.node_state when a metrics engine is
  attached; else `PROVISION_DELAY_GPU`/`PROVISION_DELAY_CPU` after create), then READY. A
  status set with PostNodepoolStatus is pinned until a status of 0 (UNKNOWN) unpins it.
- The shared cluster `SHARED_CLUSTER_ID` (Clarifai-managed) is listed first for every user;
  it cannot be patched, deleted or given nodepools.
- The body cap is `MAX_BODY` bytes (HTTP 413, CONN_BAD_REQUEST_FORMAT).
"""

from __future__ import annotations

import hmac
import json
import logging
import math
import os
import re
import sqlite3
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from compute_widgets.api import models as m
from compute_widgets.api.errors import InvalidInput, StatusCode, http_status_for
from compute_widgets.local import store as st
from compute_widgets.local.catalog import Catalog
from compute_widgets.local.clock import Clock

log = logging.getLogger("compute_widgets.local")

MAX_BODY = 1024 * 1024  # bytes
DEFAULT_PER_PAGE = 128
MAX_PER_PAGE = 1000
LOG_PER_PAGE = 32
PROVISION_DELAY_GPU = 300.0  # s, launch -> ready (autoscaling.md §3.1: GPU 180-600 s)
PROVISION_DELAY_CPU = 120.0  # s (CPU 60-240 s)
SHARED_CLUSTER_ID = "shared-saas"
DEFAULT_AUTOSCALE = {  # docs GetDeployment sample (clarifai-api.md §6.2)
    "max_replicas": 1,
    "traffic_history_seconds": 300,
    "scale_down_delay_seconds": 300,
    "scale_up_delay_seconds": 300,
    "scale_to_zero_delay_seconds": 1800,
}
C = StatusCode


class Fail(Exception):
    """A request that cannot be served: answered as status {code, description, details}."""

    def __init__(self, code: int, description: str, details: str = "", http: int | None = None):
        super().__init__(description)
        self.code = int(code)
        self.description = description
        self.details = details
        self.http = http or http_status_for(self.code)


# ------------------------------------------------------------------------------------------------
# wire helpers

_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")
_OPAQUE = frozenset({"metadata", "meta", "deployment_metrics"})  # free JSON: keys kept as sent


def snake(key: str) -> str:
    return _CAMEL.sub(r"_\1", key).lower() if not key.islower() else key


def snake_keys(obj: Any) -> Any:
    """camelCase keys -> snake_case, recursively, except inside free-JSON fields."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            k = snake(k) if isinstance(k, str) else k
            out[k] = v if k in _OPAQUE else snake_keys(v)
        return out
    if isinstance(obj, list):
        return [snake_keys(v) for v in obj]
    return obj


def _new_req_id() -> str:
    return os.urandom(8).hex()


def _dumps(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def _status_body(code: int, description: str, req_id: str, details: str = "") -> dict[str, Any]:
    status = {"code": code, "description": description, "req_id": req_id}
    if details:
        status["details"] = details
    return {"status": status}


def _error_response(f: Fail, req_id: str) -> Response:
    return Response(
        _dumps(_status_body(f.code, f.description, req_id, f.details)),
        status_code=f.http,
        media_type="application/json",
        headers={"X-Clarifai-Request-ID": req_id},
    )


def _quote(ids: Iterable[str]) -> str:
    ids = [f"'{i}'" for i in ids]
    return ids[0] if len(ids) == 1 else ", ".join(ids[:-1]) + " and " + ids[-1]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


# ------------------------------------------------------------------------------------------------
# request


@dataclass
class Rq:
    """One parsed request: path params, query (snake keys, repeated keys as lists), JSON body."""

    path: dict[str, str]
    query: dict[str, list[str]]
    body: dict[str, Any]
    user: str

    def q1(self, key: str) -> str | None:
        values = self.query.get(key)
        return values[-1] if values else None

    def int_param(self, key: str, default: int, lo: int, hi: int) -> int:
        raw = self.q1(key)
        if raw is None and key in self.body:
            raw = self.body[key]
        if raw is None or raw == "":
            return default
        try:
            value = int(str(raw).strip())
        except ValueError:
            raise Fail(
                C.BAD_REQUEST, f"{key} must be a whole number between {lo} and {hi}, got {raw!r}."
            ) from None
        if not lo <= value <= hi:
            raise Fail(C.BAD_REQUEST, f"{key} must be between {lo} and {hi}, got {value}.")
        return value

    def paging(self, default_per_page: int = DEFAULT_PER_PAGE) -> tuple[int, int]:
        page = self.int_param("page", 1, 1, 10**9)
        per_page = self.int_param("per_page", default_per_page, 1, MAX_PER_PAGE)
        return page, per_page


def _parse_query(request: Request) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for k, v in request.query_params.multi_items():
        out.setdefault(snake(k), []).append(v)
    return out


async def _read_body(request: Request) -> dict[str, Any]:
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise Fail(
                C.CONN_BAD_REQUEST_FORMAT,
                f"The request body is larger than {MAX_BODY} bytes; send smaller batches.",
                http=413,
            )
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as e:
        raise Fail(C.CONN_BAD_REQUEST_FORMAT, f"The request body is not valid JSON: {e}.") from None
    if not isinstance(data, dict):
        raise Fail(
            C.CONN_BAD_REQUEST_FORMAT,
            f"The request body must be a JSON object, got {type(data).__name__}.",
        )
    try:
        return snake_keys(data)
    except RecursionError:
        raise Fail(C.CONN_BAD_REQUEST_FORMAT, "The request body is nested too deeply.") from None


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
    ("overwrite", "merge", "remove"),
    ("id", "user_id", "created_at"),
    (("worker",), ("nodepools", "deployment_nodepools")),
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
            if k in _OPAQUE:
                out[k] = {kk: vv for kk, vv in cur.items() if kk not in v}
            else:
                out[k] = remove_wire(cur, v)
    return out


def overwrite_wire(kind: Kind, stored: dict[str, Any], parsed: dict[str, Any]) -> dict[str, Any]:
    out = dict(parsed)
    # to_wire() keeps empty resource lists: [] means absent here. Fields of one group (a
    # deployment's nodepools / deployment_nodepools) are restored together or not at all.
    for group in kind.structural:
        if not any(out.get(k) for k in group):
            out.update({k: stored[k] for k in group if k in stored})
    return out


# ------------------------------------------------------------------------------------------------


@dataclass
class ControlPlane:
    """The handlers. One method per RPC; each gets an `Rq` and returns the body (no status)."""

    store: st.Store
    catalog: Catalog
    clock: Clock
    metrics: Any = None
    owner: str = "me"
    version: str = "0"
    _shared: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._shared = {
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

    # -- helpers ---------------------------------------------------------------------------------

    def _parse(self, kind: Kind, items: Any, where: str) -> list[tuple[dict[str, Any], Any]]:
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

    @staticmethod
    def _check(kind: Kind, model: Any, prefix: str) -> list[str]:
        return [f"{prefix}: {p.message}" for p in model.problems()]

    @staticmethod
    def _dupes(kind: Kind, ids: list[str]) -> None:
        seen: set[str] = set()
        for i in ids:
            if i in seen:
                raise Fail(
                    C.DATABASE_DUPLICATE_KEY,
                    f"{kind.name.capitalize()} id '{i}' appears twice in this request.",
                )
            seen.add(i)

    def _cluster_or_fail(self, user: str, cc_id: str) -> dict[str, Any]:
        if cc_id == SHARED_CLUSTER_ID:
            return dict(self._shared)
        c = self.store.cluster_wire(user, cc_id)
        if c is None:
            raise Fail(
                C.COMPUTE_CLUSTER_DOES_NOT_EXIST,
                f"Compute cluster '{cc_id}' not found for user '{user}'.",
            )
        return c

    def _nodepool_or_fail(self, user: str, cc_id: str, np_id: str) -> dict[str, Any]:
        np = self.store.nodepool_wire(user, cc_id, np_id) if cc_id != SHARED_CLUSTER_ID else None
        if np is None:
            self._cluster_or_fail(user, cc_id)
            raise Fail(
                C.NODEPOOL_DOES_NOT_EXIST,
                f"Nodepool '{np_id}' not found in compute cluster '{cc_id}'.",
            )
        return np

    def _invalidate(self, user: str, cc_id: str, np_id: str) -> None:
        if self.metrics is not None:
            try:
                self.metrics.invalidate(user, cc_id, np_id)
            except Exception:  # a cache problem must not fail the write that already committed
                log.exception("metrics.invalidate failed")

    def _live(self, user: str, np: dict[str, Any]) -> dict[str, Any]:
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

    # -- catalog ---------------------------------------------------------------------------------

    def list_providers(self, rq: Rq) -> dict[str, Any]:
        return {"cloud_providers": self.catalog.providers_wire()}

    def _provider_or_fail(self, provider: str) -> None:
        if provider != "all" and not self.catalog.has_provider(provider):
            raise Fail(
                C.CONN_DOES_NOT_EXIST,
                f"Cloud provider '{provider}' does not exist; choose one of {', '.join(self.catalog.provider_ids)} (or 'all').",
            )

    def list_regions(self, rq: Rq) -> dict[str, Any]:
        provider = rq.path["provider"]
        self._provider_or_fail(provider)
        if provider == "all":
            ids = list(
                dict.fromkeys(
                    r for p in self.catalog.provider_ids for r in self.catalog.region_ids(p)
                )
            )
        else:
            ids = self.catalog.region_ids(provider)
        return {"regions": ids, "cloud_regions": [{"id": r} for r in ids]}

    def list_instance_types(self, rq: Rq) -> dict[str, Any]:
        provider, region = rq.path["provider"], rq.path["region"]
        self._provider_or_fail(provider)
        if region != "all":
            known = (
                self.catalog.region_ids(provider)
                if provider != "all"
                else [r for p in self.catalog.provider_ids for r in self.catalog.region_ids(p)]
            )
            if region not in known:
                raise Fail(
                    C.CONN_DOES_NOT_EXIST,
                    f"Region '{region}' does not exist for cloud provider '{provider}'; choose one of {', '.join(known) or '(none)'} (or 'all').",
                )
        return {"instance_types": self.catalog.instance_types_wire(provider, region)}

    # -- clusters --------------------------------------------------------------------------------

    def list_clusters(self, rq: Rq) -> dict[str, Any]:
        page, per_page = rq.paging()
        offset = (page - 1) * per_page
        if offset == 0:
            items = [dict(self._shared)] + self.store.clusters_wire(rq.user, 0, per_page - 1)
        else:
            items = self.store.clusters_wire(rq.user, offset - 1, per_page)
        return {"compute_clusters": items}

    def get_cluster(self, rq: Rq) -> dict[str, Any]:
        return {"compute_cluster": self._cluster_or_fail(rq.user, rq.path["cc"])}

    def _validate_cluster(self, model: Any, prefix: str) -> list[str]:
        problems = self._check(CLUSTER, model, prefix)
        provider = model.cloud_provider.id if model.cloud_provider else ""
        if problems:
            return problems
        if not self.catalog.has_provider(provider):
            problems.append(
                f"{prefix}.cloud_provider.id: unknown cloud provider '{provider}'; choose one of {', '.join(self.catalog.provider_ids)}"
            )
        elif not self.catalog.has_region(provider, model.region):
            regions = ", ".join(self.catalog.region_ids(provider)) or "(none available)"
            problems.append(
                f"{prefix}.region: '{model.region}' is not a region of {provider}; choose one of {regions}"
            )
        if model.cluster_type == "shared":
            problems.append(
                f"{prefix}.cluster_type: 'shared' clusters are created by Clarifai only; use 'dedicated'"
            )
        return problems

    def _cluster_wire(self, model: Any) -> dict[str, Any]:
        wire = model.to_wire()
        wire.pop("key", None)  # a PAT is never stored
        wire.setdefault(
            "cluster_type", "local-dev" if model.cloud_provider.id == "local" else "dedicated"
        )
        wire.setdefault("managed_by", "user" if model.cloud_provider.id == "local" else "clarifai")
        name = model.cloud_provider.id
        wire["cloud_provider"] = {"id": name, "name": name}
        return wire

    def post_clusters(self, rq: Rq) -> dict[str, Any]:
        parsed = self._parse(CLUSTER, rq.body.get("compute_clusters"), "compute_clusters")
        problems = []
        for i, (_, model) in enumerate(parsed):
            problems += self._validate_cluster(model, f"compute_clusters[{i}]")
        if problems:
            raise Fail(C.COMPUTE_CLUSTER_INVALID_ARGUMENT, "; ".join(problems) + ".")
        self._dupes(CLUSTER, [mo.id for _, mo in parsed])
        out = []
        with self.store.transaction():
            for _, model in parsed:
                if model.id == SHARED_CLUSTER_ID:
                    raise Fail(
                        C.DATABASE_DUPLICATE_KEY,
                        f"Compute cluster '{SHARED_CLUSTER_ID}' already exists (the shared cluster).",
                    )
                out.append(
                    self._insert(
                        CLUSTER,
                        lambda w: self.store.insert_cluster(rq.user, w),
                        self._cluster_wire(model),
                    )
                )
        return {"compute_clusters": out}

    @staticmethod
    def _insert(
        kind: Kind, insert: Callable[[dict[str, Any]], dict[str, Any]], wire: dict[str, Any]
    ) -> dict[str, Any]:
        try:
            return insert(wire)
        except st.DuplicateId as e:
            raise Fail(C.DATABASE_DUPLICATE_KEY, str(e)) from None
        except st.ModelConflict as e:
            raise Fail(kind.invalid, str(e)) from None

    def _patched(
        self, kind: Kind, action: str, stored: dict[str, Any], raw: dict[str, Any], model: Any
    ) -> dict[str, Any]:
        parsed = model.to_wire()
        if action == "merge":
            new = merge_wire(stored, raw, parsed)
        elif action == "remove":
            new = remove_wire(stored, parsed)
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

    def _action(self, kind: Kind, rq: Rq) -> str:
        action = str(rq.body.get("action") or "overwrite").lower()
        if action not in kind.actions:
            raise Fail(
                kind.invalid,
                f"action '{action}' is not supported for {kind.name}s; use {' or '.join(repr(a) for a in kind.actions)}.",
            )
        return action

    def patch_clusters(self, rq: Rq) -> dict[str, Any]:
        action = self._action(CLUSTER, rq)
        parsed = self._parse(CLUSTER, rq.body.get("compute_clusters"), "compute_clusters")
        self._dupes(CLUSTER, [mo.id for _, mo in parsed])
        out = []
        with self.store.transaction():
            for i, (raw, model) in enumerate(parsed):
                if model.id == SHARED_CLUSTER_ID:
                    raise Fail(
                        C.COMPUTE_CLUSTER_INVALID_REQUEST,
                        f"The shared cluster '{SHARED_CLUSTER_ID}' is managed by Clarifai and cannot be changed.",
                    )
                stored = self._cluster_or_fail(rq.user, model.id)
                new = self._patched(CLUSTER, action, stored, raw, model)
                new_model = m.ComputeCluster.from_wire(new)
                problems = self._validate_cluster(new_model, f"compute_clusters[{i}]")
                if problems:
                    raise Fail(C.COMPUTE_CLUSTER_INVALID_ARGUMENT, "; ".join(problems) + ".")
                out.append(self.store.replace_cluster(rq.user, self._cluster_wire(new_model)))
        return {"compute_clusters": out}

    def _ids(self, kind: Kind, rq: Rq) -> list[str]:
        ids = rq.body.get("ids")
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids):
            raise Fail(kind.invalid, f"ids: give a non-empty list of {kind.name} ids (strings).")
        return list(dict.fromkeys(ids))

    def delete_clusters(self, rq: Rq) -> dict[str, Any]:
        ids = self._ids(CLUSTER, rq)
        if SHARED_CLUSTER_ID in ids:
            raise Fail(
                C.COMPUTE_CLUSTER_INVALID_REQUEST,
                f"The shared cluster '{SHARED_CLUSTER_ID}' is managed by Clarifai and cannot be deleted; nothing was deleted.",
            )
        total = st.Cascade()
        with self.store.transaction():
            missing = [i for i in ids if self.store.cluster_wire(rq.user, i) is None]
            if missing:
                raise Fail(
                    C.COMPUTE_CLUSTER_DOES_NOT_EXIST,
                    f"Compute cluster {_quote(missing)} not found for user '{rq.user}'; nothing was deleted.",
                )
            for i in ids:
                _merge_cascade(total, self.store.delete_cluster(rq.user, i))
        for cc, np in total.nodepools:
            self._invalidate(rq.user, cc, np)
        return {"status": _describe(total)}

    # -- nodepools -------------------------------------------------------------------------------

    def list_nodepools(self, rq: Rq) -> dict[str, Any]:
        page, per_page = rq.paging()
        cc_id = rq.path.get("cc")
        if cc_id is not None:
            self._cluster_or_fail(rq.user, cc_id)
        items = self.store.nodepools_wire(rq.user, cc_id, (page - 1) * per_page, per_page)
        return {"nodepools": [self._live(rq.user, np) for np in items]}

    def get_nodepool(self, rq: Rq) -> dict[str, Any]:
        np = self._nodepool_or_fail(rq.user, rq.path["cc"], rq.path["np"])
        return {"nodepool": self._live(rq.user, np)}

    def _validate_nodepool(
        self, cluster: dict[str, Any], model: Any, prefix: str
    ) -> tuple[int, list[str]]:
        """(code, problems): business rules, then the catalog (type known, offered in the
        cluster's provider/region, capacity types allowed)."""
        problems = self._check(NODEPOOL, model, prefix)
        if problems:
            return C.NODEPOOL_INVALID_ARGUMENT, problems
        it_id = model.instance_types[0].id
        provider, region = cluster["cloud_provider"]["id"], cluster["region"]
        entry = self.catalog.entry(it_id)
        if entry is None:
            return C.INSTANCE_TYPE_DOES_NOT_EXIST, [
                f"{prefix}.instance_types[0].id: unknown instance type '{it_id}'; list them with "
                f"GET /v2/cloud_providers/{provider}/regions/{region}/instance_types"
            ]
        if not self.catalog.offered_in(it_id, provider, region):
            return C.INSTANCE_TYPE_INVALID_ARGUMENT, [
                f"{prefix}.instance_types[0].id: '{it_id}' is offered by {entry['provider']} in "
                f"{', '.join(entry['regions'])}, not in this cluster's {provider} {region}; choose an "
                f"instance type of GET /v2/cloud_providers/{provider}/regions/{region}/instance_types"
            ]
        allowed = set(entry["capacity_types"])
        asked = [
            int(c)
            for c in (model.node_capacity_type.capacity_types if model.node_capacity_type else [])
        ]
        names = {1: "on-demand", 2: "spot"}
        bad = [names.get(c, str(c)) for c in asked if c not in allowed]
        if bad:
            ok = " and ".join(names[c] for c in sorted(allowed))
            return C.NODEPOOL_INVALID_ARGUMENT, [
                f"{prefix}.node_capacity_type.capacity_types: {it_id} does not offer {' and '.join(bad)} "
                f"capacity; it allows {ok} only"
            ]
        return 0, []

    def _nodepool_wire(self, cluster: dict[str, Any], model: Any) -> dict[str, Any]:
        wire = model.to_wire()
        it = self.catalog.instance_type_wire(
            model.instance_types[0].id, cluster["cloud_provider"]["id"], cluster["region"]
        )
        wire["instance_types"] = [it]
        return wire

    def post_nodepools(self, rq: Rq) -> dict[str, Any]:
        cc_id = rq.path["cc"]
        cluster = self._cluster_or_fail(rq.user, cc_id)
        if cc_id == SHARED_CLUSTER_ID:
            raise Fail(
                C.NODEPOOL_INVALID_REQUEST,
                f"The shared cluster '{SHARED_CLUSTER_ID}' is managed by Clarifai; create a dedicated compute cluster for your nodepools.",
            )
        parsed = self._parse(NODEPOOL, rq.body.get("nodepools"), "nodepools")
        code, problems = 0, []
        for i, (_, model) in enumerate(parsed):
            c, p = self._validate_nodepool(cluster, model, f"nodepools[{i}]")
            code, problems = code or c, problems + p
        if problems:
            raise Fail(code, "; ".join(problems) + ".")
        self._dupes(NODEPOOL, [mo.id for _, mo in parsed])
        out = []
        with self.store.transaction():
            for _, model in parsed:
                wire = self._nodepool_wire(cluster, model)
                out.append(
                    self._insert(
                        NODEPOOL, lambda w: self.store.insert_nodepool(rq.user, cc_id, w), wire
                    )
                )
        for np in out:
            self._invalidate(rq.user, cc_id, np["id"])
        return {"nodepools": [self._live(rq.user, np) for np in out]}

    def patch_nodepools(self, rq: Rq) -> dict[str, Any]:
        cc_id = rq.path["cc"]
        action = self._action(NODEPOOL, rq)
        cluster = self._cluster_or_fail(rq.user, cc_id)
        parsed = self._parse(NODEPOOL, rq.body.get("nodepools"), "nodepools")
        self._dupes(NODEPOOL, [mo.id for _, mo in parsed])
        out = []
        with self.store.transaction():
            for i, (raw, model) in enumerate(parsed):
                stored = self._nodepool_or_fail(rq.user, cc_id, model.id)
                stored.pop("status", None)
                stored.pop("status_description", None)
                new_model = m.Nodepool.from_wire(
                    self._patched(NODEPOOL, action, stored, raw, model)
                )
                code, problems = self._validate_nodepool(cluster, new_model, f"nodepools[{i}]")
                if problems:
                    raise Fail(code, "; ".join(problems) + ".")
                wire = self._nodepool_wire(cluster, new_model)
                self.store.replace_nodepool(rq.user, cc_id, wire)
                out.append(self.store.nodepool_wire(rq.user, cc_id, model.id))
        for np in out:
            self._invalidate(rq.user, cc_id, np["id"])
        return {"nodepools": [self._live(rq.user, np) for np in out]}

    def delete_nodepools(self, rq: Rq) -> dict[str, Any]:
        cc_id = rq.path["cc"]
        ids = self._ids(NODEPOOL, rq)
        total = st.Cascade()
        with self.store.transaction():
            self._cluster_or_fail(rq.user, cc_id)
            missing = [i for i in ids if self.store.nodepool_wire(rq.user, cc_id, i) is None]
            if missing:
                raise Fail(
                    C.NODEPOOL_DOES_NOT_EXIST,
                    f"Nodepool {_quote(missing)} not found in compute cluster '{cc_id}'; nothing was deleted.",
                )
            for i in ids:
                _merge_cascade(total, self.store.delete_nodepool(rq.user, cc_id, i))
        for cc, np in total.nodepools:
            self._invalidate(rq.user, cc, np)
        return {"status": _describe(total)}

    def post_nodepool_status(self, rq: Rq) -> dict[str, Any]:
        cc_id, np_id = rq.path["cc"], rq.path["np"]
        raw = rq.body.get("status")
        if isinstance(raw, dict):  # tolerate {"status": {"code": ...}}
            raw = raw.get("code", raw.get("status"))
        try:
            if raw in (None, ""):
                status = m.NodepoolStatus(0)
            elif isinstance(raw, str) and not raw.strip().lstrip("-").isdigit():
                status = m.NodepoolStatus[raw.strip()]
            else:
                status = m.NodepoolStatus(int(raw))
            if status not in list(m.NodepoolStatus):  # an open enum parses 2**64 too: refuse it
                raise ValueError(raw)
        except (KeyError, ValueError, TypeError, OverflowError):
            names = ", ".join(f"{s.name} ({int(s)})" for s in m.NodepoolStatus)
            raise Fail(
                C.NODEPOOL_INVALID_ARGUMENT,
                f"status: {raw!r} is not a nodepool status; use one of {names}.",
            ) from None
        desc = rq.body.get("status_description") or ""
        if not isinstance(desc, str) or len(desc) > m.MAX_DESCRIPTION:
            raise Fail(
                C.NODEPOOL_INVALID_ARGUMENT,
                f"status_description must be a string of at most {m.MAX_DESCRIPTION} characters.",
            )
        self._nodepool_or_fail(rq.user, cc_id, np_id)
        self.store.set_nodepool_status(rq.user, cc_id, np_id, int(status), desc)
        self._invalidate(rq.user, cc_id, np_id)
        return {}

    # -- deployments -----------------------------------------------------------------------------

    def list_deployments(self, rq: Rq) -> dict[str, Any]:
        page, per_page = rq.paging()
        items = self.store.deployments_wire(
            rq.user,
            (page - 1) * per_page,
            per_page,
            nodepool_id=rq.q1("nodepool_id") or None,
            compute_cluster_id=rq.q1("compute_cluster_id") or None,
            model_version_ids=[v for v in rq.query.get("model_version_ids", []) if v] or None,
        )
        return {"deployments": items}

    def get_deployment(self, rq: Rq) -> dict[str, Any]:
        d = self.store.deployment_wire(rq.user, rq.path["dep"])
        if d is None:
            raise Fail(
                C.DEPLOYMENT_DOES_NOT_EXIST,
                f"Deployment '{rq.path['dep']}' not found for user '{rq.user}'.",
            )
        return {"deployment": d}

    def _validate_deployment(self, user: str, model: Any, prefix: str) -> tuple[int, list[str]]:
        problems = self._check(DEPLOYMENT, model, prefix)
        if problems:
            return C.DEPLOYMENT_INVALID_ARGUMENT, problems
        wire = model.to_wire()
        for cc, np in st.deployment_nodepool_refs(wire):
            if self.store.nodepool_wire(user, cc, np) is None:
                return C.NODEPOOL_DOES_NOT_EXIST, [
                    f"{prefix}: nodepool '{np}' not found in compute cluster '{cc}'"
                ]
        return 0, []

    @staticmethod
    def _deployment_wire(model: Any) -> dict[str, Any]:
        wire = model.to_wire()
        if wire.get("desired_worker"):
            wire["worker"] = wire.pop("desired_worker")
        if "autoscale_config" not in wire:
            wire["autoscale_config"] = dict(DEFAULT_AUTOSCALE)
        wire.pop("deployment_metrics", None)
        return wire

    def _model_clash(self, models: list[Any]) -> None:
        """Two deployments of one model on one nodepool inside this batch."""
        seen: dict[tuple[str, str, str], str] = {}
        for model in models:
            wire = model.to_wire()
            key = st.model_key(wire)
            for cc, np in st.deployment_nodepool_refs(wire):
                if key and (key, cc, np) in seen:
                    raise Fail(
                        C.DEPLOYMENT_INVALID_ARGUMENT,
                        f"Deployments '{seen[key, cc, np]}' and '{model.id}' put the same model on nodepool '{np}' in compute cluster '{cc}'; one deployment per model per nodepool.",
                    )
                seen[key, cc, np] = model.id

    def post_deployments(self, rq: Rq) -> dict[str, Any]:
        parsed = self._parse(DEPLOYMENT, rq.body.get("deployments"), "deployments")
        code, problems = 0, []
        for i, (_, model) in enumerate(parsed):
            c, p = self._validate_deployment(rq.user, model, f"deployments[{i}]")
            code, problems = code or c, problems + p
        if problems:
            raise Fail(code, "; ".join(problems) + ".")
        self._dupes(DEPLOYMENT, [mo.id for _, mo in parsed])
        self._model_clash([mo for _, mo in parsed])
        out = []
        with self.store.transaction():
            for _, model in parsed:
                wire = self._deployment_wire(model)
                out.append(
                    self._insert(
                        DEPLOYMENT, lambda w: self.store.insert_deployment(rq.user, w), wire
                    )
                )
        for d in out:
            for cc, np in st.deployment_nodepool_refs(d):
                self._invalidate(rq.user, cc, np)
        return {"deployments": out}

    def patch_deployments(self, rq: Rq) -> dict[str, Any]:
        action = self._action(DEPLOYMENT, rq)
        parsed = self._parse(DEPLOYMENT, rq.body.get("deployments"), "deployments")
        self._dupes(DEPLOYMENT, [mo.id for _, mo in parsed])
        out, touched = [], []
        with self.store.transaction():
            for i, (raw, model) in enumerate(parsed):
                stored = self.store.deployment_wire(rq.user, model.id)
                if stored is None:
                    raise Fail(
                        C.DEPLOYMENT_DOES_NOT_EXIST,
                        f"Deployment '{model.id}' not found for user '{rq.user}'.",
                    )
                if raw.get("desired_worker") and action != "remove":
                    raw = {**raw, "worker": raw["desired_worker"]}
                    raw.pop("desired_worker")
                    model = model.model_copy(
                        update={"worker": model.desired_worker, "desired_worker": None}
                    )
                new_model = m.Deployment.from_wire(
                    self._patched(DEPLOYMENT, action, stored, raw, model)
                )
                code, problems = self._validate_deployment(rq.user, new_model, f"deployments[{i}]")
                if problems:
                    raise Fail(code, "; ".join(problems) + ".")
                touched += st.deployment_nodepool_refs(stored)
                wire = self._deployment_wire(new_model)
                out.append(
                    self._insert(
                        DEPLOYMENT, lambda w: self.store.replace_deployment(rq.user, w), wire
                    )
                )
                touched += st.deployment_nodepool_refs(wire)
        for cc, np in dict.fromkeys(touched):
            self._invalidate(rq.user, cc, np)
        return {"deployments": out}

    def delete_deployments(self, rq: Rq) -> dict[str, Any]:
        ids = self._ids(DEPLOYMENT, rq)
        touched = []
        with self.store.transaction():
            missing = [i for i in ids if self.store.deployment_wire(rq.user, i) is None]
            if missing:
                raise Fail(
                    C.DEPLOYMENT_DOES_NOT_EXIST,
                    f"Deployment {_quote(missing)} not found for user '{rq.user}'; nothing was deleted.",
                )
            for i in ids:
                touched += st.deployment_nodepool_refs(self.store.deployment_wire(rq.user, i) or {})
                self.store.delete_deployment(rq.user, i)
        for cc, np in dict.fromkeys(touched):
            self._invalidate(rq.user, cc, np)
        return {
            "status": {
                "code": C.SUCCESS,
                "description": f"Deleted {_plural(len(ids), 'deployment')}: {_quote(ids)}.",
            }
        }

    # -- observability ---------------------------------------------------------------------------

    def post_metrics(self, rq: Rq) -> dict[str, Any]:
        raw = rq.body.get("query")
        if not isinstance(raw, dict):
            raise Fail(
                C.BAD_REQUEST,
                "query: give a MetricSearchQuery object (metric_type, start_time, end_time, resolution, filters, aggregate).",
            )
        try:
            query = m.MetricSearchQuery.from_wire(raw)
        except InvalidInput as e:
            raise Fail(
                C.BAD_REQUEST, "; ".join(f"query.{p.field}: {p.message}" for p in e.problems) + "."
            ) from None
        if not int(query.metric_type or 0):
            names = ", ".join(t.name for t in m.MetricType if int(t))
            raise Fail(C.BAD_REQUEST, f"query.metric_type: choose one of {names}.")
        if self.metrics is not None:
            try:
                series, resolution = self.metrics.query(rq.user, query)
            except (InvalidInput, ValueError) as e:
                raise Fail(C.BAD_REQUEST, f"query: {e}") from None
            wire = [s.to_wire() if hasattr(s, "to_wire") else s for s in series]
        else:
            wire, resolution = self._store_node_counts(rq.user, query)
        return {"data": {"matrix_data": {"series": wire}}, "resolution": resolution}

    def _store_node_counts(self, user: str, q: Any) -> tuple[list[dict[str, Any]], str]:
        """Without a metrics engine: NODEPOOL_NODE_COUNT as a step series of the nodepools'
        enforced minimum (the floor the pool keeps); other metric types have no series."""
        resolution = q.resolution or "5m"
        try:
            step = m.parse_duration(resolution)
        except (InvalidInput, ValueError) as e:
            raise Fail(C.BAD_REQUEST, f"query.resolution: {e}") from None
        end = q.end_time or self.clock.now()
        start = q.start_time or end - timedelta(hours=1)
        if step <= 0 or end <= start:
            raise Fail(
                C.BAD_REQUEST, "query: start_time must be before end_time and resolution positive."
            )
        n = int((end - start).total_seconds() // step) + 1
        if n > 20000:
            raise Fail(
                C.BAD_REQUEST,
                f"query: {n} points requested; use a coarser resolution (at most 20000 points).",
            )
        if int(q.metric_type) != int(m.MetricType.NODEPOOL_NODE_COUNT):
            return [], resolution
        want: dict[str, set[str]] = {}
        for f in q.filters or []:
            label = f.label.name if hasattr(f.label, "name") else str(f.label)
            values = {f.equals} if f.equals else set(f.in_ or [])
            want[label] = want.get(label, values) & values
        series = []
        for np in self.store.nodepools_wire(user):
            cc_id = np["compute_cluster"]["id"]
            if not (
                {cc_id} & want.get("COMPUTE_CLUSTER_ID", {cc_id})
                and {np["id"]} & want.get("NODEPOOL_ID", {np["id"]})
            ):
                continue
            revs = self.store.nodepool_revisions(user, cc_id, np["id"])
            points = []
            for k in range(n):
                t = start + timedelta(seconds=k * step)
                value = 0
                for eff, rev in revs:
                    if eff <= t:
                        value = rev.enforced_min_instances or 0
                point: dict[str, Any] = {"timestamp": st.rfc3339(t)}
                if value:
                    point["value"] = float(value)
                points.append(point)
            series.append(
                {
                    "labels": [
                        {"name": "COMPUTE_CLUSTER_ID", "value": cc_id},
                        {"name": "NODEPOOL_ID", "value": np["id"]},
                    ],
                    "value": points,
                }
            )
        return series, resolution

    def list_metric_labels(self, rq: Rq) -> dict[str, Any]:
        types = []
        for raw in rq.query.get("metric_types", []):
            try:
                types.append(m.MetricType[raw] if not raw.isdigit() else m.MetricType(int(raw)))
            except (KeyError, ValueError):
                raise Fail(C.BAD_REQUEST, f"metric_types: unknown metric type {raw!r}.") from None
        if not types:
            types = [t for t in m.MetricType if int(t)]
        nodepools = self.store.nodepools_wire(rq.user)
        deployments = self.store.deployments_wire(rq.user)
        clusters = sorted({np["compute_cluster"]["id"] for np in nodepools})
        np_ids = sorted({np["id"] for np in nodepools})
        models = sorted(
            {((d.get("worker") or {}).get("model") or {}).get("id", "") for d in deployments} - {""}
        )
        out = []
        for t in types:
            labels = [{"label": 5, "values": clusters}, {"label": 6, "values": np_ids}]
            if t.name.startswith("MODEL_"):
                labels.append({"label": 2, "values": models})
            out.append({"metric_type": int(t), "labels": [x for x in labels if x["values"]] or []})
        return {"metric_type_labels": out}

    def list_log_entries(self, rq: Rq) -> dict[str, Any]:
        cc_id = rq.path["cc"]
        np_id = rq.path.get("np") or rq.q1("nodepool_id") or None
        log_type = rq.path["log_type"]
        per_page = rq.int_param("per_page", LOG_PER_PAGE, 1, MAX_PER_PAGE)
        if np_id:
            self._nodepool_or_fail(rq.user, cc_id, np_id)
            pools = [np_id]
        else:
            self._cluster_or_fail(rq.user, cc_id)
            pools = (
                [np["id"] for np in self.store.nodepools_wire(rq.user, cc_id)]
                if cc_id != SHARED_CLUSTER_ID
                else []
            )
        if log_type != "runner.events" or self.metrics is None or not pools:
            page = rq.int_param("page", 1, 1, 10**9)
            return {"log_entries": [], "page": page, "per_page": per_page}
        if len(pools) == 1:
            count = int(self.metrics.events_count(rq.user, cc_id, pools[0]))
            page = rq.int_param("page", max(1, math.ceil(count / per_page)), 1, 10**9)
            entries = self.metrics.events(rq.user, cc_id, pools[0], page, per_page)
        else:  # a whole cluster: every nodepool's events, merged by time
            entries = []
            for np in pools:
                count = int(self.metrics.events_count(rq.user, cc_id, np))
                if count:
                    entries += self.metrics.events(rq.user, cc_id, np, 1, count)
            entries.sort(key=lambda e: str((_wire_of(e).get("meta") or {}).get("timestamp", "")))
            page = rq.int_param("page", max(1, math.ceil(len(entries) / per_page)), 1, 10**9)
            entries = entries[(page - 1) * per_page : page * per_page]
        return {"log_entries": [_wire_of(e) for e in entries], "page": page, "per_page": per_page}

    # -- local-only ------------------------------------------------------------------------------

    def health(self, rq: Rq) -> dict[str, Any]:
        return {
            "version": self.version,
            "now": st.rfc3339(self.clock.now()),
            "metrics": self.metrics is not None,
        }

    def get_clock(self, rq: Rq) -> dict[str, Any]:
        return {"now": st.rfc3339(self.clock.now()), "offset_seconds": self.clock.offset_seconds}

    def advance_clock(self, rq: Rq) -> dict[str, Any]:
        seconds = rq.body.get("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float, str)):
            raise Fail(C.BAD_REQUEST, f"seconds: give a number of seconds >= 0, got {seconds!r}.")
        try:
            self.clock.advance(float(seconds))
        except ValueError as e:
            raise Fail(C.BAD_REQUEST, f"seconds: {e}.") from None
        self.store.set_clock_offset(self.clock.offset_seconds)
        return self.get_clock(rq)


def _wire_of(x: Any) -> dict[str, Any]:
    return x.to_wire() if hasattr(x, "to_wire") else dict(x)


def _merge_cascade(total: st.Cascade, part: st.Cascade) -> None:
    total.clusters += part.clusters
    total.nodepools += part.nodepools
    total.deployments += part.deployments
    for dep, nps in part.detached.items():
        if dep in total.deployments:
            continue
        total.detached.setdefault(dep, []).extend(nps)
    for dep in part.deployments:
        total.detached.pop(dep, None)


def _describe(c: st.Cascade) -> dict[str, Any]:
    """The status of a delete, saying exactly what went."""
    parts = []
    if c.clusters:
        parts.append(
            f"{'compute cluster' if len(c.clusters) == 1 else 'compute clusters'} {_quote(c.clusters)}"
        )
    if c.nodepools:
        parts.append(
            f"{'nodepool' if len(c.nodepools) == 1 else 'nodepools'} {_quote(f'{cc}/{np}' for cc, np in c.nodepools)}"
        )
    if c.deployments:
        parts.append(
            f"{'deployment' if len(c.deployments) == 1 else 'deployments'} {_quote(c.deployments)} (no nodepool left)"
        )
    text = "Deleted " + ", ".join(parts) + "."
    for dep, nps in c.detached.items():
        text += f" Deployment '{dep}' no longer uses nodepool {_quote(nps)}."
    return {"code": C.SUCCESS, "description": text}


# ------------------------------------------------------------------------------------------------
# routes: one table


@dataclass(frozen=True)
class R:
    method: str
    path: str
    handler: str  # ControlPlane method name
    rpc: str  # operation id in the OpenAPI doc
    body: tuple[str, ...] = ()  # documented body fields
    query: tuple[str, ...] = ()  # documented query parameters
    offload: bool = False  # run in the threadpool (may be slow: simulations)


_U = "/v2/users/{user_id}"
_CC = _U + "/compute_clusters/{cc}"
_NP = _CC + "/nodepools/{np}"
PAGING = ("page", "per_page")

ROUTES: tuple[R, ...] = (
    R("GET", "/v2/cloud_providers", "list_providers", "ListCloudProviders"),
    R("GET", "/v2/cloud_providers/{provider}/regions", "list_regions", "ListCloudRegions"),
    R(
        "GET",
        "/v2/cloud_providers/{provider}/regions/{region}/instance_types",
        "list_instance_types",
        "ListInstanceTypes",
    ),
    R("GET", _U + "/compute_clusters", "list_clusters", "ListComputeClusters", query=PAGING),
    R("GET", "/v2/compute_clusters", "list_clusters", "ListComputeClustersUnscoped", query=PAGING),
    R(
        "POST",
        _U + "/compute_clusters",
        "post_clusters",
        "PostComputeClusters",
        body=("compute_clusters",),
    ),
    R(
        "PATCH",
        _U + "/compute_clusters",
        "patch_clusters",
        "PatchComputeClusters",
        body=("compute_clusters", "action"),
    ),
    R(
        "DELETE",
        _U + "/compute_clusters",
        "delete_clusters",
        "DeleteComputeClusters",
        body=("ids",),
    ),
    R("GET", _CC, "get_cluster", "GetComputeCluster"),
    R("GET", _CC + "/nodepools", "list_nodepools", "ListNodepools", query=PAGING),
    R("GET", _U + "/nodepools", "list_nodepools", "ListNodepoolsOfUser", query=PAGING),
    R("GET", "/v2/nodepools", "list_nodepools", "ListNodepoolsUnscoped", query=PAGING),
    R("POST", _CC + "/nodepools", "post_nodepools", "PostNodepools", body=("nodepools",)),
    R(
        "PATCH",
        _CC + "/nodepools",
        "patch_nodepools",
        "PatchNodepools",
        body=("nodepools", "action"),
    ),
    R("DELETE", _CC + "/nodepools", "delete_nodepools", "DeleteNodepools", body=("ids",)),
    R("GET", _NP, "get_nodepool", "GetNodepool"),
    R(
        "POST",
        _NP + "/status",
        "post_nodepool_status",
        "PostNodepoolStatus",
        body=("status", "status_description"),
    ),
    R(
        "GET",
        _U + "/deployments",
        "list_deployments",
        "ListDeployments",
        query=(*PAGING, "nodepool_id", "compute_cluster_id", "model_version_ids"),
    ),
    R(
        "GET",
        "/v2/deployments",
        "list_deployments",
        "ListDeploymentsUnscoped",
        query=(*PAGING, "nodepool_id", "compute_cluster_id", "model_version_ids"),
    ),
    R("POST", _U + "/deployments", "post_deployments", "PostDeployments", body=("deployments",)),
    R(
        "PATCH",
        _U + "/deployments",
        "patch_deployments",
        "PatchDeployments",
        body=("deployments", "action"),
    ),
    R("DELETE", _U + "/deployments", "delete_deployments", "DeleteDeployments", body=("ids",)),
    R("GET", _U + "/deployments/{dep}", "get_deployment", "GetDeployment"),
    R("POST", _U + "/metrics", "post_metrics", "PostMetricsQuery", body=("query",), offload=True),
    R(
        "GET",
        _U + "/metrics/labels",
        "list_metric_labels",
        "ListMetricLabels",
        query=("metric_types",),
    ),
    R(
        "GET",
        _NP + "/runners/{runner_id}/{log_type}/logs",
        "list_log_entries",
        "ListLogEntries",
        query=PAGING,
        offload=True,
    ),
    R(
        "GET",
        _U + "/compute_clusters/{cc_user}/{cc}/nodepools/{np}/versions/{version}/{log_type}/logs",
        "list_log_entries",
        "ListLogEntriesOfVersion",
        query=PAGING,
        offload=True,
    ),
    R(
        "GET",
        _CC + "/{log_type}/logs",
        "list_log_entries",
        "ListLogEntriesOfCluster",
        query=(*PAGING, "nodepool_id"),
        offload=True,
    ),
    R("GET", "/local/health", "health", "LocalHealth"),
    R("GET", "/local/clock", "get_clock", "LocalClock"),
    R("POST", "/local/clock/advance", "advance_clock", "LocalClockAdvance", body=("seconds",)),
)


def _endpoint(cp: ControlPlane, route: R) -> Callable[[Request], Awaitable[Response]]:
    handler = getattr(cp, route.handler)
    has_body = route.method in ("POST", "PATCH", "DELETE")

    async def endpoint(request: Request) -> Response:
        req_id = _new_req_id()
        try:
            params = request.path_params
            user = params.get("user_id") or "me"
            rq = Rq(
                path=params,
                query=_parse_query(request) if request.scope.get("query_string") else {},
                body=await _read_body(request) if has_body else {},
                user=cp.owner if user == "me" else user,
            )
            if route.offload and (cp.metrics is not None or route.handler == "post_metrics"):
                result = await run_in_threadpool(handler, rq)
            else:
                result = handler(rq)
        except Fail as f:
            return _error_response(f, req_id)
        except InvalidInput as e:
            return _error_response(Fail(C.BAD_REQUEST, str(e)), req_id)
        except sqlite3.OperationalError as e:
            log.exception("%s %s failed", request.method, request.url.path)
            full = "full" in str(e)  # "database or disk is full": nothing was written
            return _error_response(
                Fail(
                    C.INTERNAL_SERVER_ISSUE,
                    "The local control plane's disk is full: nothing was written. Free some "
                    "space in its data directory and try again."
                    if full
                    else f"The local control plane's database failed ({e}); see the server log.",
                    http=507 if full else 500,
                ),
                req_id,
            )
        except Exception as e:  # never a bare 500 page: a Clarifai status, logged here
            log.exception("%s %s failed", request.method, request.url.path)
            return _error_response(
                Fail(
                    C.INTERNAL_SERVER_ISSUE,
                    f"Internal error in the local control plane ({type(e).__name__}); see the server log.",
                    http=500,
                ),
                req_id,
            )
        status = result.pop("status", None) or {"code": C.SUCCESS, "description": "Ok"}
        status["code"] = int(status["code"])
        status["req_id"] = req_id
        return Response(
            _dumps({"status": status, **result}),
            media_type="application/json",
            headers={"X-Clarifai-Request-ID": req_id},
        )

    endpoint.__name__ = route.rpc
    return endpoint


class _Guard:
    """Pure-ASGI middleware: trailing slash, `Authorization: Key <token>`, body size cap."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self._expected = f"key {token}".encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if len(path) > 1 and path.endswith("/"):
            scope = dict(scope, path=path.rstrip("/") or "/")
        auth = b""
        length = 0
        for k, v in scope["headers"]:
            if k == b"authorization":
                auth = v
            elif k == b"content-length":
                length = int(v) if v.isdigit() else 0
        fail = None
        if not auth:
            fail = Fail(
                C.CONN_KEY_INVALID,
                "Missing Authorization header; send 'Authorization: Key <token>' (the local server's token is in its runtime file).",
                http=401,
            )
        elif not (
            auth[:4].lower() == b"key "
            and hmac.compare_digest(b"key " + auth[4:].strip(), self._expected)
        ):
            fail = Fail(
                C.CONN_KEY_INVALID,
                "Invalid API key or token in the Authorization header ('Authorization: Key <token>').",
                http=401,
            )
        elif length > MAX_BODY:
            fail = Fail(
                C.CONN_BAD_REQUEST_FORMAT,
                f"The request body is {length} bytes; the limit is {MAX_BODY} bytes. Send smaller batches.",
                http=413,
            )
        if fail is not None:
            await _error_response(fail, _new_req_id())(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _openapi(title: str, version: str) -> dict[str, Any]:
    """The OpenAPI 3 document of `ROUTES`: loose bodies (any object with the documented list
    fields), path ids as strings, paging parameters with their bounds."""
    status = {
        "type": "object",
        "properties": {
            "code": {"type": "integer"},
            "description": {"type": "string"},
            "details": {"type": "string"},
            "req_id": {"type": "string"},
        },
    }
    reply = {
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"status": status},
                    "required": ["status"],
                }
            }
        }
    }
    body_types = {
        "ids": {"type": "array", "items": {"type": "string"}},
        "action": {"type": "string", "enum": ["overwrite", "merge", "remove"]},
        "seconds": {"type": "number", "minimum": 0},
        "status": {"oneOf": [{"type": "integer"}, {"type": "string"}]},
        "status_description": {"type": "string"},
        "query": {"type": "object"},
    }
    query_types = {
        "page": {"type": "integer", "minimum": 1},
        "per_page": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE},
        "model_version_ids": {"type": "array", "items": {"type": "string"}},
        "metric_types": {"type": "array", "items": {"type": "string"}},
    }
    paths: dict[str, Any] = {}
    for r in ROUTES:
        params = [
            {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
            for p in re.findall(r"{(\w+)}", r.path)
        ]
        params += [
            {
                "name": q,
                "in": "query",
                "required": False,
                "schema": query_types.get(q, {"type": "string"}),
            }
            for q in r.query
        ]
        op: dict[str, Any] = {
            "operationId": r.rpc,
            "summary": r.rpc,
            "parameters": params,
            "responses": {
                "200": {"description": "SUCCESS", **reply},
                "default": {"description": "a Clarifai status", **reply},
            },
        }
        if r.body:
            props = {
                b: body_types.get(b, {"type": "array", "items": {"type": "object"}}) for b in r.body
            }
            op["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {"schema": {"type": "object", "properties": props}}
                },
            }
        paths.setdefault(r.path, {})[r.method.lower()] = op
    return {
        "openapi": "3.0.3",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "key": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "Key <token>",
                }
            }
        },
        "security": [{"key": []}],
    }


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("compute-widgets")
    except Exception:
        return "0"


def create_app(
    store: st.Store,
    catalog: Catalog,
    clock: Clock,
    token: str,
    metrics: Any = None,
    *,
    owner: str = "me",
) -> Any:
    """The control plane as a FastAPI app (routes are plain Starlette routes for speed; the
    OpenAPI document at /openapi.json is generated from `ROUTES`). `owner` is the user id
    that ``me`` and the unscoped routes stand for."""
    from fastapi import FastAPI

    version = _version()
    cp = ControlPlane(store, catalog, clock, metrics, owner=owner, version=version)
    app = FastAPI(
        title="compute_widgets local control plane",
        version=version,
        docs_url=None,
        redoc_url=None,
        redirect_slashes=False,
    )
    for r in ROUTES:
        app.router.routes.append(Route(r.path, _endpoint(cp, r), methods=[r.method], name=r.rpc))
    schema = _openapi("compute_widgets local control plane (Clarifai compute API)", version)
    app.openapi = lambda: schema  # type: ignore[method-assign]
    app.state.control_plane = cp

    async def http_error(request: Request, exc: Exception) -> Response:
        code = getattr(exc, "status_code", 500)
        if code == 404:
            f = Fail(
                C.CONN_DOES_NOT_EXIST,
                f"No route {request.method} {request.url.path}; see /openapi.json for the routes.",
                http=404,
            )
        elif code == 405:
            f = Fail(
                C.CONN_METHOD_NOT_ALLOWED,
                f"Method {request.method} is not allowed on {request.url.path}.",
                http=405,
            )
        else:
            f = Fail(
                C.CONN_INVALID_REQUEST if code < 500 else C.INTERNAL_SERVER_ISSUE,
                f"HTTP {code}: {getattr(exc, 'detail', '')}",
                http=code,
            )
        return _error_response(f, _new_req_id())

    async def crash(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", exc_info=exc)
        return _error_response(
            Fail(
                C.INTERNAL_SERVER_ISSUE,
                f"Internal error in the local control plane ({type(exc).__name__}).",
                http=500,
            ),
            _new_req_id(),
        )

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, crash)
    app.add_middleware(_Guard, token=token)
    return app
