"""Fuzzing the local control plane over HTTP: no 5xx, every answer a well-formed Clarifai status.

Two layers:

* **schemathesis** (v4) reads the server's own ``/openapi.json`` (fetched with the token) and
  generates requests for every ``/v2`` operation, in positive and negative mode (negative mode
  also breaks the ``Authorization`` header and the paging bounds). Half the examples pin
  ``user_id=me`` and ``cc`` to an existing cluster so bodies reach validation, not only the
  404 of an unknown parent.
* **hypothesis with a domain strategy**: the OpenAPI document only says "a list of objects" for
  resource bodies, so schemathesis rarely builds a nodepool that gets past the first check.
  `test_nodepool_posts_agree_with_the_models` builds near-valid nodepools (real instance types,
  edge-case IDs, counts, capacity types, descriptions around the 1000-character cap) and checks
  the server against the models' own rules: accepted exactly when `Nodepool.problems()` is
  empty and the catalog allows it; a refused POST writes nothing; an accepted one reads back.

Budgets are small (max_examples per operation, no deadline) so the module runs in well under
90 s on two cores.
"""

from __future__ import annotations

import re

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compute_widgets.api import models as m
from compute_widgets.api.errors import InvalidInput
from compute_widgets.local.app import ROUTES
from compute_widgets.local.runtime import start_server, stop_server

schemathesis = pytest.importorskip("schemathesis")
from schemathesis import GenerationMode  # noqa: E402

EXAMPLES_PER_OPERATION = 25  # drawn from positive and negative modes, free and pinned parents
CLUSTER = "fuzz-cc"
POOL = "fuzz-np"

V2_ROUTES = [r for r in ROUTES if r.path.startswith("/v2/")]
_FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,  # same examples every run: a CI failure reproduces locally
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory):
    """A server of its own: fuzzing writes odd resources that must not leak into other tests."""
    handle = start_server(tmp_path_factory.mktemp("fuzz") / "cp", port=0)
    auth = {"Authorization": f"Key {handle.token}"}
    with httpx.Client(base_url=handle.url, headers=auth, timeout=30) as http:
        r = http.post(
            "/v2/users/me/compute_clusters",
            json={
                "compute_clusters": [
                    {"id": CLUSTER, "cloud_provider": {"id": "aws"}, "region": "us-east-1"}
                ]
            },
        )
        assert r.status_code == 200, r.text
        r = http.post(
            f"/v2/users/me/compute_clusters/{CLUSTER}/nodepools",
            json={
                "nodepools": [
                    {
                        "id": POOL,
                        "instance_types": [{"id": "t3a.medium"}],
                        "node_capacity_type": {"capacity_types": [1]},
                        "max_instances": 2,
                    }
                ]
            },
        )
        assert r.status_code == 200, r.text
    yield handle
    stop_server(handle)


@pytest.fixture(scope="module")
def api_schema(fuzz_server):
    doc = httpx.get(
        fuzz_server.url + "/openapi.json",
        headers={"Authorization": f"Key {fuzz_server.token}"},
    ).json()
    return schemathesis.openapi.from_dict(doc)


def assert_clarifai_status(r) -> dict:
    """The answer of every route: JSON, status {code:int, description:str, req_id:str},
    HTTP status agreeing with the code, and the req_id echoed in the header."""
    assert r.status_code < 500, f"{r.status_code}: {r.text[:500]}"
    try:
        body = r.json()
    except ValueError:
        pytest.fail(f"not JSON ({r.status_code}): {r.text[:300]!r}")
    assert isinstance(body, dict), body
    status = body.get("status")
    assert isinstance(status, dict), body
    code = status.get("code")
    assert isinstance(code, int) and not isinstance(code, bool), status
    assert isinstance(status.get("description"), str) and status["description"], status
    assert isinstance(status.get("req_id"), str) and status["req_id"], status
    assert "details" not in status or isinstance(status["details"], str), status
    assert (code == 10000) == (r.status_code == 200), (r.status_code, status)
    echoed = r.headers.get("x-clarifai-request-id")  # schemathesis' Response: a list of values
    echoed = echoed[0] if isinstance(echoed, list) else echoed
    assert echoed == status["req_id"]
    assert "Traceback" not in status["description"]
    return body


