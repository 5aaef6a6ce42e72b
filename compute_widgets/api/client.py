"""ComputeClient and AsyncComputeClient: Clarifai's v2 compute API over httpx.

Both clients have the same methods; every method is one operation of `_base.BaseClient`
(which builds the requests and parses the answers) driven by a thin I/O shell here. One
connection pool per client, a timeout on every call, retries as described in `_retry.py`.

Failures are `errors.ComputeError` subclasses; the whole tree is in api/errors.py's docstring.
A client raises InvalidInput (pre-flight validation, nothing sent), ApiError (a non-success
status: code, code_name, description, details, req_id, http_status) and ConnectionFailed (no
answer, also after the retries).

Creates retried after an ambiguous failure (read timeout, dropped connection, 502/504) can
answer "already exists" (HTTP 409 / DATABASE_DUPLICATE_KEY) because the first attempt landed:
the client then reads the resources back and returns them. A 409 on a first attempt is a real
conflict and raises ApiError. Likewise a DELETE retried after an ambiguous failure that finds
nothing (404) counts as done.

The token is sent as ``Authorization: Key <token>`` and never appears in a repr, a log line or
an exception (httpx's exceptions are not chained into ours: they can carry the request).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime
from typing import Any

import httpx

from compute_widgets.api import _identity
from compute_widgets.api import models as m
from compute_widgets.api._base import (
    BATCH,
    PER_PAGE,
    BaseClient,
    Call,
    Op,
    Pages,
    _Attempts,
)
from compute_widgets.api._results import ResultList
from compute_widgets.api._retry import RetryPolicy
from compute_widgets.api.errors import ComputeError

__all__ = ["AsyncComputeClient", "ComputeClient", "ResultList", "RetryPolicy"]

Action = str  # "overwrite" | "merge" | "remove"


class ComputeClient(BaseClient):
    """Synchronous client (httpx.Client). Use as a context manager or call `close()`.

    >>> with ComputeClient("https://api.clarifai.com", pat) as c:
    ...     c.list_nodepools().to_dataframe()
    """

    def __init__(
        self,
        base_url: str,
        token: str | None,
        user_id: str = "me",
        *,
        timeout: float = 30.0,
        retries: int | RetryPolicy = 4,
        transport: httpx.BaseTransport | None = None,
        max_concurrency: int = 8,
        rediscover: Callable[[], tuple[str, str] | None] | None = None,
        verify_identity: bool | None = None,
    ) -> None:
        super().__init__(
            base_url,
            token,
            user_id,
            timeout=timeout,
            retries=retries,
            max_concurrency=max_concurrency,
            rediscover=rediscover,
            verify_identity=verify_identity,
        )
        self._transport = transport
        self._retired: list[Any] = []
        self._connect()

    def _connect(self) -> None:
        self._http = httpx.Client(transport=self._transport, **self._http_options())
        self._extensions: dict[str, Any] = {}
        if self.verify_identity and self.secret:
            host = httpx.URL(self.base_url).netloc.decode()
            trace = _identity.sync_trace(host, self.secret.reveal)
            self._extensions = {"trace": trace}

    def _reconnect_if_moved(self) -> bool:
        """After a failure: True when the server moved and the client now talks to it."""
        if not self._moved():
            return False
        self._retired.append(self._http)  # closed with the client: a call may still use it
        self._connect()
        return True

    # I/O shell -----------------------------------------------------------------------------

    def _send(self, call: Call) -> dict[str, Any]:
        attempts = _Attempts(self, call)
        while True:
            attempts.start()
            try:
                response = self._http.request(
                    call.method,
                    call.path,
                    params=call.params,
                    json=call.json,
                    extensions=self._extensions,
                )
            except httpx.RequestError as exc:
                delay = attempts.failed(exc)  # raises when this call may not be repeated
                if not self._reconnect_if_moved():
                    time.sleep(delay)
                continue
            if response.status_code == 401 and self._reconnect_if_moved():
                continue  # a restarted server has a new token; a 401 applied nothing
            delay = attempts.answered(response)
            if delay is None:
                return attempts.finish()
            time.sleep(delay)

    def _iter(self, pages: Pages[Any]) -> Iterator[Any]:
        page = 1
        while True:
            items = pages.parse(self._send(pages.call(page)))
            yield from items
            if len(items) < pages.per_page:
                return
            page += 1

    def _step(self, step: Any) -> Any:
        if isinstance(step, Call):
            return self._send(step)
        if isinstance(step, Pages):
            return list(self._iter(step))
        return [self._send(c) for c in step]

    def _run(self, op: Op[Any]) -> Any:
        value: Any = None
        error: BaseException | None = None
        while True:
            try:
                step = op.throw(error) if error is not None else op.send(value)
            except StopIteration as stop:
                return stop.value
            value, error = None, None
            try:
                value = self._step(step)
            except ComputeError as exc:
                error = exc

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()
        for old in self._retired:
            old.close()

    def __enter__(self) -> ComputeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # clusters --------------------------------------------------------------------------------

    def list_clusters(self) -> ResultList[m.ComputeCluster]:
        """Every compute cluster of the user (all pages)."""
        return ResultList(self.iter_clusters(), m.ComputeCluster)

    def iter_clusters(self, per_page: int = PER_PAGE) -> Iterator[m.ComputeCluster]:
        """Compute clusters, fetched one page at a time as you iterate."""
        return self._iter(self._cluster_pages(per_page))

    def get_cluster(self, cc_id: str) -> m.ComputeCluster:
        return self._run(self._get_cluster(cc_id))

    def create_cluster(self, cluster: m.ComputeCluster) -> m.ComputeCluster:
        """Create one cluster (validated first: InvalidInput before any request)."""
        return self._run(self._create_clusters([cluster]))[0]

    def create_clusters(
        self, clusters: list[m.ComputeCluster], *, batch_size: int = BATCH
    ) -> list[m.ComputeCluster]:
        return self._run(self._create_clusters(list(clusters), batch_size))

    def patch_cluster(
        self, cluster: m.ComputeCluster, action: Action = "overwrite"
    ) -> m.ComputeCluster:
        return self._run(self._patch_clusters([cluster], action))[0]

    def delete_clusters(self, ids: list[str]) -> None:
        """Delete clusters (the server deletes their nodepools too)."""
        self._run(self._delete_clusters(list(ids)))

    def delete_cluster(self, cc_id: str) -> None:
        self._run(self._delete_clusters([cc_id]))

    # nodepools -------------------------------------------------------------------------------

    def list_nodepools(self, cc_id: str | None = None) -> ResultList[m.Nodepool]:
        """Nodepools of one cluster, or of every cluster when `cc_id` is None (all pages)."""
        return ResultList(self.iter_nodepools(cc_id), m.Nodepool)

    def iter_nodepools(
        self, cc_id: str | None = None, per_page: int = PER_PAGE
    ) -> Iterator[m.Nodepool]:
        return self._iter(self._nodepool_pages(cc_id, per_page))

    def get_nodepool(self, cc_id: str, np_id: str) -> m.Nodepool:
        return self._run(self._get_nodepool(cc_id, np_id))

    def create_nodepool(self, cc_id: str, nodepool: m.Nodepool) -> m.Nodepool:
        return self._run(self._create_nodepools(cc_id, [nodepool]))[0]

    def create_nodepools(
        self, cc_id: str, nodepools: list[m.Nodepool], *, batch_size: int = BATCH
    ) -> list[m.Nodepool]:
        """Create many nodepools, `batch_size` (<= 128) per request."""
        return self._run(self._create_nodepools(cc_id, list(nodepools), batch_size))

    def patch_nodepool(
        self, cc_id: str, nodepool: m.Nodepool, action: Action = "overwrite"
    ) -> m.Nodepool:
        return self._run(self._patch_nodepools(cc_id, [nodepool], action))[0]

    def delete_nodepools(self, cc_id: str, ids: list[str]) -> None:
        self._run(self._delete_nodepools(cc_id, list(ids)))

    def delete_nodepool(self, cc_id: str, np_id: str) -> None:
        self._run(self._delete_nodepools(cc_id, [np_id]))

    def set_nodepool_status(
        self, cc_id: str, np_id: str, status: m.NodepoolStatus | str | int, description: str = ""
    ) -> None:
        self._run(self._set_nodepool_status(cc_id, np_id, status, description))

    # deployments -----------------------------------------------------------------------------

    def list_deployments(
        self,
        nodepool_id: str | None = None,
        compute_cluster_id: str | None = None,
        model_version_ids: list[str] | None = None,
    ) -> ResultList[m.Deployment]:
        return ResultList(
            self.iter_deployments(nodepool_id, compute_cluster_id, model_version_ids), m.Deployment
        )

    def iter_deployments(
        self,
        nodepool_id: str | None = None,
        compute_cluster_id: str | None = None,
        model_version_ids: list[str] | None = None,
        per_page: int = PER_PAGE,
    ) -> Iterator[m.Deployment]:
        return self._iter(
            self._deployment_pages(nodepool_id, compute_cluster_id, model_version_ids, per_page)
        )

    def get_deployment(self, deployment_id: str) -> m.Deployment:
        return self._run(self._get_deployment(deployment_id))

    def create_deployment(self, deployment: m.Deployment) -> m.Deployment:
        return self._run(self._create_deployments([deployment]))[0]

    def create_deployments(
        self, deployments: list[m.Deployment], *, batch_size: int = BATCH
    ) -> list[m.Deployment]:
        return self._run(self._create_deployments(list(deployments), batch_size))

    def patch_deployment(
        self, deployment: m.Deployment, action: Action = "overwrite"
    ) -> m.Deployment:
        return self._run(self._patch_deployments([deployment], action))[0]

    def delete_deployments(self, ids: list[str]) -> None:
        self._run(self._delete_deployments(list(ids)))

    def delete_deployment(self, deployment_id: str) -> None:
        self._run(self._delete_deployments([deployment_id]))

    # catalog ---------------------------------------------------------------------------------

    def list_cloud_providers(self) -> ResultList[m.CloudProvider]:
        return self._run(self._list_cloud_providers())

    def list_regions(self, provider_id: str) -> ResultList[m.CloudRegion]:
        return self._run(self._list_regions(provider_id))

    def list_instance_types(
        self, provider_id: str = "all", region: str = "all"
    ) -> ResultList[m.InstanceType]:
        return self._run(self._list_instance_types(provider_id, region))

    # models to deploy ------------------------------------------------------------------------

    def list_models(
        self,
        query: str = "",
        *,
        user_id: str | None = None,
        app_id: str | None = None,
        model_type_id: str | None = None,
        limit: int | None = None,
    ) -> ResultList[m.Model]:
        """Models whose id, owner, name or description match `query` (every word): the public
        ones (ListModels on /v2/models), or those of `user_id` (and its app `app_id`).
        `limit` stops after that many (Clarifai's community has thousands)."""
        per_page = min(PER_PAGE, limit) if limit else PER_PAGE
        found = self.iter_models(
            query, user_id=user_id, app_id=app_id, model_type_id=model_type_id, per_page=per_page
        )
        return ResultList(itertools.islice(found, limit) if limit else found, m.Model)

    def iter_models(
        self,
        query: str = "",
        *,
        user_id: str | None = None,
        app_id: str | None = None,
        model_type_id: str | None = None,
        per_page: int = PER_PAGE,
    ) -> Iterator[m.Model]:
        return self._iter(self._model_pages(query, user_id, app_id, model_type_id, per_page))

    def search_models(self, query: str = "", per_page: int = 20) -> ResultList[m.Model]:
        """The caller's own models, then the public ones, matching `query`: one page of each."""
        return self._run(self._search_models(query, per_page))

    def get_model(
        self, model_id: str, user_id: str | None = None, app_id: str | None = None
    ) -> m.Model:
        """One model with its newest version (`model_version`); without user_id/app_id, the
        public model with that id."""
        return self._run(self._get_model(model_id, user_id, app_id))

    def list_model_versions(
        self, model_id: str, user_id: str | None = None, app_id: str | None = None
    ) -> ResultList[m.ModelVersion]:
        """The versions of a model, newest first."""
        return ResultList(
            self._iter(self._model_version_pages(model_id, user_id, app_id)), m.ModelVersion
        )

    # observability ---------------------------------------------------------------------------

    def query_metrics(
        self,
        metric_type: m.MetricType | str | int,
        start: Any,
        end: Any = None,
        resolution: str = "5m",
        filters: dict[str, Any] | None = None,
        aggregate: m.AggregateOperator | str | None = None,
        group_by: list[Any] | None = None,
    ) -> Any:
        """PostMetricsQuery as a tidy pandas.DataFrame.

        Columns: timestamp (UTC), metric, value, labels (dict), and one column per label name,
        lower-cased. `start`/`end`: datetime or ISO string; a timedelta (or end=None) is relative
        to the server's now. `filters`: label -> value (equals) or list of values (in).
        """
        return self._run(
            self._query_metrics(metric_type, start, end, resolution, filters, aggregate, group_by)
        )

    def list_log_entries(
        self,
        cc_id: str,
        np_id: str,
        log_type: str = "runner.events",
        page: int | None = None,
        per_page: int | None = None,
    ) -> ResultList[m.LogEntry]:
        """Log entries of a nodepool; page=None reads every page (oldest first)."""
        return self._run(self._list_log_entries(cc_id, np_id, log_type, page, per_page))

    def nodepool_history(
        self, cc_id: str, np_id: str, start: Any = None, end: Any = None, resolution: str = "5m"
    ) -> Any:
        """The canonical HISTORY frame (node counts, utilization) of a nodepool, from metrics."""
        return self._run(self._nodepool_history(cc_id, np_id, start, end, resolution))

    def nodepool_events(self, cc_id: str, np_id: str, start: Any = None, end: Any = None) -> Any:
        """The canonical EVENTS frame of a nodepool (scale ups/downs, preemptions, ...)."""
        return self._run(self._nodepool_events(cc_id, np_id, start, end))

    # local control plane ---------------------------------------------------------------------

    def advance_clock(self, seconds: float) -> datetime:
        """Fast-forward the local control plane's clock; returns its new now (local only)."""
        return self._run(self._advance_clock(seconds))

    def server_time(self) -> datetime:
        """The server's now (the local clock may be ahead of the wall clock)."""
        return self._run(self._server_time())

    def clock_offset(self) -> float:
        """Seconds the local clock was fast-forwarded by advance_clock (0.0 when remote)."""
        return self._run(self._clock_offset())

    def health(self) -> dict[str, Any]:
        """Local: GET /local/health. Remote: a cheap authenticated call, summarised."""
        return self._run(self._health())


class AsyncComputeClient(BaseClient):
    """asyncio twin of ComputeClient (httpx.AsyncClient): same methods, awaited.

    Calls that need several requests (creates of more than 128 resources, nodepool_history)
    send them concurrently, at most `max_concurrency` at a time.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None,
        user_id: str = "me",
        *,
        timeout: float = 30.0,
        retries: int | RetryPolicy = 4,
        transport: httpx.AsyncBaseTransport | None = None,
        max_concurrency: int = 8,
        rediscover: Callable[[], tuple[str, str] | None] | None = None,
        verify_identity: bool | None = None,
    ) -> None:
        super().__init__(
            base_url,
            token,
            user_id,
            timeout=timeout,
            retries=retries,
            max_concurrency=max_concurrency,
            rediscover=rediscover,
            verify_identity=verify_identity,
        )
        self._transport = transport
        self._retired: list[Any] = []
        self._connect()

    def _connect(self) -> None:
        self._http = httpx.AsyncClient(transport=self._transport, **self._http_options())
        self._extensions: dict[str, Any] = {}
        if self.verify_identity and self.secret:
            host = httpx.URL(self.base_url).netloc.decode()
            trace = _identity.async_trace(host, self.secret.reveal)
            self._extensions = {"trace": trace}

    async def _reconnect_if_moved(self) -> bool:
        """After a failure: True when the server moved and the client now talks to it."""
        if self._rediscover is None or not await asyncio.to_thread(self._moved):
            return False
        self._retired.append(self._http)  # closed with the client: a call may still use it
        self._connect()
        return True

    # I/O shell -----------------------------------------------------------------------------

    async def _send(self, call: Call) -> dict[str, Any]:
        attempts = _Attempts(self, call)
        while True:
            attempts.start()
            try:
                response = await self._http.request(
                    call.method,
                    call.path,
                    params=call.params,
                    json=call.json,
                    extensions=self._extensions,
                )
            except httpx.RequestError as exc:
                delay = attempts.failed(exc)  # raises when this call may not be repeated
                if not await self._reconnect_if_moved():
                    await asyncio.sleep(delay)
                continue
            if response.status_code == 401 and await self._reconnect_if_moved():
                continue  # a restarted server has a new token; a 401 applied nothing
            delay = attempts.answered(response)
            if delay is None:
                return attempts.finish()
            await asyncio.sleep(delay)

    async def _iter(self, pages: Pages[Any]) -> AsyncIterator[Any]:
        page = 1
        while True:
            items = pages.parse(await self._send(pages.call(page)))
            for item in items:
                yield item
            if len(items) < pages.per_page:
                return
            page += 1

    async def _gather(self, calls: list[Call]) -> list[dict[str, Any]]:
        if len(calls) == 1:
            return [await self._send(calls[0])]
        limit = asyncio.Semaphore(self.max_concurrency)

        async def one(call: Call) -> dict[str, Any]:
            async with limit:
                return await self._send(call)

        return list(await asyncio.gather(*(one(c) for c in calls)))

    async def _step(self, step: Any) -> Any:
        if isinstance(step, Call):
            return await self._send(step)
        if isinstance(step, Pages):
            return [x async for x in self._iter(step)]
        return await self._gather(list(step))

    async def _run(self, op: Op[Any]) -> Any:
        value: Any = None
        error: BaseException | None = None
        while True:
            try:
                step = op.throw(error) if error is not None else op.send(value)
            except StopIteration as stop:
                return stop.value
            value, error = None, None
            try:
                value = await self._step(step)
            except ComputeError as exc:
                error = exc

    async def _collect(self, pages: Pages[Any]) -> ResultList[Any]:
        return ResultList([x async for x in self._iter(pages)], pages.kind)

    async def close(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()
        for old in self._retired:
            await old.aclose()

    aclose = close

    async def __aenter__(self) -> AsyncComputeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # clusters --------------------------------------------------------------------------------

    async def list_clusters(self) -> ResultList[m.ComputeCluster]:
        return await self._collect(self._cluster_pages())

    def iter_clusters(self, per_page: int = PER_PAGE) -> AsyncIterator[m.ComputeCluster]:
        return self._iter(self._cluster_pages(per_page))

    async def get_cluster(self, cc_id: str) -> m.ComputeCluster:
        return await self._run(self._get_cluster(cc_id))

    async def create_cluster(self, cluster: m.ComputeCluster) -> m.ComputeCluster:
        return (await self._run(self._create_clusters([cluster])))[0]

    async def create_clusters(
        self, clusters: list[m.ComputeCluster], *, batch_size: int = BATCH
    ) -> list[m.ComputeCluster]:
        return await self._run(self._create_clusters(list(clusters), batch_size))

    async def patch_cluster(
        self, cluster: m.ComputeCluster, action: Action = "overwrite"
    ) -> m.ComputeCluster:
        return (await self._run(self._patch_clusters([cluster], action)))[0]

    async def delete_clusters(self, ids: list[str]) -> None:
        await self._run(self._delete_clusters(list(ids)))

    async def delete_cluster(self, cc_id: str) -> None:
        await self._run(self._delete_clusters([cc_id]))

    # nodepools -------------------------------------------------------------------------------

    async def list_nodepools(self, cc_id: str | None = None) -> ResultList[m.Nodepool]:
        return await self._collect(self._nodepool_pages(cc_id))

    def iter_nodepools(
        self, cc_id: str | None = None, per_page: int = PER_PAGE
    ) -> AsyncIterator[m.Nodepool]:
        return self._iter(self._nodepool_pages(cc_id, per_page))

    async def get_nodepool(self, cc_id: str, np_id: str) -> m.Nodepool:
        return await self._run(self._get_nodepool(cc_id, np_id))

    async def create_nodepool(self, cc_id: str, nodepool: m.Nodepool) -> m.Nodepool:
        return (await self._run(self._create_nodepools(cc_id, [nodepool])))[0]

    async def create_nodepools(
        self, cc_id: str, nodepools: list[m.Nodepool], *, batch_size: int = BATCH
    ) -> list[m.Nodepool]:
        return await self._run(self._create_nodepools(cc_id, list(nodepools), batch_size))

    async def patch_nodepool(
        self, cc_id: str, nodepool: m.Nodepool, action: Action = "overwrite"
    ) -> m.Nodepool:
        return (await self._run(self._patch_nodepools(cc_id, [nodepool], action)))[0]

    async def delete_nodepools(self, cc_id: str, ids: list[str]) -> None:
        await self._run(self._delete_nodepools(cc_id, list(ids)))

    async def delete_nodepool(self, cc_id: str, np_id: str) -> None:
        await self._run(self._delete_nodepools(cc_id, [np_id]))

    async def set_nodepool_status(
        self, cc_id: str, np_id: str, status: m.NodepoolStatus | str | int, description: str = ""
    ) -> None:
        await self._run(self._set_nodepool_status(cc_id, np_id, status, description))

    # deployments -----------------------------------------------------------------------------

    async def list_deployments(
        self,
        nodepool_id: str | None = None,
        compute_cluster_id: str | None = None,
        model_version_ids: list[str] | None = None,
    ) -> ResultList[m.Deployment]:
        return await self._collect(
            self._deployment_pages(nodepool_id, compute_cluster_id, model_version_ids)
        )

    def iter_deployments(
        self,
        nodepool_id: str | None = None,
        compute_cluster_id: str | None = None,
        model_version_ids: list[str] | None = None,
        per_page: int = PER_PAGE,
    ) -> AsyncIterator[m.Deployment]:
        return self._iter(
            self._deployment_pages(nodepool_id, compute_cluster_id, model_version_ids, per_page)
        )

    async def get_deployment(self, deployment_id: str) -> m.Deployment:
        return await self._run(self._get_deployment(deployment_id))

    async def create_deployment(self, deployment: m.Deployment) -> m.Deployment:
        return (await self._run(self._create_deployments([deployment])))[0]

    async def create_deployments(
        self, deployments: list[m.Deployment], *, batch_size: int = BATCH
    ) -> list[m.Deployment]:
        return await self._run(self._create_deployments(list(deployments), batch_size))

    async def patch_deployment(
        self, deployment: m.Deployment, action: Action = "overwrite"
    ) -> m.Deployment:
        return (await self._run(self._patch_deployments([deployment], action)))[0]

    async def delete_deployments(self, ids: list[str]) -> None:
        await self._run(self._delete_deployments(list(ids)))

    async def delete_deployment(self, deployment_id: str) -> None:
        await self._run(self._delete_deployments([deployment_id]))

    # catalog ---------------------------------------------------------------------------------

    async def list_cloud_providers(self) -> ResultList[m.CloudProvider]:
        return await self._run(self._list_cloud_providers())

    async def list_regions(self, provider_id: str) -> ResultList[m.CloudRegion]:
        return await self._run(self._list_regions(provider_id))

    async def list_instance_types(
        self, provider_id: str = "all", region: str = "all"
    ) -> ResultList[m.InstanceType]:
        return await self._run(self._list_instance_types(provider_id, region))

    # models to deploy ------------------------------------------------------------------------

    async def list_models(
        self,
        query: str = "",
        *,
        user_id: str | None = None,
        app_id: str | None = None,
        model_type_id: str | None = None,
        limit: int | None = None,
    ) -> ResultList[m.Model]:
        per_page = min(PER_PAGE, limit) if limit else PER_PAGE
        found: list[m.Model] = []
        async for model in self.iter_models(
            query, user_id=user_id, app_id=app_id, model_type_id=model_type_id, per_page=per_page
        ):
            found.append(model)
            if limit and len(found) >= limit:
                break
        return ResultList(found, m.Model)

    def iter_models(
        self,
        query: str = "",
        *,
        user_id: str | None = None,
        app_id: str | None = None,
        model_type_id: str | None = None,
        per_page: int = PER_PAGE,
    ) -> AsyncIterator[m.Model]:
        return self._iter(self._model_pages(query, user_id, app_id, model_type_id, per_page))

    async def search_models(self, query: str = "", per_page: int = 20) -> ResultList[m.Model]:
        return await self._run(self._search_models(query, per_page))

    async def get_model(
        self, model_id: str, user_id: str | None = None, app_id: str | None = None
    ) -> m.Model:
        return await self._run(self._get_model(model_id, user_id, app_id))

    async def list_model_versions(
        self, model_id: str, user_id: str | None = None, app_id: str | None = None
    ) -> ResultList[m.ModelVersion]:
        return await self._collect(self._model_version_pages(model_id, user_id, app_id))

    # observability ---------------------------------------------------------------------------

    async def query_metrics(
        self,
        metric_type: m.MetricType | str | int,
        start: Any,
        end: Any = None,
        resolution: str = "5m",
        filters: dict[str, Any] | None = None,
        aggregate: m.AggregateOperator | str | None = None,
        group_by: list[Any] | None = None,
    ) -> Any:
        return await self._run(
            self._query_metrics(metric_type, start, end, resolution, filters, aggregate, group_by)
        )

    async def list_log_entries(
        self,
        cc_id: str,
        np_id: str,
        log_type: str = "runner.events",
        page: int | None = None,
        per_page: int | None = None,
    ) -> ResultList[m.LogEntry]:
        return await self._run(self._list_log_entries(cc_id, np_id, log_type, page, per_page))

    async def nodepool_history(
        self, cc_id: str, np_id: str, start: Any = None, end: Any = None, resolution: str = "5m"
    ) -> Any:
        return await self._run(self._nodepool_history(cc_id, np_id, start, end, resolution))

    async def nodepool_events(
        self, cc_id: str, np_id: str, start: Any = None, end: Any = None
    ) -> Any:
        return await self._run(self._nodepool_events(cc_id, np_id, start, end))

    # local control plane ---------------------------------------------------------------------

    async def advance_clock(self, seconds: float) -> datetime:
        return await self._run(self._advance_clock(seconds))

    async def server_time(self) -> datetime:
        return await self._run(self._server_time())

    async def clock_offset(self) -> float:
        return await self._run(self._clock_offset())

    async def health(self) -> dict[str, Any]:
        return await self._run(self._health())
