"""Everything of the client that is not I/O: building each request, parsing each response.

Each public client method is written once here as an *operation*: a generator that yields what
it needs sent and receives the parsed answer::

    def _get_nodepool(self, cc_id, np_id):
        data = yield Call("GET", f"{self._u}/compute_clusters/{cc_id}/nodepools/{np_id}")
        return Nodepool.from_wire(data["nodepool"])

An operation may yield a `Call` (gets the response's JSON dict), a list of calls (gets a list of
dicts; the async client sends them concurrently) or a `Pages` (gets every item of every page).
A failure is thrown back into the generator, so an operation can recover from it (see
`_reconcile_create`). `ComputeClient` and `AsyncComputeClient` in `client.py` only drive these
generators over httpx; `_Attempts` decides, per attempt, whether to retry and what to raise.

The rest of api/ by concept: `_results` (ResultList, what list calls return), `_secrets` (the
token: Secret, redact), `_time` (rfc3339, parse_time), `_retry` (what may be repeated, and
when), `_identity` (the local server's proof), `_frames` (tables), `_labels` (enum words).
"""

from __future__ import annotations

import logging
import platform
from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar
from urllib.parse import quote, urlsplit

import httpx

from compute_widgets.api import models as m
from compute_widgets.api._results import ResultList
from compute_widgets.api._retry import (
    RetryMode,
    RetryPolicy,
    classify_exception,
    classify_response,
    may_retry,
    parse_retry_after,
)
from compute_widgets.api._secrets import Secret, redact, refuse_clear_text
from compute_widgets.api._time import parse_time, rfc3339
from compute_widgets.api.errors import (
    ApiError,
    ComputeError,
    ConnectionFailed,
    InvalidInput,
    Problem,
    StatusCode,
    status_code_name,
)

log = logging.getLogger("compute_widgets.api")

T = TypeVar("T")
PER_PAGE = 128  # Clarifai's default page size (reference §2.8)
BATCH = 128  # resources per create request; larger lists are split (and sent concurrently by the async client)
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})

HISTORY_METRICS: dict[str, str] = {
    # MetricType name -> HISTORY column (contract: canonical HISTORY frame)
    "NODEPOOL_NODE_COUNT": "nodes",
    "NODEPOOL_CPU_UTILIZATION": "cpu_util",
    "NODEPOOL_MEMORY_UTILIZATION": "mem_util",
    "NODEPOOL_GPU_UTILIZATION": "gpu_util",
    "NODEPOOL_GPU_MEMORY_UTILIZATION": "gpu_mem_util",
}


@dataclass(frozen=True, slots=True)
class Call:
    """One HTTP request, as data. `retry` says what may be repeated (see `_retry.py`)."""

    method: str
    path: str
    params: dict[str, Any] | None = None
    json: dict[str, Any] | None = None
    retry: RetryMode = "idempotent"


@dataclass(frozen=True, slots=True)
class Pages(Generic[T]):
    """A paged list: `call(page)` builds the request of a 1-based page, `parse` its items.

    Iteration stops at an empty or short page (Clarifai sends no totals, reference §2.8).
    """

    call: Callable[[int], Call]
    parse: Callable[[dict[str, Any]], list[T]]
    per_page: int = PER_PAGE
    kind: type | None = None


Op = Generator[Any, Any, T]


def user_agent() -> str:
    try:
        from importlib.metadata import version

        ours = version("compute-widgets")
    except Exception:  # not installed (source checkout)
        ours = "0"
    return (
        f"compute-widgets/{ours} httpx/{httpx.__version__} "
        f"python/{platform.python_version()} ({platform.system()})"
    )


def _seg(value: str) -> str:
    """A path segment: quoted so that an ID with / or ? cannot address another route."""
    return quote(str(value), safe="")


def _enum(enum: type, value: Any) -> Any:
    """Enum member from a member, its name (any case) or its number."""
    if isinstance(value, enum):
        return value
    if isinstance(value, str):
        try:
            return enum[value.upper()]
        except KeyError:
            names = ", ".join(e.name for e in enum)
            raise InvalidInput(
                [Problem(enum.__name__, f"{enum.__name__} must be one of {names}; got {value!r}")]
            ) from None
    return enum(int(value))