def test_openapi_document_covers_every_v2_route(api_schema):
    """Guards the parametrization below: the document and the route table agree."""
    for r in V2_ROUTES:
        assert api_schema[r.path][r.method] is not None, (r.method, r.path)


@pytest.mark.parametrize("route", V2_ROUTES, ids=[f"{r.method} {r.rpc}" for r in V2_ROUTES])
def test_schemathesis_every_v2_operation(route, api_schema, fuzz_server):
    op = api_schema[route.path][route.method]
    auth = {"Authorization": f"Key {fuzz_server.token}"}
    pinned = {
        k: v
        for k, v in {"user_id": "me", "cc": CLUSTER, "np": POOL, "provider": "aws"}.items()
        if "{" + k + "}" in route.path
    }
    strategies = [
        op.as_strategy(GenerationMode.POSITIVE),
        op.as_strategy(GenerationMode.NEGATIVE),
    ]
    if pinned:
        strategies += [
            op.as_strategy(GenerationMode.POSITIVE, path_parameters=pinned),
            op.as_strategy(GenerationMode.NEGATIVE, path_parameters=pinned),
        ]
    seen: dict[int, int] = {}

    import requests

    with requests.Session() as session:

        @_FUZZ_SETTINGS
        @given(case=st.one_of(strategies))
        def run(case):
            # the token is added unless negative mode dropped or garbled the header on purpose
            r = case.call(base_url=fuzz_server.url, session=session, headers=auth, timeout=30)
            body = assert_clarifai_status(r)
            seen[body["status"]["code"]] = seen.get(body["status"]["code"], 0) + 1

        run()
    assert seen  # something was sent and answered
    # the server is still healthy and the fixture's resources are intact
    h = httpx.get(
        f"{fuzz_server.url}/v2/users/me/compute_clusters/{CLUSTER}/nodepools/{POOL}",
        headers=auth,
    )
    assert h.status_code == 200, h.text


# ------------------------------------------------------------------------------------------------
# domain fuzzing: near-valid nodepools, judged by the models' own rules


@pytest.fixture(scope="module")
def catalog_types(fuzz_server):
    r = httpx.get(
        f"{fuzz_server.url}/v2/cloud_providers/aws/regions/us-east-1/instance_types",
        headers={"Authorization": f"Key {fuzz_server.token}"},
    )
    types = [m.InstanceType.from_wire(t) for t in r.json()["instance_types"]]
    assert types
    return {t.id: t for t in types}


_ID_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
GOOD = {
    "id": st.text(_ID_CHARS, min_size=1, max_size=48).filter(lambda s: s[0] not in "-_"),
    "lo": st.integers(0, 3),
    "hi": st.integers(3, 6),
    "caps": st.sampled_from([[1], [2], [1, 2], ["SPOT_TYPE"], ["ON_DEMAND_TYPE", "SPOT_TYPE"]]),
    "desc": st.one_of(st.just(""), st.text(max_size=40), st.just("d" * 1000)),
}
ODD = {  # each value is wrong, or right at a limit
    "id": st.one_of(
        st.sampled_from(["", "-lead", "_lead", "a" * 48, "b" * 49, "sp ace", "dot.id", "é-id"]),
        st.text(max_size=60),
    ),
    "itype": st.sampled_from(["zz.nope", "", "G5.XLARGE"]),
    "lo": st.sampled_from([-1, 7, 2**31, 2**32, 2**63, "3", "x", 1.5, True]),
    "hi": st.sampled_from([0, -1, 2**32, "x", 2.5, False]),
    "caps": st.lists(st.sampled_from([0, 3, 99, "spot", "bogus", 1, 2]), max_size=3),
    "desc": st.integers(999, 1002).map(lambda n: "d" * n),
}


