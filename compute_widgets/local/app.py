"""The v2 routes of the local control plane: Clarifai's compute API on 127.0.0.1.

`create_app(store, catalog, clock, token, metrics=None)` builds the ASGI app. All routes are in
one table (`ROUTES`) that names each handler function directly: ``handler(plane, rq) -> body``
takes the shared state (`crud.Plane`) and a parsed `Rq` and returns the response body without
its ``status`` (nothing HTTP in it, so another door can call the same functions). The dispatcher adds ``status
{code, description, req_id}``, turns every failure into a Clarifai status with a matching HTTP
status, and never answers 500 for bad input. Auth, the trailing slash and the body size cap
live in one pure-ASGI middleware (`Guard`).

Modules (one concern each; this one keeps the factory, the route table and the dispatcher):
`wire` (limits, `Fail`, `Rq`, JSON and error responses), `guard` (the middleware), `crud`
(shared state `Plane`, the resource kinds, PATCH actions, delete cascades), `resources`
(cluster/nodepool/deployment handlers), `runners` (runners, deployment_metrics), `users`
(GetUser), `providers` (catalog handlers), `models_catalog`
(models to deploy), `observability` (metrics, labels, logs), `local_only` (/local/*),
`openapi` (the document of `ROUTES`), `serving` (uvicorn, the loop monitor, thread priority).

Wire (clarifai-api.md §3, §8): keys snake_case or camelCase in, enum names or ints in, unknown
query keys and ``True``/``False`` ignored; out: snake_case, int enums, zero values omitted,
``[]`` for empty list fields.

Decisions where Clarifai documents nothing:

- Paging: ``page`` >= 1 (default 1), 1 <= ``per_page`` <= `wire.MAX_PER_PAGE` (default 128;
  ListLogEntries: default 32 and the last page). Zero means unset (proto3: a gRPC client
  cannot omit an int), so ``page=0``/``per_page=0`` get the defaults; anything else out of
  range is a 400 BAD_REQUEST naming the parameter.
- Request fields of a List RPC that we do not implement are refused by name, never ignored:
  ListDeployments ``scheduling_priorities``, ListNodepools/GetNodepool ``active_usage`` (true).
  ListDeployments ``workflow_version_ids`` is implemented (a deployment matches the model or
  workflow version lists). Query keys that are no field of the RPC are ignored (the JSON
  channel sends ``user_app_id.user_id``).
- Duplicate id (in the store or twice in one batch): DATABASE_DUPLICATE_KEY, HTTP 409.
- Deletes cascade (reference §6.1: the children stop working, so they go too): deleting a
  cluster deletes its nodepools; deleting a nodepool removes it from the deployments that use
  it and deletes a deployment left with no nodepool. The status description lists exactly
  what was deleted. Deleting an unknown id fails the whole request (404) before any write.
- PATCH ``action`` (default ``overwrite``). Evidence: the SDK's own comments on
  PatchDeployments (clarifai/cli/model.py, ``model deploy``) say Clarifai accepts only
  ``overwrite`` ("Invalid action: Unrecognized action 'merge'") and send overwrite patches
  holding only id, visibility and desired_worker while expecting the rest kept. Neither the
  SDK nor the CLI patches nodepools or clusters; our own tools (``%compute nodepools scale``,
  config apply, the browser) send the whole nodepool with ``overwrite`` and rely on it to
  write zeros (``--min 0``), which a present-fields-only rule cannot (proto3 omits zeros).
  * Deployments: ``overwrite`` only (another action: that status, nothing written). Each
    top-level field the patch holds replaces the stored one whole; absent fields are kept
    (``nodepools``/``deployment_nodepools`` are replaced together).
  * Clusters and nodepools, ``overwrite``: the given object replaces the stored one. Kept
    from the stored object: id, owner, parents, created_at, and the structural fields the
    object cannot be valid without when they are absent (cluster cloud_provider/region,
    nodepool instance_types/node_capacity_type). Other absent fields become zero.
  * Nodepools also take ``merge`` (only the given fields change; nested objects merge key by
    key; lists are replaced) and ``remove`` (entries of the given list fields are removed,
    matched by id or by value for capacity types; given metadata keys are deleted).
  * Runners: see `runners` (user runners: as deployments; deployment runners: refused).
  The result is validated like a create. A cluster's provider and region cannot change.
- Deployments: ``desired_worker`` in a PATCH is written and ``worker`` reflects it (re-pin a
  version; Clarifai treats ``worker`` as observed state, we also take a ``worker`` given
  without ``desired_worker``, which our own client sends); one deployment per model
  (owner/app/model id, any version) per nodepool; without an ``autoscale_config`` the docs
  sample's server defaults are stored. Get/List add ``deployment_metrics`` from the
  simulator (`runners.with_metrics`).
- Nodepool status: PENDING until provisioned (metrics.node_state when a metrics engine is
  attached; else `PROVISION_DELAY_GPU`/`PROVISION_DELAY_CPU` after create; `crud`), then READY. A
  status set with PostNodepoolStatus is pinned until a status of 0 (UNKNOWN) unpins it.
- The shared cluster `crud.SHARED_CLUSTER_ID` (Clarifai-managed) is listed first for every user;
  it cannot be patched, deleted or given nodepools.
- The body cap is `wire.MAX_BODY` bytes (HTTP 413, CONN_BAD_REQUEST_FORMAT).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from compute_widgets.api.errors import InvalidInput
from compute_widgets.api.models import visible
from compute_widgets.local import (
    local_only,
    models_catalog,
    observability,
    providers,
    resources,
    runners,
    users,
)
from compute_widgets.local import store as st
from compute_widgets.local.catalog import Catalog
from compute_widgets.local.clock import Clock
from compute_widgets.local.crud import Plane
from compute_widgets.local.guard import Guard
from compute_widgets.local.openapi import openapi
from compute_widgets.local.serving import Serving, lower_priority
from compute_widgets.local.wire import (
    ON_LOOP,
    C,
    Fail,
    NeedsThread,
    Rq,
    dumps,
    error_response,
    new_req_id,
    parse_body,
    parse_query,
    read_raw_body,
    status_body,
)

# what other code uses: the factory (runtime) and the route table (tests, OpenAPI). Limits are
# in `wire`, the resource kinds and the shared cluster in `crud`: import them from there.
__all__ = ["ROUTES", "R", "create_app"]

log = logging.getLogger("compute_widgets.local")

Handler = Callable[[Plane, Rq], dict[str, Any]]  # one RPC: the body without its status
Finish = Callable[[int, dict[str, Any]], Any]  # (HTTP status, body) -> what the door sends


# ------------------------------------------------------------------------------------------------
# routes: one table


@dataclass(frozen=True)
class R:
    method: str
    path: str
    handler: Handler
    rpc: str  # operation id in the OpenAPI doc
    body: tuple[str, ...] = ()  # documented body fields
    query: tuple[str, ...] = ()  # documented query parameters
    # a read that may simulate (metrics, nodepool node_count/status): in the threadpool when a
    # metrics engine is attached. Every write runs there anyway (see `_endpoint`).
    offload: bool = False
    # such a read that is cheap most of the time: tried on the loop first (`wire.ON_LOOP`), rerun
    # in the threadpool when it raises NeedsThread
    try_loop: bool = False


_U = "/v2/users/{user_id}"
_CC = _U + "/compute_clusters/{cc}"
_NP = _CC + "/nodepools/{np}"
PAGING = ("page", "per_page")
_APP = _U + "/apps/{app_id}"
_MODEL = _APP + "/models/{model_id}"
_MODEL_QUERY = (*PAGING, "search", "model_type_id")

_RUNNERS = _NP + "/runners"
_DEPLOYMENT_QUERY = (
    *PAGING,
    "nodepool_id",
    "compute_cluster_id",
    "model_version_ids",
    "workflow_version_ids",
    "scheduling_priorities",
)
_RUNNER_QUERY = (*PAGING, "model_version_ids", "min_replicas")

ROUTES: tuple[R, ...] = (
    R("GET", "/v2/cloud_providers", providers.list_providers, "ListCloudProviders"),
    R("GET", _U, users.get_user, "GetUser"),
    R("GET", "/v2/cloud_providers/{provider}/regions", providers.list_regions, "ListCloudRegions"),
    R(
        "GET",
        "/v2/cloud_providers/{provider}/regions/{region}/instance_types",
        providers.list_instance_types,
        "ListInstanceTypes",
    ),
    # models to deploy (models_catalog.py): Clarifai's app-scoped and unscoped bindings
    R("GET", "/v2/models", models_catalog.list_models, "ListModels", query=_MODEL_QUERY),
    R("GET", _U + "/models", models_catalog.list_models, "ListModelsOfUser", query=_MODEL_QUERY),
    R("GET", _APP + "/models", models_catalog.list_models, "ListModelsOfApp", query=_MODEL_QUERY),
    R("GET", "/v2/models/{model_id}", models_catalog.get_model, "GetModelUnscoped"),
    R("GET", _MODEL, models_catalog.get_model, "GetModel"),
    R(
        "GET",
        "/v2/models/{model_id}/versions",
        models_catalog.list_model_versions,
        "ListModelVersionsUnscoped",
        query=PAGING,
    ),
    R(
        "GET",
        _MODEL + "/versions",
        models_catalog.list_model_versions,
        "ListModelVersions",
        query=PAGING,
    ),
    R(
        "GET",
        "/v2/models/{model_id}/versions/{version_id}",
        models_catalog.get_model_version,
        "GetModelVersionUnscoped",
    ),
    R(
        "GET",
        _MODEL + "/versions/{version_id}",
        models_catalog.get_model_version,
        "GetModelVersion",
    ),
    R(
        "GET",
        _U + "/compute_clusters",
        resources.list_clusters,
        "ListComputeClusters",
        query=PAGING,
    ),
    R(
        "GET",
        "/v2/compute_clusters",
        resources.list_clusters,
        "ListComputeClustersUnscoped",
        query=PAGING,
    ),
    R(
        "POST",
        _U + "/compute_clusters",
        resources.post_clusters,
        "PostComputeClusters",
        body=("compute_clusters",),
    ),
    R(
        "PATCH",
        _U + "/compute_clusters",
        resources.patch_clusters,
        "PatchComputeClusters",
        body=("compute_clusters", "action"),
    ),
    R(
        "DELETE",
        _U + "/compute_clusters",
        resources.delete_clusters,
        "DeleteComputeClusters",
        body=("ids",),
    ),
    R("GET", _CC, resources.get_cluster, "GetComputeCluster"),
    R(
        "GET",
        _CC + "/nodepools",
        resources.list_nodepools,
        "ListNodepools",
        query=PAGING,
        offload=True,
    ),
    R(
        "GET",
        _U + "/nodepools",
        resources.list_nodepools,
        "ListNodepoolsOfUser",
        query=PAGING,
        offload=True,
    ),
    R(
        "GET",
        "/v2/nodepools",
        resources.list_nodepools,
        "ListNodepoolsUnscoped",
        query=PAGING,
        offload=True,
    ),
    R("POST", _CC + "/nodepools", resources.post_nodepools, "PostNodepools", body=("nodepools",)),
    R(
        "PATCH",
        _CC + "/nodepools",
        resources.patch_nodepools,
        "PatchNodepools",
        body=("nodepools", "action"),
    ),
    R("DELETE", _CC + "/nodepools", resources.delete_nodepools, "DeleteNodepools", body=("ids",)),
    # one pool, but it may catch up years of simulation after a clock advance, or compile the
    # kernel: not on the event loop
    R("GET", _NP, resources.get_nodepool, "GetNodepool", offload=True, try_loop=True),
    R(
        "POST",
        _NP + "/status",
        resources.post_nodepool_status,
        "PostNodepoolStatus",
        body=("status", "status_description"),
    ),
    R(
        "GET",
        _U + "/deployments",
        resources.list_deployments,
        "ListDeployments",
        query=_DEPLOYMENT_QUERY,
        offload=True,
    ),
    R(
        "GET",
        "/v2/deployments",
        resources.list_deployments,
        "ListDeploymentsUnscoped",
        query=_DEPLOYMENT_QUERY,
        offload=True,
    ),
    R(
        "POST",
        _U + "/deployments",
        resources.post_deployments,
        "PostDeployments",
        body=("deployments",),
    ),
    R(
        "PATCH",
        _U + "/deployments",
        resources.patch_deployments,
        "PatchDeployments",
        body=("deployments", "action"),
    ),
    R(
        "DELETE",
        _U + "/deployments",
        resources.delete_deployments,
        "DeleteDeployments",
        body=("ids",),
    ),
    # deployment_metrics come from the simulator: off the loop
    R("GET", _U + "/deployments/{dep}", resources.get_deployment, "GetDeployment", offload=True),
    # runners (runners.py): deployments' replicas as the simulator runs them, and user runners
    R("GET", _RUNNERS, runners.list_runners, "ListRunners", query=_RUNNER_QUERY, offload=True),
    R(
        "GET",
        _U + "/runners",
        runners.list_runners,
        "ListRunnersOfUser",
        query=(*_RUNNER_QUERY, "compute_cluster_id", "nodepool_id"),
        offload=True,
    ),
    R("GET", _RUNNERS + "/{runner_id}", runners.get_runner, "GetRunner", offload=True),
    R("GET", _U + "/runners/{runner_id}", runners.get_runner, "GetRunnerOfUser", offload=True),
    # PatchRunners is Clarifai's POST on this path with an `action` (post_runners passes it
    # on); PATCH on the path is the route the gRPC door names for it
    R("POST", _RUNNERS, runners.post_runners, "PostRunners", body=("runners", "action")),
    R("PATCH", _RUNNERS, runners.patch_runners, "PatchRunners", body=("runners", "action")),
    R("DELETE", _RUNNERS, runners.delete_runners, "DeleteRunners", body=("ids",)),
    # not a Clarifai binding: User.delete_runner sends ids alone, which the gRPC door serves here
    R("DELETE", _U + "/runners", runners.delete_runners, "DeleteRunnersOfUser", body=("ids",)),
    R(
        "POST",
        _U + "/metrics",
        observability.post_metrics,
        "PostMetricsQuery",
        body=("query",),
        offload=True,
    ),
    R(
        "GET",
        _U + "/metrics/labels",
        observability.list_metric_labels,
        "ListMetricLabels",
        query=("metric_types",),
    ),
    R(
        "GET",
        _NP + "/runners/{runner_id}/{log_type}/logs",
        observability.list_log_entries,
        "ListLogEntries",
        query=PAGING,
        offload=True,
    ),
    R(
        "GET",
        _U + "/compute_clusters/{cc_user}/{cc}/nodepools/{np}/versions/{version}/{log_type}/logs",
        observability.list_log_entries,
        "ListLogEntriesOfVersion",
        query=PAGING,
        offload=True,
    ),
    R(
        "GET",
        _CC + "/{log_type}/logs",
        observability.list_log_entries,
        "ListLogEntriesOfCluster",
        query=(*PAGING, "nodepool_id", "event_fields"),
        offload=True,
    ),
    R("GET", "/local/health", local_only.health, "LocalHealth"),
    R("GET", "/local/stats", local_only.serving_stats, "LocalStats"),
    R("GET", "/local/clock", local_only.get_clock, "LocalClock"),
    R(
        "POST",
        "/local/clock/advance",
        local_only.advance_clock,
        "LocalClockAdvance",
        body=("seconds",),
    ),
)


def _off_loop(plane: Plane, route: R) -> bool:
    """Whether the route runs in the threadpool. Writes do (a batch of 7,000 pools, or a PATCH
    after a clock advance, took seconds), and so does PostMetricsQuery (a POST); so do reads
    that may simulate, when a metrics engine is attached. Health and the clock stay on the
    loop: they must answer while the rest is busy."""
    if route.path.startswith("/local/"):
        return route.method != "GET"  # advancing the clock writes the store
    if route.method != "GET":
        return True
    return route.offload and plane.metrics is not None


class Dispatcher:
    """Runs one route's handler for either door (REST here, gRPC in `grpc_door`): parse the
    body, call the handler, turn every failure into a Clarifai status. Writes run one at a time
    in the threadpool, and so do reads that may simulate (`_off_loop`); the rest on the loop.

    `run` returns (HTTP status, the whole body with its ``status``): nothing of a transport."""

    def __init__(self, plane: Plane) -> None:
        self.plane = plane
        self.writes = asyncio.Lock()  # one write at a time, as when they all ran on the loop

    def answer(self, route: R, rq: Rq, raw: bytes, req_id: str, where: str, finish: Finish) -> Any:
        """Parse, handle, serialize (`finish`): everything after the bytes arrived, in one
        thread (a big batch's JSON or protobuf must not stall the loop either)."""
        if _off_loop(self.plane, route) and not ON_LOOP.get():
            lower_priority()  # the event loop first: it answers health checks
        return finish(*self._answer(route, rq, raw, req_id, where))

    def _answer(
        self, route: R, rq: Rq, raw: bytes, req_id: str, where: str
    ) -> tuple[int, dict[str, Any]]:
        try:
            if raw:
                rq.body = parse_body(raw)
            result = route.handler(self.plane, rq)
            status = result.pop("status", None) or {"code": C.SUCCESS, "description": "Ok"}
            status["code"] = int(status["code"])
            status["req_id"] = req_id
            return 200, {"status": status, **result}
        except NeedsThread:
            raise
        except Fail as f:
            return failure(f, req_id)
        except InvalidInput as e:
            return failure(Fail(C.BAD_REQUEST, str(e)), req_id)
        except sqlite3.OperationalError as e:
            log.exception("%s %s failed", route.method, where)
            full = "full" in str(e)  # "database or disk is full": nothing was written
            return failure(
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
            log.exception("%s %s failed", route.method, where)
            return failure(
                Fail(
                    C.INTERNAL_SERVER_ISSUE,
                    f"Internal error in the local control plane ({type(e).__name__}); see the server log.",
                    http=500,
                ),
                req_id,
            )

    async def run(
        self, route: R, rq: Rq, raw: bytes, req_id: str, where: str, finish: Finish
    ) -> Any:
        """`finish(http_status, body)` of the call: its result is returned."""
        args = (route, rq, raw, req_id, where, finish)
        if not _off_loop(self.plane, route):
            return self.answer(*args)
        if route.try_loop:  # cheap most of the time: a thread hop costs more than the call
            token = ON_LOOP.set(True)
            try:
                return self.answer(*args)
            except NeedsThread:
                pass  # it would wait or simulate: a thread's job (nothing was written)
            finally:
                ON_LOOP.reset(token)
        if route.method == "GET":
            return await run_in_threadpool(self.answer, *args)
        async with self.writes:
            return await run_in_threadpool(self.answer, *args)


def failure(f: Fail, req_id: str) -> tuple[int, dict[str, Any]]:
    """(HTTP status, body) of a failed call. Errors echo what the client sent (IDs, paths):
    control characters go out escaped (NUL -> \\x00), so no terminal that shows them acts on them."""
    return f.http, status_body(f.code, visible(f.description), req_id, visible(f.details))


def _endpoint(
    plane: Plane, route: R, dispatcher: Dispatcher
) -> Callable[[Request], Awaitable[Response]]:
    has_body = route.method in ("POST", "PATCH", "DELETE")

    async def endpoint(request: Request) -> Response:
        req_id = new_req_id()
        try:
            params = request.path_params
            user = params.get("user_id") or "me"
            raw = await read_raw_body(request) if has_body else b""
            rq = Rq(
                path=params,
                query=parse_query(request) if request.scope.get("query_string") else {},
                body={},
                user=plane.owner if user == "me" else user,
            )
        except Fail as f:
            return error_response(f, req_id)
        except ClientDisconnect:  # gone (or its body deadline passed): nobody to answer
            return Response(status_code=400)

        def finish(http: int, body: dict[str, Any]) -> Response:
            return Response(
                dumps(body),
                status_code=http,
                media_type="application/json",
                headers={"X-Clarifai-Request-ID": req_id},
            )

        return await dispatcher.run(route, rq, raw, req_id, request.url.path, finish)

    endpoint.__name__ = route.rpc
    return endpoint


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
    grpc_host: str | None = "127.0.0.1",
    on_started: Callable[[Any], None] | None = None,
) -> Any:
    """The control plane as a FastAPI app (routes are plain Starlette routes for speed; the
    OpenAPI document at /openapi.json is generated from `ROUTES`). `owner` is the user id
    that ``me`` and the unscoped routes stand for.

    At startup, on the same event loop, the gRPC door (`grpc_door`) listens on a free port of
    `grpc_host` (None: no gRPC door) and ``app.state.grpc_url`` is ``http://host:port``, the
    base the official clarifai CLI and SDK take; then `on_started(app.state)` runs (the runtime
    writes its file there, so a file on disk means both doors answer)."""
    from fastapi import FastAPI

    version = _version()
    serving = Serving(simulate=metrics is not None)
    plane = Plane(store, catalog, clock, metrics, owner=owner, version=version, serving=serving)
    dispatcher = Dispatcher(plane)

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        serving.start()  # loop monitor, quiet loop errors, simulator warm-up thread
        door = None
        try:
            if grpc_host is not None:
                from compute_widgets.local.grpc_door import GrpcDoor

                door = GrpcDoor(dispatcher, token)
                port = await door.start(grpc_host)
                app.state.grpc_url = f"http://{grpc_host}:{port}"
            if on_started is not None:
                on_started(app.state)
            yield
        finally:
            if door is not None:
                await door.stop()
            serving.stop()

    app = FastAPI(
        title="compute_widgets local control plane",
        version=version,
        docs_url=None,
        redoc_url=None,
        redirect_slashes=False,
        lifespan=lifespan,
    )
    app.state.grpc_url = ""
    for r in ROUTES:
        app.router.routes.append(
            Route(r.path, _endpoint(plane, r, dispatcher), methods=[r.method], name=r.rpc)
        )
    schema = openapi(ROUTES, "compute_widgets local control plane (Clarifai compute API)", version)
    app.openapi = lambda: schema  # type: ignore[method-assign]
    app.state.control_plane = plane
    app.state.serving = serving  # serving.make_server adds its connection table

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
        return error_response(f, new_req_id())

    async def crash(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", exc_info=exc)
        return error_response(
            Fail(
                C.INTERNAL_SERVER_ISSUE,
                f"Internal error in the local control plane ({type(exc).__name__}).",
                http=500,
            ),
            new_req_id(),
        )

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, crash)
    app.add_middleware(Guard, token=token)
    return app