# ---------------------------------------------------------------------------------------------
# responses


# HTTP status -> Clarifai code, for answers without a JSON status (a proxy's HTML error page).
_CODE_FOR_HTTP = {400: 90400, 401: 11008, 403: 11007, 404: 11101, 405: 11103, 429: 11005}


class _Attempts:
    """The retry loop's state for one call, shared by the sync and async shells.

    The shells do ``while True: send; delay = attempts.failed(exc) | attempts.answered(resp)``
    and sleep `delay`, or stop when `answered` returns None and take `attempts.data`.
    """

    def __init__(self, client: BaseClient, call: Call) -> None:
        self.client = client
        self.call = call
        self.number = 0  # attempts made
        self.ambiguous = False  # an earlier attempt may have been applied by the server
        self.data: dict[str, Any] = {}

    def start(self) -> None:
        self.number += 1
        if self.number > 1:
            log.debug("attempt %d of %s %s", self.number, self.call.method, self.call.path)

    def _retry_delay(self, failure: str, what: str, retry_after: float | None) -> float | None:
        policy = self.client.retry_policy
        if not may_retry(self.call.retry, failure) or self.number > policy.retries:
            return None
        if retry_after is not None and retry_after > policy.max_retry_after:
            return None
        delay = policy.wait(self.number, retry_after)
        log.info(
            "%s %s: %s; retry %d of %d in %.2f s",
            self.call.method,
            self.call.path,
            what,
            self.number,
            policy.retries,
            delay,
        )
        if failure == "ambiguous":
            self.ambiguous = True
        return delay

    def failed(self, exc: Exception) -> float:
        """Delay before the next attempt after a transport error, or raise ConnectionFailed."""
        failure = classify_exception(exc)
        what = redact(f"{type(exc).__name__}: {exc}".rstrip(": "), [self.client.secret.reveal()])
        delay = self._retry_delay(failure, what, None)
        if delay is not None:
            return delay
        tries = f"{self.number} attempt{'s' if self.number > 1 else ''}"
        raise ConnectionFailed(
            f"Could not reach {self.client.base_url} ({self.call.method} {self.call.path}): "
            f"{what} after {tries}.",
            url=self.client.base_url,
            attempts=self.number,
        ) from None  # httpx's exception may carry the request and its headers

    def answered(self, response: httpx.Response) -> float | None:
        """Delay before the next attempt, or None when `response` is final (then see `finish`)."""
        self.response = response
        try:
            data = response.json()
        except ValueError:
            data = None
        self.data = data if isinstance(data, dict) else {}
        status = self.data.get("status") if isinstance(self.data.get("status"), dict) else None
        code = _int(status.get("code")) if status else None
        failure = classify_response(response.status_code, code)
        if failure in ("ok", "final"):
            return None
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        what = f"HTTP {response.status_code}" + (f" {status_code_name(code)}" if code else "")
        return self._retry_delay(failure, what, retry_after)

    def finish(self) -> dict[str, Any]:
        """The JSON of a successful response; raises ApiError for anything else."""
        response = self.response
        data = self.data
        status = data.get("status") if isinstance(data.get("status"), dict) else None
        if status is None:
            if response.status_code < 300 and data:
                return data  # local endpoints answer plain JSON
            code = _CODE_FOR_HTTP.get(response.status_code) or (
                90400 if response.status_code < 500 else 90500
            )
            text = response.text[:200].strip().replace("\n", " ")
            raise self._error(
                code,
                f"HTTP {response.status_code} without a Clarifai status",
                text,
                response.headers.get("x-clarifai-request-id", ""),
            )
        code = _int(status.get("code")) or 0
        if code == StatusCode.SUCCESS and response.status_code < 400:
            return data
        raise self._error(
            code,
            str(status.get("description") or ""),
            str(status.get("details") or ""),
            str(status.get("req_id") or ""),
        )

    def _error(self, code: int, description: str, details: str, req_id: str) -> ApiError:
        err = ApiError(
            code,
            description,
            details,
            req_id,
            self.response.status_code,
            secrets=[self.client.secret.reveal()],
        )
        # Set when an earlier attempt of this call may have been applied (read timeout, dropped
        # connection, 502/504): a create that now says "already exists" probably created it.
        err.after_ambiguous_retry = self.ambiguous  # type: ignore[attr-defined]
        err.attempts = self.number  # type: ignore[attr-defined]
        return err


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _is_duplicate(err: ApiError) -> bool:
    return err.http_status == 409 or err.code == StatusCode.DATABASE_DUPLICATE_KEY