@st.composite
def nodepool_bodies(draw, type_ids: list[str]) -> dict:
    """A valid nodepool with at most one field replaced by an odd value."""
    odd = draw(st.sampled_from([None, None, *ODD]))
    good = dict(GOOD, itype=st.sampled_from(type_ids))
    f = {k: draw(ODD[k] if k == odd else good[k]) for k in good}
    return {
        "id": f["id"],
        "instance_types": [{"id": f["itype"]}],
        "node_capacity_type": {"capacity_types": f["caps"]},
        "min_instances": f["lo"],
        "max_instances": f["hi"],
        "description": f["desc"],
    }


def _expected_ok(body: dict, types: dict, taken: set[str]) -> bool:
    """What the models (and the catalog) say about this body; False if it must be refused."""
    try:
        np = m.Nodepool.from_wire(body)
    except InvalidInput:
        return False
    if np.problems() or np.id in taken:
        return False
    t = types.get(np.instance_type_id)
    if t is None:
        return False
    asked = set(np.node_capacity_type.capacity_types)
    if m.CapacityType.SPOT_TYPE in asked and not t.spot_allowed:
        return False
    return not (m.CapacityType.ON_DEMAND_TYPE in asked and not t.on_demand_allowed)


def test_nodepool_posts_agree_with_the_models(fuzz_server, catalog_types):
    auth = {"Authorization": f"Key {fuzz_server.token}"}
    type_ids = sorted(catalog_types)
    taken: set[str] = {POOL}
    outcomes = {"accepted": 0, "refused": 0}
    path = f"/v2/users/me/compute_clusters/{CLUSTER}/nodepools"

    with httpx.Client(base_url=fuzz_server.url, headers=auth, timeout=30) as http:

        @settings(
            max_examples=150,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(body=nodepool_bodies(type_ids))
        def run(body):
            np_id, itype, desc = body["id"], body["instance_types"][0]["id"], body["description"]
            want = _expected_ok(body, catalog_types, taken)
            r = http.post(path, json={"nodepools": [body]})
            got = assert_clarifai_status(r)
            accepted = got["status"]["code"] == 10000
            assert accepted == want, (body, got["status"])
            if accepted:
                taken.add(np_id)
                outcomes["accepted"] += 1
                back = http.get(f"{path}/{np_id}").json()["nodepool"]
                assert back["instance_types"][0]["id"] == itype
                assert back.get("description", "") == desc
            else:
                outcomes["refused"] += 1
                plain = isinstance(np_id, str) and re.fullmatch(r"[A-Za-z0-9][\w-]{0,47}", np_id)
                if plain and np_id not in taken:  # a refused POST wrote nothing
                    g = http.get(f"{path}/{np_id}")
                    assert g.status_code == 404, g.text

        run()
    # both branches exercised, or the oracle proves nothing
    print("nodepool oracle:", outcomes)
    assert outcomes["accepted"] >= 5 and outcomes["refused"] >= 5, outcomes


@pytest.mark.parametrize("raw", [b"18446744073709551616", b"999", b"-1", b"Infinity", b"1e400"])
def test_nodepool_status_out_of_range_is_a_400(fuzz_server, raw):
    """Found by the schemathesis run: a huge status integer reached SQLite (OverflowError, 500)."""
    r = httpx.post(
        f"{fuzz_server.url}/v2/users/me/compute_clusters/{CLUSTER}/nodepools/{POOL}/status",
        content=b'{"status": ' + raw + b"}",
        headers={"Authorization": f"Key {fuzz_server.token}", "Content-Type": "application/json"},
    )
    body = assert_clarifai_status(r)
    assert r.status_code == 400 and body["status"]["code"] == 25701, body
    assert "NODEPOOL_STATUS_READY" in body["status"]["description"]  # says what is allowed
