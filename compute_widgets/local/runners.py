"""Runners (List/Get/Post/Patch/Delete Runners) and the live replica counts of deployments
(``deployment_metrics``): one function per RPC, ``handler(plane, rq) -> body``.

A runner is what a deployment materialises into inside a nodepool (clarifai-api.md §1.1,
§2.7). Two kinds, decided here (Clarifai documents neither rule):

- Deployment runners mirror the simulator: one per deployment per nodepool it uses, id
  ``<deployment id>-<nodepool id>`` (`runner_id`), ``worker`` = the deployment's worker,
  ``nodepool`` = the stored nodepool, ``compute_info`` = its instance type's,
  ``num_replicas`` = the simulator's live replicas now, ``min_replicas`` = the deployment's,
  ``runner_metrics {pods_total (live or desired, the larger), pods_running (live)}``, and
  ``metadata {deployment_id}`` / ``labels ["deployment_id=<id>"]`` naming the deployment they
  come from. They are never stored: PatchRunners and DeleteRunners refuse them
  (RUNNER_INVALID_REQUEST, naming the deployment to change or delete instead).
- User runners are what PostRunners creates (``clarifai model serve`` registers a local
  runner this way): stored in SQLite under their nodepool, id generated when not given,
  ``num_replicas`` as posted. PatchRunners takes ``overwrite`` only, replacing only the fields
  given (as PatchDeployments); DeleteRunners deletes them; deleting their nodepool deletes them.

Routes: nodepool-scoped (``.../nodepools/{np}/runners``) and user-scoped (``/runners``); the
gRPC door calls the same handlers with ``cc``/``np`` only when the request names them, so
every handler also works without them (GetRunner / DeleteRunners by id alone, as
``User.runner`` and ``User.delete_runner`` send). PatchRunners shares PostRunners' POST path
(clarifai-api.md §1.1): a POST with an ``action`` is a PatchRunners; PATCH on the path works too.

ListRunners filters (ANDed): the nodepool (path or ``compute_cluster_id``/``nodepool_id``),
``model_version_ids`` (the worker's model version: ``clarifai deployment logs`` finds the
deployment's runner with it), ``min_replicas`` (runners with at least that many replicas).
"""

from __future__ import annotations

import os
from typing import Any

from compute_widgets.api import models as m
from compute_widgets.api.errors import InvalidInput
from compute_widgets.local import store as st
from compute_widgets.local.crud import SHARED_CLUSTER_ID, Plane
from compute_widgets.local.wire import C, Fail, Rq, plural, quote

_RUNNER_FIELDS = ("description", "worker", "num_replicas", "min_replicas", "metadata", "labels")
MAX_REPLICAS = 1000


def runner_id(deployment_id: str, nodepool_id: str) -> str:
    return f"{deployment_id}-{nodepool_id}"


# -- live replicas (simulator) ---------------------------------------------------------------


class Replicas:
    """(live, desired) replicas per (cluster, nodepool, deployment) now, one simulator call
    per nodepool per request; all zero without a metrics engine."""

    def __init__(self, plane: Plane, user: str) -> None:
        self.plane, self.user = plane, user
        self._pools: dict[tuple[str, str], dict[str, tuple[int, int]]] = {}

    def of(self, cc: str, np: str, dep: str) -> tuple[int, int]:
        if self.plane.metrics is None:
            return 0, 0
        if (cc, np) not in self._pools:
            self._pools[cc, np] = self.plane.metrics.deployment_replicas(self.user, cc, np)
        return self._pools[cc, np].get(dep, (0, 0))


def _summary(live: int, desired: int) -> dict[str, Any]:
    out = {}
    if desired:
        out["desired_replicas"] = desired
    if live:
        out["live_replicas"] = live
    return out


