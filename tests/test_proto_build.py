"""The gRPC door's fast message builder (`local/proto_build.py`) against its judge, protobuf's own
`ParseDict`: for every kind of answer the plane gives (taken from a demo plane's REST door), the
same message, byte for byte; a key the message lacks is refused the same way."""

from __future__ import annotations

import httpx
import pytest
from clarifai_grpc.grpc.api import service_pb2
from google.protobuf.json_format import ParseDict, ParseError

from compute_widgets.local.proto_build import build
from compute_widgets.local.runtime import start_server, stop_server

# REST path -> the response message of the RPC it serves
ANSWERS = {
    "/v2/users/me/compute_clusters": service_pb2.MultiComputeClusterResponse,
    "/v2/users/me/nodepools": service_pb2.MultiNodepoolResponse,
    "/v2/users/me/deployments": service_pb2.MultiDeploymentResponse,
    "/v2/users/me/runners": service_pb2.MultiRunnerResponse,
    "/v2/users/me": service_pb2.SingleUserResponse,
    "/v2/cloud_providers": service_pb2.MultiCloudProviderResponse,
    "/v2/cloud_providers/all/regions/all/instance_types": service_pb2.MultiInstanceTypeResponse,
    "/v2/models": service_pb2.MultiModelResponse,
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    handle = start_server(tmp_path_factory.mktemp("demo"), demo=True)
    yield handle
    stop_server(handle)


def same(body, cls) -> bool:
    fast = build(body, cls).SerializeToString(deterministic=True)
    return fast == ParseDict(body, cls()).SerializeToString(deterministic=True)


def test_every_kind_of_answer_builds_as_parsedict_does(demo):
    auth = {"Authorization": f"Key {demo.token}"}
    with httpx.Client(base_url=demo.url, headers=auth, timeout=120) as http:
        for path, cls in ANSWERS.items():
            body = http.get(path).json()
            assert body["status"]["code"] == 10000, (path, body["status"])
            filled = [k for k, v in body.items() if k != "status" and v]
            assert filled, (path, "the demo plane answered nothing to compare")
            assert same(body, cls), path
        pools = http.get("/v2/users/me/nodepools").json()["nodepools"]
        assert len(pools) >= 2 and all(p.get("created_at") for p in pools)
        cc, np = pools[0]["compute_cluster"]["id"], pools[0]["id"]
        logs = http.get(f"/v2/users/me/compute_clusters/{cc}/runner.events/logs?nodepool_id={np}")
        assert logs.json()["status"]["code"] == 10000 and logs.json()["log_entries"], logs.json()
        assert same(logs.json(), service_pb2.MultiLogEntryResponse)
        metrics = http.post(
            "/v2/users/me/metrics",
            json={"query": {"metric_type": "NODEPOOL_NODE_COUNT", "resolution": "1h"}},
        ).json()
        assert metrics["status"]["code"] == 10000, metrics["status"]
        assert same(metrics, service_pb2.MetricsQueryResponse)


def test_a_key_the_message_lacks_is_refused_by_name():
    body = {"status": {"code": 10000}, "nodepool": {"id": "np", "colour": "red"}}
    with pytest.raises(ParseError, match='no field named "colour"'):
        build(body, service_pb2.SingleNodepoolResponse)


def test_what_the_constructor_refuses_goes_to_parsedict():
    # a float where an int32 is: ParseDict takes 3.0 (it is whole), the constructor does not
    body = {"status": {"code": 10000.0, "description": "Ok"}}
    assert build(body, service_pb2.SingleNodepoolResponse).status.code == 10000
    assert same(body, service_pb2.SingleNodepoolResponse)
