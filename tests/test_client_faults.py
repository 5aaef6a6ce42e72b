"""Retries, timeouts and secrecy, proved by fault injection at the httpx transport.

`FaultTransport` wraps the real `httpx.HTTPTransport` to the real local control plane and,
attempt by attempt, follows a script: forward the request, answer a fault instead, or forward
it and then lose the answer (the request was applied but the client cannot know).
"""

from __future__ import annotations

import json
import logging
import socket

import httpx
import pytest

from compute_widgets.api.client import AsyncComputeClient, ComputeClient, RetryPolicy
from compute_widgets.api.errors import ApiError, ConnectionFailed
from compute_widgets.api.models import (
    CapacityType,
    ComputeCluster,
    InstanceType,
    NodeCapacityType,
    Nodepool,
)

FAST = RetryPolicy(retries=4, backoff=0.01, max_backoff=0.05)


def _status_response(
    request: httpx.Request, http: int, code: int, description: str, **headers
) -> httpx.Response:
    body = {"status": {"code": code, "description": description, "req_id": "fault"}}
    return httpx.Response(http, json=body, headers=headers, request=request)


def _fault(step: str, request: httpx.Request) -> httpx.Response | None:
    """The injected answer for `step`, or None to forward the request."""
    if step == "ok":
        return None
    if step == "503":
        return httpx.Response(503, text="upstream unavailable", request=request)
    if step.startswith("429"):  # "429" or "429:<retry-after>"
        extra = {"Retry-After": step.split(":", 1)[1]} if ":" in step else {}
        return _status_response(request, 429, 11005, "Throttled", **extra)
    if step == "400":
        return _status_response(request, 400, 11100, "Bad request format")
    if step == "read_timeout":
        raise httpx.ReadTimeout("timed out", request=request)
    if step == "drop":
        raise httpx.RemoteProtocolError(
            "Server disconnected without sending a response.", request=request
        )
    raise AssertionError(f"unknown step {step}")


class FaultTransport(httpx.BaseTransport):
    """Follows `script` one attempt at a time; after it runs out, forwards everything."""

    def __init__(self, script: list[str]) -> None:
        self.inner = httpx.HTTPTransport()
        self.script = list(script)
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.script.pop(0) if self.script else "ok"
        if step.startswith("apply_then_"):  # the server applies it, the answer is lost
            self.inner.handle_request(request).read()
            step = step.removeprefix("apply_then_")
        response = _fault(step, request)
        return response if response is not None else self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


class AsyncFaultTransport(httpx.AsyncBaseTransport):
    def __init__(self, script: list[str]) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.script = list(script)
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.script.pop(0) if self.script else "ok"
        if step.startswith("apply_then_"):
            await (await self.inner.handle_async_request(request)).aread()
            step = step.removeprefix("apply_then_")
        response = _fault(step, request)
        return response if response is not None else await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.fixture
def faulty(server):
    made: list[ComputeClient] = []

    def make(
        script: list[str], retries: RetryPolicy = FAST
    ) -> tuple[ComputeClient, FaultTransport]:
        transport = FaultTransport(script)
        c = ComputeClient(server.url, server.token, retries=retries, transport=transport, timeout=5)
        made.append(c)
        return c, transport

    yield make
    for c in made:
        c.close()


def _nodepool(np_id: str) -> Nodepool:
    return Nodepool(
        id=np_id,
        node_capacity_type=NodeCapacityType(capacity_types=[CapacityType.ON_DEMAND_TYPE]),
        instance_types=[InstanceType(id="t3a.medium")],
        min_instances=0,
        max_instances=2,
    )


def _attempts(transport: FaultTransport, path_end: str, method: str = "GET") -> int:
    return sum(
        1
        for r in transport.requests
        if r.method == method and r.url.path.rstrip("/").endswith(path_end)
    )


def test_503_then_200_is_retried(faulty):
    c, t = faulty(["503", "ok"])
    providers = c.list_cloud_providers()
    assert providers, "the real server lists providers"
    assert len(t.requests) == 2


def test_429_with_retry_after_waits_what_the_server_says(faulty, caplog):
    c, t = faulty(["429:1", "ok"])
    with caplog.at_level(logging.INFO, logger="compute_widgets.api"):
        c.list_cloud_providers()
    assert len(t.requests) == 2
    retry_lines = [r.getMessage() for r in caplog.records if "retry" in r.getMessage()]
    assert len(retry_lines) == 1 and "in 1.00 s" in retry_lines[0], retry_lines
    assert "CONN_THROTTLED" in retry_lines[0]


def test_retry_after_longer_than_the_cap_is_not_slept_through(faulty):
    c, t = faulty(["429:3600"], retries=RetryPolicy(retries=4, max_retry_after=30))
    with pytest.raises(ApiError) as e:
        c.list_cloud_providers()
    assert e.value.http_status == 429 and e.value.code_name == "CONN_THROTTLED"
    assert len(t.requests) == 1


def test_read_timeout_on_get_is_retried(faulty):
    c, t = faulty(["read_timeout", "ok"])
    c.list_cloud_providers()
    assert len(t.requests) == 2


def test_dropped_connection_is_retried(faulty):
    c, t = faulty(["drop", "drop", "ok"])
    c.list_cloud_providers()
    assert len(t.requests) == 3


def test_400_is_not_retried(faulty):
    c, t = faulty(["400"])
    with pytest.raises(ApiError) as e:
        c.list_cloud_providers()
    assert e.value.http_status == 400
    assert len(t.requests) == 1