def with_metrics(plane: Plane, user: str, deps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add ``deployment_metrics`` (output only): live/desired replicas summed over the
    deployment's nodepools, top level (what ``clarifai deployment get`` prints) and in
    ``aggregate``, and per nodepool. ``rollout_in_progress`` stays false: the simulator
    has no rollouts (a version change applies at once)."""
    replicas = Replicas(plane, user)
    for d in deps:
        per_pool, live_sum, want_sum = [], 0, 0
        for cc, np in st.deployment_nodepool_refs(d):
            live, want = replicas.of(cc, np, d["id"])
            live_sum, want_sum = live_sum + live, want_sum + want
            per_pool.append(
                {"compute_cluster_id": cc, "nodepool_id": np, "metrics": _summary(live, want)}
            )
        total = _summary(live_sum, want_sum)
        d["deployment_metrics"] = {**total, "aggregate": dict(total), "nodepool_metrics": per_pool}
    return deps


# -- the runners of a user ---------------------------------------------------------------------


def _deployment_runners(
    plane: Plane, user: str, d: dict[str, Any], replicas: Replicas, nodepools: dict, rid: str
) -> list[dict[str, Any]]:
    out = []
    for cc, np_id in st.deployment_nodepool_refs(d):
        if rid and runner_id(d["id"], np_id) != rid:
            continue  # only the asked runner's pool is simulated
        key = (cc, np_id)
        if key not in nodepools:
            nodepools[key] = plane.store.nodepool_wire(user, cc, np_id)
        np = nodepools[key]
        if np is None:
            continue
        live, want = replicas.of(cc, np_id, d["id"])
        r: dict[str, Any] = {
            "id": runner_id(d["id"], np_id),
            "description": f"Runner of deployment '{d['id']}' on nodepool '{np_id}'",
            "created_at": d.get("created_at"),
            "modified_at": d.get("modified_at"),
            "metadata": {"deployment_id": d["id"]},
            "labels": [f"deployment_id={d['id']}"],
            "worker": d.get("worker") or {},
            "nodepool": {k: v for k, v in np.items() if k not in ("status", "status_description")},
        }
        info = ((np.get("instance_types") or [{}])[0]).get("compute_info")
        if info:
            r["compute_info"] = info
        if live:
            r["num_replicas"] = live
        min_replicas = (d.get("autoscale_config") or {}).get("min_replicas")
        if min_replicas:
            r["min_replicas"] = min_replicas
        r["runner_metrics"] = {
            k: v for k, v in (("pods_total", max(live, want)), ("pods_running", live)) if v
        }
        out.append({k: v for k, v in r.items() if v not in (None, "")})
    return out


def _user_runner(plane: Plane, user: str, r: dict[str, Any]) -> dict[str, Any] | None:
    ref = r.get("nodepool") or {}
    np = plane.store.nodepool_wire(
        user, (ref.get("compute_cluster") or {}).get("id", ""), ref.get("id", "")
    )
    if np is None:
        return None
    r = dict(r)
    r["nodepool"] = {k: v for k, v in np.items() if k not in ("status", "status_description")}
    return r


def _all_runners(
    plane: Plane, user: str, cc: str | None, np: str | None, rid: str = ""
) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    """(runner wire, the deployment it mirrors or None) of the user, deployments' first;
    only runner `rid` when given."""
    replicas, nodepools = Replicas(plane, user), {}
    deps = plane.store.deployments_wire(user, nodepool_id=np or None, compute_cluster_id=cc or None)
    out = []
    for d in deps:
        for r in _deployment_runners(plane, user, d, replicas, nodepools, rid):
            where = r["nodepool"]
            if (not np or where["id"] == np) and (not cc or where["compute_cluster"]["id"] == cc):
                out.append((r, d))
    for r in plane.store.runners_wire(user, cc, np):
        if rid and r["id"] != rid:
            continue
        view = _user_runner(plane, user, r)
        if view is not None:
            out.append((view, None))
    return out


def _where(rq: Rq) -> tuple[str | None, str | None]:
    """The (cluster, nodepool) a request names: path, or the request fields (None = any)."""
    cc = rq.path.get("cc") or rq.q1("compute_cluster_id") or rq.body.get("compute_cluster_id")
    np = rq.path.get("np") or rq.q1("nodepool_id") or rq.body.get("nodepool_id")
    return (str(cc) if cc else None), (str(np) if np else None)


def cluster_user(plane: Plane, user: str, cc: str | None) -> str:
    """Whose cluster `cc` is, as addressed by `user`: `user` when they have it, else the
    plane's owner when the owner has it. Why: ``clarifai deployment logs`` asks ListRunners and
    ListLogEntries under the *model owner's* id (clarifai/runners/models/model_deploy.py
    ``stream_model_logs``: ``user_id = w.model.user_id or user_id``), e.g. ``clarifai`` for a
    catalog model deployed on the owner's nodepool; the local plane has one account (its
    token's), so that lookup lands on the owner's cluster."""
    if not cc or cc == SHARED_CLUSTER_ID or plane.store.cluster_wire(user, cc) is not None:
        return user
    return plane.owner if plane.store.cluster_wire(plane.owner, cc) is not None else user


def _check_where(plane: Plane, user: str, cc: str | None, np: str | None) -> None:
    if np and not cc:
        raise Fail(
            C.RUNNER_INVALID_ARGUMENT,
            f"compute_cluster_id: nodepool '{np}' is named without its compute cluster; give "
            "compute_cluster_id too.",
        )
    if cc and np:
        plane.nodepool_or_fail(user, cc, np)
    elif cc:
        plane.cluster_or_fail(user, cc)


def find_runner(
    plane: Plane, user: str, cc: str | None, np: str | None, rid: str
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(runner, the deployment it mirrors or None); RUNNER_DOES_NOT_EXIST when there is no
    runner `rid` (in that nodepool, when one is named)."""
    user = cluster_user(plane, user, cc)
    _check_where(plane, user, cc, np)
    for r, d in _all_runners(plane, user, cc, np, rid):
        return r, d
    where = f" in nodepool '{np}' of compute cluster '{cc}'" if np else ""
    raise Fail(C.RUNNER_DOES_NOT_EXIST, f"Runner '{rid}' not found for user '{user}'{where}.")


