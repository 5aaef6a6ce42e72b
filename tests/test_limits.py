"""The server's limits, each probed at its boundary: the last accepted value and the first refused.

tests/test_local_app.py already refuses far-out values (a 1 MB description, per_page 10^9, a
49-character ID, a body over the cap) in its bad-input table; here each limit is pinned exactly,
the refusal is checked to name the limit, and the client-side counterpart is checked too.

| limit                       | value           | refusal                                  |
|-----------------------------|-----------------|------------------------------------------|
| request body                | 1 MiB (1048576) | HTTP 413, CONN_BAD_REQUEST_FORMAT 11100  |
| per_page                    | 1..1000         | HTTP 400, BAD_REQUEST 90400              |
| page                        | >= 1            | HTTP 400, BAD_REQUEST 90400              |
| resource ID                 | 1..48 chars     | HTTP 400, *_INVALID_ARGUMENT             |
| description                 | 1000 chars      | HTTP 400, *_INVALID_ARGUMENT             |
| metric points per series    | 20000           | HTTP 400, BAD_REQUEST 90400              |
| counts and delays (uint32)  | 0..4294967295   | HTTP 400, *_INVALID_ARGUMENT (test_hostile_input.py) |
| page / per_page digits      | ASCII 0-9 only  | HTTP 400, BAD_REQUEST 90400 (test_hostile_input.py) |
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import httpx
import pytest

from compute_widgets.api import models as m
from compute_widgets.api.errors import ApiError, InvalidInput
from compute_widgets.local.wire import MAX_BODY, MAX_PER_PAGE


@pytest.fixture
def http(server):
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Key {server.token}"}, timeout=30
    ) as c:
        yield c


@pytest.fixture
def cc(client, uid):
    cluster = m.ComputeCluster(
        id=uid("lim"), cloud_provider=m.CloudProvider(id="aws"), region="us-east-1"
    )
    return client.create_cluster(cluster).id


def _pool(np_id: str, **kw) -> dict:
    return {
        "id": np_id,
        "instance_types": [{"id": "t3a.medium"}],
        "node_capacity_type": {"capacity_types": [1]},
        "max_instances": 1,
        **kw,
    }


def _status(r: httpx.Response) -> dict:
    body = r.json()
    assert isinstance(body["status"]["code"], int) and body["status"]["req_id"]
    return body["status"]


def test_limit_constants_are_the_documented_ones():
    # docs/reliability.md and the README state these numbers
    assert MAX_BODY == 1024 * 1024
    assert MAX_PER_PAGE == 1000
    assert m.MAX_DESCRIPTION == 1000
    assert m.check_id("a" * 48) is None and "48" in m.check_id("a" * 49)


def _padded(body: dict, size: int) -> bytes:
    raw = json.dumps(body).encode()
    assert len(raw) <= size
    return raw + b" " * (size - len(raw))  # trailing whitespace is still valid JSON


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_body_cap_is_exactly_one_mib(http, cc, uid, chunked):
    path = f"/v2/users/me/compute_clusters/{cc}/nodepools"
    at_cap = _padded({"nodepools": [_pool(uid("np"))]}, MAX_BODY)
    over = _padded({"nodepools": [_pool(uid("np"))]}, MAX_BODY + 1)

    def send(content: bytes) -> httpx.Response:
        if chunked:  # no Content-Length: the server counts while it reads
            return http.post(
                path, content=iter([content[i : i + 65536] for i in range(0, len(content), 65536)])
            )
        return http.post(path, content=content)

    r = send(at_cap)
    assert r.status_code == 200, r.text
    r = send(over)
    assert r.status_code == 413
    status = _status(r)
    assert status["code"] == 11100 and str(MAX_BODY) in status["description"]
    assert "smaller batches" in status["description"]
    n = len(http.get(path, params={"per_page": 1000}).json()["nodepools"])
    assert n == 1  # the refused body wrote nothing


def test_per_page_and_page_bounds(http, client):
    for path in (
        "/v2/users/me/compute_clusters",
        "/v2/users/me/nodepools",
        "/v2/users/me/deployments",
    ):
        assert http.get(path, params={"per_page": MAX_PER_PAGE}).status_code == 200
        assert http.get(path, params={"per_page": 1, "page": 1}).status_code == 200
        # proto3: 0 means unset, so page=0 / per_page=0 are the defaults (the first page)
        key = path.rsplit("/", 1)[1]
        first = [x["id"] for x in http.get(path).json()[key]]
        for zeros in ({"per_page": 0}, {"page": 0}, {"page": 0, "per_page": 0}):
            assert [x["id"] for x in http.get(path, params=zeros).json()[key]] == first, zeros
        for params in ({"per_page": MAX_PER_PAGE + 1}, {"per_page": -1}, {"page": -1}):
            r = http.get(path, params=params)
            assert r.status_code == 400, (path, params, r.text)
            status = _status(r)
            assert status["code"] == 90400
            assert next(iter(params)) in status["description"]
        r = http.get(path, params={"per_page": MAX_PER_PAGE + 1})
        assert str(MAX_PER_PAGE) in _status(r)["description"]  # says the limit
    # the client pages with 128 and never trips the cap
    assert client.list_clusters() is not None


@pytest.mark.parametrize("kind", ["cluster", "nodepool", "deployment"])
def test_id_cap_48_characters(http, cc, uid, kind):
    def post(obj_id: str) -> httpx.Response:
        if kind == "cluster":
            body = {
                "compute_clusters": [
                    {"id": obj_id, "cloud_provider": {"id": "aws"}, "region": "us-east-1"}
                ]
            }
            return http.post("/v2/users/me/compute_clusters", json=body)
        if kind == "nodepool":
            return http.post(
                f"/v2/users/me/compute_clusters/{cc}/nodepools", json={"nodepools": [_pool(obj_id)]}
            )
        np_id = uid("np")
        http.post(
            f"/v2/users/me/compute_clusters/{cc}/nodepools", json={"nodepools": [_pool(np_id)]}
        )
        dep = {
            "id": obj_id,
            "worker": {"model": {"id": uid("m"), "user_id": "u", "app_id": "a"}},
            "nodepools": [{"id": np_id, "compute_cluster": {"id": cc}}],
        }
        return http.post("/v2/users/me/deployments", json={"deployments": [dep]})

    stem = uid("i").replace("-", "")
    ok_id = (stem + "x" * 48)[:48]
    r = post(ok_id)
    assert r.status_code == 200, r.text
    r = post((stem + "y" * 49)[:49])
    assert r.status_code == 400
    status = _status(r)
    assert "INVALID_ARGUMENT" in _name(status["code"]) and "48" in status["description"]


def _name(code: int) -> str:
    from compute_widgets.api.errors import status_code_name

    return status_code_name(code)


def test_description_cap_1000_characters(http, cc, uid, client):
    path = f"/v2/users/me/compute_clusters/{cc}/nodepools"
    np_id = uid("np")
    r = http.post(path, json={"nodepools": [_pool(np_id, description="d" * 1000)]})
    assert r.status_code == 200, r.text
    r = http.post(path, json={"nodepools": [_pool(uid("np"), description="d" * 1001)]})
    assert r.status_code == 400 and "1000" in _status(r)["description"]
    # the same cap on a cluster, a deployment and a status description
    r = http.post(
        "/v2/users/me/compute_clusters",
        json={
            "compute_clusters": [
                {
                    "id": uid("c"),
                    "cloud_provider": {"id": "aws"},
                    "region": "us-east-1",
                    "description": "d" * 1001,
                }
            ]
        },
    )
    assert r.status_code == 400 and "1000" in _status(r)["description"]
    r = http.post(f"{path}/{np_id}/status", json={"status": 3, "status_description": "s" * 1001})
    assert r.status_code == 400 and "1000" in _status(r)["description"]
    r = http.post(f"{path}/{np_id}/status", json={"status": 3, "status_description": "s" * 1000})
    assert r.status_code == 200, r.text
    # the client refuses it before sending (pre-flight, same rule from api/models.py)
    with pytest.raises(InvalidInput, match="1000"):
        client.create_nodepool(
            cc,
            m.Nodepool.from_wire(_pool(uid("np"), description="d" * 1001)),
        )


def test_metric_points_cap(http):
    # A window inside the 15 days of history kept (older time is clipped away before counting),
    # ending at the server's "now": 14 days and 9 hours at 1m are 20,700 points.
    now = datetime.fromisoformat(http.get("/local/clock").json()["now"].replace("Z", "+00:00"))
    q = {
        "metric_type": "NODEPOOL_NODE_COUNT",
        "start_time": (now - timedelta(days=14, hours=9)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "end_time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "resolution": "1m",
        "filters": [{"label": "NODEPOOL_ID", "equals": "no-such-pool"}],  # keep it cheap
    }
    r = http.post("/v2/users/me/metrics", json={"query": q})
    assert r.status_code == 400
    status = _status(r)
    assert status["code"] == 90400
    assert "20000" in status["description"] and "resolution" in status["description"]
    r = http.post("/v2/users/me/metrics", json={"query": dict(q, resolution="1h")})  # 346
    assert r.status_code == 200, r.text[:300]


def test_an_overlong_path_id_is_a_clean_404(http, cc):
    r = http.get(f"/v2/users/me/compute_clusters/{cc}/nodepools/{'n' * 4000}")
    assert r.status_code == 404 and _status(r)["code"] == 25700


def test_client_raises_api_error_for_an_over_cap_batch(client, cc, uid):
    """A batch the client sends that is over the body cap comes back as a readable ApiError."""
    pools = [
        m.Nodepool.from_wire(_pool(uid("np"), metadata={"blob": "x" * 9000})) for _ in range(128)
    ]
    with pytest.raises(ApiError) as info:
        client.create_nodepools(cc, pools)
    assert info.value.http_status == 413 and "\n" not in str(info.value)
    assert client.list_nodepools(cc) == []  # all or nothing