def _is_missing(err: ApiError) -> bool:
    return err.http_status == 404 or err.code_name.endswith("_DOES_NOT_EXIST")


def _check(resource: Any, *, patch: bool = False) -> None:
    """Pre-flight validation: the server would refuse it anyway, so don't spend a round trip.

    For a patch only the problems of fields being sent count (a partial merge is fine).
    """
    problems = resource.problems()
    if patch and problems:
        sent = set(resource.to_wire())
        problems = [p for p in problems if _top_field(p.field) in sent]
    if problems:
        raise InvalidInput(problems)


def _top_field(path: str) -> str:
    head = path.split(".")[0].split("[")[0]
    return head


def _batches(items: list[Any], size: int = BATCH) -> list[list[Any]]:
    size = max(1, min(int(size), BATCH))
    return [items[i : i + size] for i in range(0, len(items), size)] or [[]]


# ---------------------------------------------------------------------------------------------
# the operations


class BaseClient:
    """Configuration and the operations shared by ComputeClient and AsyncComputeClient."""

    def __init__(
        self,
        base_url: str,
        token: str | None,
        user_id: str = "me",
        *,
        timeout: float = 30.0,
        retries: int | RetryPolicy = 4,
        max_concurrency: int = 8,
        rediscover: Callable[[], tuple[str, str] | None] | None = None,
        verify_identity: bool | None = None,
    ) -> None:
        if not base_url or "://" not in base_url:
            raise InvalidInput(
                [
                    Problem(
                        "base_url",
                        f"base_url must start with http:// or https://, got {base_url!r}",
                    )
                ]
            )
        if token:
            refuse_clear_text(base_url)
        self.base_url = base_url.rstrip("/")
        self.user_id = user_id or "me"
        self.secret = Secret(token)
        self.timeout = timeout
        self.retry_policy = retries if isinstance(retries, RetryPolicy) else RetryPolicy(retries)
        self.max_concurrency = max(1, max_concurrency)
        host = urlsplit(self.base_url).hostname or ""
        self.is_local = host in LOCAL_HOSTS
        self._u = f"/v2/users/{_seg(self.user_id)}"
        # A local server proves on each new connection that it holds the token before the token
        # is sent (`_identity.py`); off only for a tunnel to a remote API on a loopback port.
        self.verify_identity = self.is_local if verify_identity is None else verify_identity
        # () -> (url, token) of the local server now, or None: asked after a connection failure
        # or a 401, so a client follows its server across a restart (new port, new token).
        self._rediscover = rediscover

    def _moved(self) -> bool:
        """Ask the rediscover hook where the server is now; True when url or token changed
        (then the shell reconnects). Never raises."""
        if self._rediscover is None:
            return False
        try:
            found = self._rediscover()
        except Exception:  # noqa: BLE001 - a failing hook must not hide the original failure
            log.debug("rediscover hook failed", exc_info=True)
            return False
        if not found:
            return False
        url, token = found[0].rstrip("/"), found[1]
        if url == self.base_url and token == self.secret.reveal():
            return False
        log.info("the local control plane moved: %s -> %s", self.base_url, url)
        self.base_url = url
        self.secret = Secret(token)
        return True

    def _http_options(self) -> dict[str, Any]:
        headers = {"User-Agent": user_agent(), "Accept": "application/json"}
        if self.secret:
            headers["Authorization"] = f"Key {self.secret.reveal()}"
        return {
            "base_url": self.base_url,
            "headers": headers,
            "timeout": httpx.Timeout(self.timeout, connect=min(self.timeout, 10.0)),
            "follow_redirects": False,
            # A proxy from HTTP(S)_PROXY must never see the local control plane's token.
            "trust_env": not self.is_local,
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url!r}, user_id={self.user_id!r})"

    # clusters ----------------------------------------------------------------------------------

    def _cluster_pages(self, per_page: int = PER_PAGE) -> Pages[m.ComputeCluster]:
        path = f"{self._u}/compute_clusters"
        return Pages(
            lambda page: Call("GET", path, {"page": page, "per_page": per_page}),
            lambda d: [m.ComputeCluster.from_wire(x) for x in d.get("compute_clusters") or []],
            per_page,
            m.ComputeCluster,
        )

    def _get_cluster(self, cc_id: str) -> Op[m.ComputeCluster]:
        data = yield Call("GET", f"{self._u}/compute_clusters/{_seg(cc_id)}")
        return m.ComputeCluster.from_wire(data.get("compute_cluster") or {})

    def _create_clusters(
        self, clusters: list[m.ComputeCluster], batch_size: int = BATCH
    ) -> Op[list[m.ComputeCluster]]:
        for c in clusters:
            _check(c)
        path = f"{self._u}/compute_clusters"
        calls = [
            Call("POST", path, json={"compute_clusters": [c.to_wire() for c in b]}, retry="create")
            for b in _batches(clusters, batch_size)
        ]
        return (
            yield from self._send_creates(
                calls,
                "compute_clusters",
                m.ComputeCluster,
                [c.id for c in clusters],
                self._get_cluster,
            )
        )

    def _patch_clusters(
        self, clusters: list[m.ComputeCluster], action: str
    ) -> Op[list[m.ComputeCluster]]:
        for c in clusters:
            _check(c, patch=True)
        data = yield Call(
            "PATCH",
            f"{self._u}/compute_clusters",
            json={"action": action, "compute_clusters": [c.to_wire() for c in clusters]},
            retry="once" if action == "merge" else "idempotent",
        )
        return [m.ComputeCluster.from_wire(x) for x in data.get("compute_clusters") or []]

    def _delete_clusters(self, ids: list[str]) -> Op[None]:
        yield from self._send_delete(f"{self._u}/compute_clusters", ids)

    # nodepools ---------------------------------------------------------------------------------

    def _nodepool_pages(self, cc_id: str | None, per_page: int = PER_PAGE) -> Pages[m.Nodepool]:
        if cc_id:
            path = f"{self._u}/compute_clusters/{_seg(cc_id)}/nodepools"
        else:
            path = f"{self._u}/nodepools"  # across all clusters (extra binding, reference §1.1)
        return Pages(
            lambda page: Call("GET", path, {"page": page, "per_page": per_page}),
            lambda d: [m.Nodepool.from_wire(x) for x in d.get("nodepools") or []],
            per_page,
            m.Nodepool,
        )

    def _np_path(self, cc_id: str) -> str:
        return f"{self._u}/compute_clusters/{_seg(cc_id)}/nodepools"

    def _get_nodepool(self, cc_id: str, np_id: str) -> Op[m.Nodepool]:
        data = yield Call("GET", f"{self._np_path(cc_id)}/{_seg(np_id)}")
        return m.Nodepool.from_wire(data.get("nodepool") or {})

    def _create_nodepools(
        self, cc_id: str, nodepools: list[m.Nodepool], batch_size: int = BATCH
    ) -> Op[list[m.Nodepool]]:
        for n in nodepools:
            _check(n)
        calls = [
            Call(
                "POST",
                self._np_path(cc_id),
                json={"nodepools": [n.to_wire() for n in b]},
                retry="create",
            )
            for b in _batches(nodepools, batch_size)
        ]
        return (
            yield from self._send_creates(
                calls,
                "nodepools",
                m.Nodepool,
                [n.id for n in nodepools],
                lambda np_id: self._get_nodepool(cc_id, np_id),
            )
        )

    def _patch_nodepools(
        self, cc_id: str, nodepools: list[m.Nodepool], action: str
    ) -> Op[list[m.Nodepool]]:
        if action != "remove":
            for n in nodepools:
                _check(n, patch=True)
        data = yield Call(
            "PATCH",
            self._np_path(cc_id),
            json={"action": action, "nodepools": [n.to_wire() for n in nodepools]},
            retry="once" if action == "merge" else "idempotent",
        )
        return [m.Nodepool.from_wire(x) for x in data.get("nodepools") or []]

    def _delete_nodepools(self, cc_id: str, ids: list[str]) -> Op[None]:
        yield from self._send_delete(self._np_path(cc_id), ids)

    def _set_nodepool_status(
        self, cc_id: str, np_id: str, status: m.NodepoolStatus | str | int, description: str
    ) -> Op[None]:
        body: dict[str, Any] = {"status": int(_enum(m.NodepoolStatus, status))}
        if description:
            body["status_description"] = description
        yield Call("POST", f"{self._np_path(cc_id)}/{_seg(np_id)}/status", json=body)

    # deployments -------------------------------------------------------------------------------

    def _deployment_pages(
        self,
        nodepool_id: str | None,
        compute_cluster_id: str | None,
        model_version_ids: list[str] | None,
        per_page: int = PER_PAGE,
    ) -> Pages[m.Deployment]:
        path = f"{self._u}/deployments"
        filters: dict[str, Any] = {}
        if nodepool_id:
            filters["nodepool_id"] = nodepool_id
        if compute_cluster_id:
            filters["compute_cluster_id"] = compute_cluster_id
        if model_version_ids:
            filters["model_version_ids"] = list(model_version_ids)  # repeated query keys
        return Pages(
            lambda page: Call("GET", path, {**filters, "page": page, "per_page": per_page}),
            lambda d: [m.Deployment.from_wire(x) for x in d.get("deployments") or []],
            per_page,
            m.Deployment,
        )

    def _get_deployment(self, deployment_id: str) -> Op[m.Deployment]:
        data = yield Call("GET", f"{self._u}/deployments/{_seg(deployment_id)}")
        return m.Deployment.from_wire(data.get("deployment") or {})

    def _create_deployments(
        self, deployments: list[m.Deployment], batch_size: int = BATCH
    ) -> Op[list[m.Deployment]]:
        for d in deployments:
            _check(d)
        path = f"{self._u}/deployments"
        calls = [
            Call("POST", path, json={"deployments": [d.to_wire() for d in b]}, retry="create")
            for b in _batches(deployments, batch_size)
        ]
        return (
            yield from self._send_creates(
                calls,
                "deployments",
                m.Deployment,
                [d.id for d in deployments],
                self._get_deployment,
            )
        )

    def _patch_deployments(
        self, deployments: list[m.Deployment], action: str
    ) -> Op[list[m.Deployment]]:
        if action != "remove":
            for d in deployments:
                _check(d, patch=True)
        data = yield Call(
            "PATCH",
            f"{self._u}/deployments",
            json={"action": action, "deployments": [d.to_wire() for d in deployments]},
            retry="once" if action == "merge" else "idempotent",
        )
        return [m.Deployment.from_wire(x) for x in data.get("deployments") or []]

    def _delete_deployments(self, ids: list[str]) -> Op[None]:
        yield from self._send_delete(f"{self._u}/deployments", ids)

    # catalog -----------------------------------------------------------------------------------

    def _list_cloud_providers(self) -> Op[ResultList[m.CloudProvider]]:
        data = yield Call("GET", "/v2/cloud_providers")
        items = [m.CloudProvider.from_wire(x) for x in data.get("cloud_providers") or []]
        return ResultList(items, m.CloudProvider)

    def _list_regions(self, provider_id: str) -> Op[ResultList[m.CloudRegion]]:
        data = yield Call("GET", f"/v2/cloud_providers/{_seg(provider_id)}/regions")
        regions = data.get("cloud_regions")
        if not regions:  # older answers carry only the deprecated list of strings
            regions = [{"id": r} for r in data.get("regions") or []]
        return ResultList([m.CloudRegion.from_wire(x) for x in regions], m.CloudRegion)

    def _list_instance_types(self, provider_id: str, region: str) -> Op[ResultList[m.InstanceType]]:
        path = f"/v2/cloud_providers/{_seg(provider_id)}/regions/{_seg(region)}/instance_types"
        data = yield Call("GET", path)
        items = [m.InstanceType.from_wire(x) for x in data.get("instance_types") or []]
        return ResultList(items, m.InstanceType)

    # models to deploy (ListModels, GetModel, ListModelVersions) ---------------------------------

    def _models_path(self, user_id: str | None, app_id: str | None) -> str:
        """/v2/models (every public model), /v2/users/{u}/models or /v2/users/{u}/apps/{a}/models."""
        if not user_id:
            return "/v2/models"
        path = f"/v2/users/{_seg(user_id)}"
        return f"{path}/apps/{_seg(app_id)}/models" if app_id else f"{path}/models"

    def _model_list_call(
        self,
        query: str,
        user_id: str | None,
        app_id: str | None,
        model_type_id: str | None,
        page: int,
        per_page: int,
    ) -> Call:
        params: dict[str, Any] = {"page": page, "per_page": per_page}
        if query.strip():
            params["search"] = query.strip()  # `query` and `name` are deprecated in the proto
        if model_type_id:
            params["model_type_id"] = model_type_id
        return Call("GET", self._models_path(user_id, app_id), params)

    def _model_pages(
        self,
        query: str,
        user_id: str | None,
        app_id: str | None,
        model_type_id: str | None,
        per_page: int = PER_PAGE,
    ) -> Pages[m.Model]:
        return Pages(
            lambda page: self._model_list_call(
                query, user_id, app_id, model_type_id, page, per_page
            ),
            lambda d: [m.Model.from_wire(x) for x in d.get("models") or []],
            per_page,
            m.Model,
        )

    def _search_models(self, query: str, per_page: int) -> Op[ResultList[m.Model]]:
        """One page of the caller's own models and one of the public ones matching `query`
        (the caller's first, each model once): what a model picker lists."""
        calls = [
            self._model_list_call(query, self.user_id, None, None, 1, per_page),
            self._model_list_call(query, None, None, None, 1, per_page),
        ]
        answers = yield calls
        seen: set[tuple[str, str, str]] = set()
        found: list[m.Model] = []
        for data in answers:
            for x in data.get("models") or []:
                model = m.Model.from_wire(x)
                key = (model.user_id, model.app_id, model.id)
                if key not in seen:
                    seen.add(key)
                    found.append(model)
        return ResultList(found, m.Model)

    def _model_path(self, model_id: str, user_id: str | None, app_id: str | None) -> str:
        if bool(user_id) != bool(app_id):
            raise InvalidInput(
                [Problem("app_id", "give both user_id and app_id of the model, or neither")]
            )
        return f"{self._models_path(user_id, app_id)}/{_seg(model_id)}"

    def _get_model(self, model_id: str, user_id: str | None, app_id: str | None) -> Op[m.Model]:
        data = yield Call("GET", self._model_path(model_id, user_id, app_id))
        return m.Model.from_wire(data.get("model") or {})

    def _model_version_pages(
        self, model_id: str, user_id: str | None, app_id: str | None, per_page: int = PER_PAGE
    ) -> Pages[m.ModelVersion]:
        path = f"{self._model_path(model_id, user_id, app_id)}/versions"
        return Pages(
            lambda page: Call("GET", path, {"page": page, "per_page": per_page}),
            lambda d: [m.ModelVersion.from_wire(x) for x in d.get("model_versions") or []],
            per_page,
            m.ModelVersion,
        )

    # observability -----------------------------------------------------------------------------

    def _metrics_call(
        self,
        metric_type: Any,
        start: datetime,
        end: datetime,
        resolution: str,
        filters: dict[str, Any] | None,
        aggregate: Any,
        group_by: list[Any] | None,
    ) -> Call:
        mt = _enum(m.MetricType, metric_type)
        query: dict[str, Any] = {
            "metric_type": int(mt),
            "start_time": rfc3339(start),
            "end_time": rfc3339(end),
        }
        if resolution:
            query["resolution"] = resolution
        wire_filters = []
        for label, value in (filters or {}).items():
            f: dict[str, Any] = {"label": _label(label)}
            if isinstance(value, list | tuple | set):
                f["in"] = {"in": [str(v) for v in value]}
            else:
                f["equals"] = str(value)
            wire_filters.append(f)
        if wire_filters:
            query["filters"] = wire_filters
        if aggregate is not None or group_by:
            agg: dict[str, Any] = {}
            if aggregate is not None:
                agg["operator"] = int(_enum(m.AggregateOperator, aggregate))
            if group_by:
                agg["labels"] = [_label(x) for x in group_by]
            query["aggregate"] = agg
        return Call("POST", f"{self._u}/metrics", json={"query": query})

    def _query_metrics(
        self,
        metric_type: Any,
        start: Any,
        end: Any,
        resolution: str = "5m",
        filters: dict[str, Any] | None = None,
        aggregate: Any = None,
        group_by: list[Any] | None = None,
    ) -> Op[Any]:
        start_t, end_t = yield from self._window(start, end)
        call = self._metrics_call(
            metric_type, start_t, end_t, resolution, filters, aggregate, group_by
        )
        data = yield call
        from compute_widgets.api._frames import metrics_frame

        name = _enum(m.MetricType, metric_type).name
        return metrics_frame([(name, data)])

    def _log_call(self, cc_id: str, np_id: str, log_type: str, page: int, per_page: int) -> Call:
        # ListLogEntries has no nodepool-level route without a runner; the cluster-level
        # binding with the nodepool as a query field is what the official JSON channel builds
        # from a request that names cluster and nodepool but no runner (reference §1.2, §4.1).
        # event_fields: the local plane's JSON extension, each event's fields in `meta` (the
        # EVENTS frame reads them); api.clarifai.com ignores an unknown query key
        path = f"{self._u}/compute_clusters/{_seg(cc_id)}/{_seg(log_type)}/logs"
        query = {"nodepool_id": np_id, "page": page, "per_page": per_page, "event_fields": "true"}
        return Call("GET", path, query)

    def _log_pages(self, cc_id: str, np_id: str, log_type: str, per_page: int) -> Pages[m.LogEntry]:
        return Pages(
            lambda page: self._log_call(cc_id, np_id, log_type, page, per_page),
            lambda d: [m.LogEntry.from_wire(x) for x in d.get("log_entries") or []],
            per_page,
            m.LogEntry,
        )

    def _list_log_entries(
        self, cc_id: str, np_id: str, log_type: str, page: int | None, per_page: int | None
    ) -> Op[ResultList[m.LogEntry]]:
        if page is None:  # every page, oldest first
            items = yield self._log_pages(cc_id, np_id, log_type, per_page or PER_PAGE)
            return ResultList(items, m.LogEntry)
        call = self._log_call(cc_id, np_id, log_type, page, per_page or 32)
        data = yield call
        return ResultList(
            [m.LogEntry.from_wire(x) for x in data.get("log_entries") or []], m.LogEntry
        )

    def _nodepool_history(
        self, cc_id: str, np_id: str, start: Any, end: Any, resolution: str = "5m"
    ) -> Op[Any]:
        start_t, end_t = yield from self._window(start, end)
        filters = {"COMPUTE_CLUSTER_ID": cc_id, "NODEPOOL_ID": np_id}
        names = list(HISTORY_METRICS)
        calls = [
            self._metrics_call(n, start_t, end_t, resolution, filters, None, None) for n in names
        ]
        if self.is_local:
            # The local control plane serves the simulator's columns (spot/on-demand and
            # ready/pending splits, desired, min/max, cost) as node-count series labelled
            # `series`, total included; real Clarifai has only the total and utilization.
            calls[0] = self._metrics_call(
                names[0], start_t, end_t, resolution, {**filters, "series": "all"}, None, None
            )
        answers = yield calls
        from compute_widgets.api._frames import history_frame

        return history_frame(list(zip(names, answers, strict=True)), resolution, start_t, end_t)

    def _nodepool_events(self, cc_id: str, np_id: str, start: Any, end: Any) -> Op[Any]:
        lo = hi = None
        if start is not None or end is not None:
            lo, hi = yield from self._window(start, end)
        entries = yield self._log_pages(cc_id, np_id, "runner.events", PER_PAGE)
        from compute_widgets.api._frames import events_frame

        return events_frame(entries, lo, hi)

    # local control plane -----------------------------------------------------------------------

    def _require_local(self, what: str) -> None:
        if not self.is_local:
            raise ComputeError(
                f"{what} exists only on the local control plane; this client talks to {self.base_url}."
            )

    def _advance_clock(self, seconds: float) -> Op[datetime]:
        self._require_local("advance_clock()")
        # Not retried after an ambiguous failure: a repeat would advance the clock twice.
        data = yield Call(
            "POST", "/local/clock/advance", json={"seconds": float(seconds)}, retry="once"
        )
        return _clock_time(data)

    def _clock_offset(self) -> Op[float]:
        """Seconds the local clock was fast-forwarded (0.0 for a remote backend)."""
        if not self.is_local:
            return 0.0
        data = yield Call("GET", "/local/clock")
        return float(data.get("offset_seconds") or 0.0)

    def _server_time(self) -> Op[datetime]:
        """The server's "now": the local clock may run ahead of the wall clock."""
        if not self.is_local:
            return datetime.now(UTC)
        data = yield Call("GET", "/local/clock")
        return _clock_time(data)

    def _health(self) -> Op[dict[str, Any]]:
        if self.is_local:
            data = yield Call("GET", "/local/health")
            return {k: v for k, v in data.items() if k != "status" or not isinstance(v, dict)}
        data = yield Call("GET", "/v2/cloud_providers")
        return {
            "ok": True,
            "url": self.base_url,
            "cloud_providers": len(data.get("cloud_providers") or []),
        }

    def _local_stats(self) -> Op[dict[str, Any]]:
        """GET /local/stats of the local control plane (loop stalls, simulator warm-up)."""
        self._require_local("local_stats")
        return (yield Call("GET", "/local/stats"))

    # shared pieces -----------------------------------------------------------------------------

    def _window(self, start: Any, end: Any) -> Op[tuple[datetime, datetime]]:
        """(start, end) as aware datetimes. A timedelta or None is relative to the server's now."""
        now: datetime | None = None
        if (
            end is None
            or isinstance(end, timedelta)
            or isinstance(start, timedelta)
            or start is None
        ):
            now = yield from self._server_time()
        end_t = (
            now
            if end is None
            else (now - abs(end) if isinstance(end, timedelta) else parse_time(end))
        )
        if start is None:
            start_t = end_t - timedelta(days=1)
        elif isinstance(start, timedelta):
            start_t = end_t - abs(start)
        else:
            start_t = parse_time(start)
        if start_t >= end_t:
            raise InvalidInput(
                [
                    Problem(
                        "start",
                        f"start ({start_t:%Y-%m-%d %H:%M}) must be before end ({end_t:%Y-%m-%d %H:%M})",
                    )
                ]
            )
        return start_t, end_t

    def _send_creates(
        self,
        calls: list[Call],
        key: str,
        model: type,
        ids: list[str],
        get: Callable[[str], Op[Any]],
    ) -> Op[list[Any]]:
        try:
            answers = yield calls
        except ApiError as err:
            return (yield from self._reconcile_create(err, ids, get))
        return [model.from_wire(x) for a in answers for x in a.get(key) or []]

    def _reconcile_create(
        self, err: ApiError, ids: list[str], get: Callable[[str], Op[Any]]
    ) -> Op[list[Any]]:
        """A create was retried after an attempt that may have landed, and now "already exists".

        IDs are chosen by the client, so the earlier attempt most likely created them: read them
        back and return them instead of failing. Any other error, or a duplicate on a first
        attempt (a real conflict), is raised as is.
        """
        if not (_is_duplicate(err) and getattr(err, "after_ambiguous_retry", False)):
            raise err
        log.info(
            "create answered 'already exists' after an ambiguous retry; reading %d back", len(ids)
        )
        out = []
        for rid in ids:
            try:
                out.append((yield from get(rid)))
            except ApiError:
                raise err from None
        return out

    def _send_delete(self, path: str, ids: list[str]) -> Op[None]:
        if isinstance(ids, str):
            ids = [ids]
        try:
            yield Call("DELETE", path, json={"ids": list(ids)})
        except ApiError as err:
            # A delete repeated after an attempt that may have landed finds nothing: done.
            if not (_is_missing(err) and getattr(err, "after_ambiguous_retry", False)):
                raise


def _label(label: Any) -> Any:
    """A metric label for the wire: MetricLabel as its name, other labels as given."""
    if isinstance(label, m.MetricLabel):
        return label.name
    if isinstance(label, str) and label.upper() in m.MetricLabel.__members__:
        return label.upper()
    if isinstance(label, int):
        return m.MetricLabel(label).name
    return str(label)


def _clock_time(data: dict[str, Any]) -> datetime:
    for key in ("now", "time", "clock", "timestamp"):
        if data.get(key):
            return parse_time(data[key])
    raise ComputeError(f"The local clock answered without a time: keys {sorted(data)}")