def _find(plane: Plane, rq: Rq, rid: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    return find_runner(plane, rq.user, *_where(rq), rid)


# -- handlers ------------------------------------------------------------------------------------


def list_runners(plane: Plane, rq: Rq) -> dict[str, Any]:
    page, per_page = rq.paging()
    cc, np = _where(rq)
    user = cluster_user(plane, rq.user, cc)
    _check_where(plane, user, cc, np)
    versions = set(rq.values("model_version_ids"))
    least = rq.int_param("min_replicas", 0, 0, MAX_REPLICAS)
    items = []
    for r, _ in _all_runners(plane, user, cc, np):
        version = (((r.get("worker") or {}).get("model") or {}).get("model_version") or {}).get(
            "id"
        )
        if versions and version not in versions:
            continue
        if int(r.get("num_replicas") or 0) < least:
            continue
        items.append(r)
    return {"runners": items[(page - 1) * per_page : page * per_page]}


def get_runner(plane: Plane, rq: Rq) -> dict[str, Any]:
    return {"runner": _find(plane, rq, rq.path["runner_id"])[0]}


def _parse_runner(raw: Any, prefix: str) -> dict[str, Any]:
    """The stored fields of one posted runner; `Fail` naming the field when wrong."""
    if not isinstance(raw, dict):
        raise Fail(
            C.RUNNER_INVALID_ARGUMENT, f"{prefix}: must be an object, got {type(raw).__name__}."
        )
    out: dict[str, Any] = {}
    if raw.get("id"):
        problem = m.check_id(raw["id"], f"{prefix}.id")
        if problem:
            raise Fail(C.RUNNER_INVALID_ARGUMENT, problem + ".")
        out["id"] = raw["id"]
    desc = raw.get("description") or ""
    if not isinstance(desc, str) or len(desc) > m.MAX_DESCRIPTION:
        raise Fail(
            C.RUNNER_INVALID_ARGUMENT,
            f"{prefix}.description: give text of at most {m.MAX_DESCRIPTION} characters.",
        )
    if desc:
        out["description"] = desc
    if "worker" in raw:
        try:
            worker = m.Worker.from_wire(raw["worker"] or {}).to_wire()
        except (InvalidInput, ValueError, TypeError) as e:
            raise Fail(C.RUNNER_INVALID_ARGUMENT, f"{prefix}.worker: {e}") from None
        if worker:
            out["worker"] = worker
    for key in ("num_replicas", "min_replicas"):
        value = raw.get(key) or 0
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_REPLICAS:
            raise Fail(
                C.RUNNER_INVALID_ARGUMENT,
                f"{prefix}.{key}: give a whole number between 0 and {MAX_REPLICAS}, got {str(value)[:40]!r}.",
            )
        if value:
            out[key] = value
    if raw.get("metadata"):
        if not isinstance(raw["metadata"], dict):
            raise Fail(C.RUNNER_INVALID_ARGUMENT, f"{prefix}.metadata: give an object.")
        out["metadata"] = raw["metadata"]
    labels = raw.get("labels") or []
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise Fail(C.RUNNER_INVALID_ARGUMENT, f"{prefix}.labels: give a list of strings.")
    if labels:
        out["labels"] = labels
    return out


def _runner_list(rq: Rq) -> list[Any]:
    items = rq.body.get("runners")
    if not isinstance(items, list) or not items:
        raise Fail(C.RUNNER_INVALID_ARGUMENT, "runners: give a non-empty list of runners.")
    return items


def post_runners(plane: Plane, rq: Rq) -> dict[str, Any]:
    """PostRunners; a body with ``action`` is a PatchRunners (same POST path, §1.1)."""
    if rq.body.get("action"):
        return patch_runners(plane, rq)
    cc, np_id = _where(rq)
    if not (cc and np_id):
        raise Fail(
            C.RUNNER_INVALID_ARGUMENT,
            "compute_cluster_id and nodepool_id: a runner is created inside a nodepool; name both.",
        )
    plane.nodepool_or_fail(rq.user, cc, np_id)
    parsed = [_parse_runner(r, f"runners[{i}]") for i, r in enumerate(_runner_list(rq))]
    taken = {  # every runner id of the user (nothing simulated for this)
        runner_id(d["id"], np)
        for d in plane.store.deployments_wire(rq.user)
        for _, np in st.deployment_nodepool_refs(d)
    } | {r["id"] for r in plane.store.runners_wire(rq.user)}
    for r in parsed:
        r.setdefault("id", os.urandom(6).hex())
        if r["id"] in taken:
            raise Fail(
                C.DATABASE_DUPLICATE_KEY, f"Runner '{r['id']}' already exists; nothing was created."
            )
        taken.add(r["id"])
        r["nodepool"] = {"id": np_id, "compute_cluster": {"id": cc, "user_id": rq.user}}
    out = []
    with plane.store.transaction():
        for r in parsed:
            try:
                out.append(plane.store.write_runner(rq.user, cc, np_id, r))
            except st.DuplicateId as e:  # another request took the id meanwhile
                raise Fail(C.DATABASE_DUPLICATE_KEY, f"{e} Nothing was created.") from None
    return {"runners": [_user_runner(plane, rq.user, r) for r in out]}


def patch_runners(plane: Plane, rq: Rq) -> dict[str, Any]:
    action = str(rq.body.get("action") or "overwrite")
    if action.lower() != "overwrite":
        raise Fail(
            C.RUNNER_INVALID_ARGUMENT,
            f"Invalid action: Unrecognized action '{action[:40]}'. action: runners take 'overwrite'.",
        )
    items = _runner_list(rq)
    out = []
    with plane.store.transaction():
        for i, raw in enumerate(items):
            given = _parse_runner(raw, f"runners[{i}]")
            rid = given.get("id")
            if not rid:
                raise Fail(
                    C.RUNNER_INVALID_ARGUMENT, f"runners[{i}].id: name the runner to change."
                )
            stored, dep = _find(plane, rq, rid)
            if dep is not None:
                raise Fail(
                    C.RUNNER_INVALID_REQUEST,
                    f"Runner '{rid}' is deployment '{dep['id']}' running on its nodepool; change "
                    "the deployment (PatchDeployments) instead. Nothing was changed.",
                )
            new = dict(plane.store.runner_wire(rq.user, rid) or {})
            for key in _RUNNER_FIELDS:
                if key in raw:
                    if key in given:
                        new[key] = given[key]
                    else:
                        new.pop(key, None)
            cc = stored["nodepool"]["compute_cluster"]["id"]
            np_id = stored["nodepool"]["id"]
            out.append(plane.store.write_runner(rq.user, cc, np_id, new, update=True))
    return {"runners": [_user_runner(plane, rq.user, r) for r in out]}


def delete_runners(plane: Plane, rq: Rq) -> dict[str, Any]:
    ids = rq.body.get("ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids):
        raise Fail(C.RUNNER_INVALID_ARGUMENT, "ids: give a non-empty list of runner ids (strings).")
    ids = list(dict.fromkeys(ids))
    found = []
    missing = []
    for rid in ids:
        try:
            found.append(_find(plane, rq, rid))
        except Fail as f:
            if f.code != C.RUNNER_DOES_NOT_EXIST:
                raise
            missing.append(rid)
    if missing:
        raise Fail(
            C.RUNNER_DOES_NOT_EXIST,
            f"Runner {quote(missing)} not found for user '{rq.user}'; nothing was deleted.",
        )
    mirrored = [(r["id"], d["id"]) for r, d in found if d is not None]
    if mirrored:
        rid, dep = mirrored[0]
        raise Fail(
            C.RUNNER_INVALID_REQUEST,
            f"Runner '{rid}' is deployment '{dep}' running on its nodepool; delete the deployment "
            "(DeleteDeployments) or take the nodepool out of it instead. Nothing was deleted.",
        )
    with plane.store.transaction():
        for rid in ids:
            plane.store.delete_runner(rq.user, rid)
    return {
        "status": {
            "code": C.SUCCESS,
            "description": f"Deleted {plural(len(ids), 'runner')}: {quote(ids)}.",
        }
    }