def test_real_404_is_not_retried(faulty, uid):
    c, t = faulty([])
    with pytest.raises(ApiError) as e:
        c.get_cluster(uid("missing"))
    assert e.value.http_status == 404
    assert len(t.requests) == 1


def test_gives_up_after_the_configured_retries(faulty):
    c, t = faulty(["503"] * 10, retries=RetryPolicy(retries=2, backoff=0.01))
    with pytest.raises(ApiError) as e:
        c.list_cloud_providers()
    assert e.value.http_status == 503
    assert len(t.requests) == 3


def test_create_whose_answer_was_lost_is_read_back_not_duplicated(faulty, client, uid):
    cc = client.create_cluster(
        ComputeCluster(id=uid("cc"), cloud_provider={"id": "aws"}, region="us-east-1")
    )
    c, t = faulty(["apply_then_read_timeout", "ok"])
    np_id = uid("np")
    created = c.create_nodepool(cc.id, _nodepool(np_id))
    assert created.id == np_id
    # first POST applied (answer lost), second POST said "already exists", then a GET read it back
    assert _attempts(t, "/nodepools", "POST") == 2
    assert _attempts(t, f"/nodepools/{np_id}") == 1
    assert [n.id for n in client.list_nodepools(cc.id)] == [np_id]


def test_a_duplicate_on_the_first_attempt_is_a_real_conflict(faulty, client, uid):
    cc = client.create_cluster(
        ComputeCluster(id=uid("cc"), cloud_provider={"id": "aws"}, region="us-east-1")
    )
    c, t = faulty([])
    c.create_nodepool(cc.id, _nodepool("np-dup"))
    with pytest.raises(ApiError) as e:
        c.create_nodepool(cc.id, _nodepool("np-dup"))
    assert e.value.http_status == 409
    assert _attempts(t, "/nodepools", "POST") == 2  # one per call: no retry


def test_delete_whose_answer_was_lost_counts_as_done(faulty, client, uid):
    cc = client.create_cluster(
        ComputeCluster(id=uid("cc"), cloud_provider={"id": "aws"}, region="us-east-1")
    )
    client.create_nodepool(cc.id, _nodepool("np-del"))
    c, t = faulty(["apply_then_drop", "ok"])
    c.delete_nodepool(cc.id, "np-del")
    assert _attempts(t, "/nodepools", "DELETE") == 2
    assert client.list_nodepools(cc.id) == []


def test_advance_clock_is_not_repeated_after_an_ambiguous_failure(faulty, client):
    before = client.server_time()
    c, t = faulty(["apply_then_read_timeout"])
    with pytest.raises(ConnectionFailed):
        c.advance_clock(3600)
    assert _attempts(t, "/local/clock/advance", "POST") == 1
    advanced = (client.server_time() - before).total_seconds()
    assert 3600 <= advanced < 2 * 3600  # applied exactly once


def test_unreachable_server_raises_connection_failed_without_the_token():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = "secret-token-1234567890"
    c = ComputeClient(
        f"http://127.0.0.1:{port}", token, retries=RetryPolicy(retries=2, backoff=0.01)
    )
    with pytest.raises(ConnectionFailed) as e:
        c.list_clusters()
    msg = str(e.value)
    assert "after 3 attempts" in msg and f"127.0.0.1:{port}" in msg
    assert token not in msg and token not in repr(e.value)
    assert e.value.__cause__ is None and e.value.__suppress_context__
    assert token not in repr(c)
    c.close()


def test_token_never_in_logs_or_errors(server, caplog):
    token = "wrong-token-abcdef123456"
    transport = FaultTransport(["503", "drop", "ok"])
    with (
        caplog.at_level(logging.DEBUG),
        ComputeClient(
            server.url, token, retries=FAST, transport=transport, verify_identity=False
        ) as c,
        pytest.raises(ApiError) as e,
    ):
        c.list_clusters()
    assert e.value.http_status == 401
    assert token not in str(e.value) and token not in repr(e.value)
    assert token not in caplog.text
    assert all(r.headers["authorization"] == f"Key {token}" for r in transport.requests)


def test_every_request_carries_a_timeout_and_user_agent(faulty):
    c, t = faulty([])
    c.list_cloud_providers()
    request = t.requests[0]
    assert request.extensions["timeout"]["read"] == 5
    assert request.headers["user-agent"].startswith("compute-widgets/")


async def test_async_client_retries_the_same_way(server):
    transport = AsyncFaultTransport(["503", "read_timeout", "429:0", "ok"])
    async with AsyncComputeClient(server.url, server.token, retries=FAST, transport=transport) as c:
        providers = await c.list_cloud_providers()
    assert providers and len(transport.requests) == 4


async def test_async_400_is_not_retried(server):
    transport = AsyncFaultTransport(["400"])
    async with AsyncComputeClient(server.url, server.token, retries=FAST, transport=transport) as c:
        with pytest.raises(ApiError):
            await c.list_cloud_providers()
    assert len(transport.requests) == 1


def test_non_json_error_body_becomes_an_api_error(faulty):
    c, t = faulty(["503"], retries=RetryPolicy(retries=0))
    with pytest.raises(ApiError) as e:
        c.list_cloud_providers()
    assert e.value.http_status == 503 and "upstream unavailable" in str(e.value.details)
    assert "\n" not in str(e.value)
    json.dumps({"msg": str(e.value)})  # plain text
