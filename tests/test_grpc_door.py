"""Bad input through the gRPC door (`local/grpc_door.py`), with the official clarifai-grpc stub on a
real gRPC channel: each gets a clear answer and nothing is written.

"Nothing written" is checked on the store as the REST door lists it (clusters, nodepools,
deployments of the user), before and after.
"""

from __future__ import annotations

import grpc
import httpx
import pytest
from clarifai_grpc.channel.clarifai_channel import ClarifaiChannel
from clarifai_grpc.grpc.api import resources_pb2, service_pb2, service_pb2_grpc
from clarifai_grpc.grpc.api.status import status_code_pb2
from google.protobuf.message_factory import GetMessageClass

from compute_widgets.local.grpc_door import SERVICE, routes_by_rpc
from compute_widgets.local.wire import MAX_BODY

SUCCESS = status_code_pb2.SUCCESS
ME = resources_pb2.UserAppIDSet(user_id="me")


@pytest.fixture(scope="module")
def door(server):
    host, port = server.grpc_url.removeprefix("http://").split(":")
    stub = service_pb2_grpc.V2Stub(
        ClarifaiChannel.get_insecure_grpc_channel(base=host, port=int(port))
    )
    return stub, (("authorization", f"Key {server.token}"),)


def snapshot(server) -> dict[str, list]:
    """Everything the user has, through the REST door."""
    auth = {"Authorization": f"Key {server.token}"}
    with httpx.Client(base_url=server.url, headers=auth) as http:
        out = {}
        for name, path in (
            ("compute_clusters", "/v2/users/me/compute_clusters?per_page=1000"),
            ("nodepools", "/v2/users/me/nodepools?per_page=1000"),
            ("deployments", "/v2/users/me/deployments?per_page=1000"),
        ):
            body = http.get(path).json()
            out[name] = sorted(
                (x.get("id"), x.get("modified_at"), x.get("description"))
                for x in body.get(name, [])
            )
        return out


def cluster(cc_id: str, **kw) -> resources_pb2.ComputeCluster:
    return resources_pb2.ComputeCluster(
        id=cc_id, cloud_provider=resources_pb2.CloudProvider(id="aws"), region="us-east-1", **kw
    )


def test_wrong_or_missing_token_is_a_status_and_writes_nothing(server, door, uid):
    stub, _ = door
    before = snapshot(server)
    request = service_pb2.PostComputeClustersRequest(
        user_app_id=ME, compute_clusters=[cluster(uid("cc"))]
    )
    for metadata in (
        (("authorization", "Key not-the-token"),),
        (),
        (("authorization", "Bearer x"),),
    ):
        r = stub.PostComputeClusters(request, metadata=metadata)
        assert r.status.code == status_code_pb2.CONN_KEY_INVALID
        assert "authorization: Key <token>" in r.status.description
        assert r.status.req_id
        assert not r.compute_clusters
    assert snapshot(server) == before


def test_every_served_rpc_with_an_empty_request(server, door):
    """An empty message (proto3: every field unset) to each RPC we serve: a read answers with its
    defaults, everything else is a failure status that says what to give; nothing is written."""
    stub, md = door
    before = snapshot(server)
    served = routes_by_rpc()
    assert {"GetNodepool", "PostDeployments", "ListInstanceTypes", "ListLogEntries"} <= set(served)
    for name in served:
        request = GetMessageClass(SERVICE.methods_by_name[name].input_type)()
        r = getattr(stub, name)(request, metadata=md)
        if r.status.code != SUCCESS:
            assert r.status.description, name
            assert "Internal error" not in r.status.description, (name, r.status.description)
        else:  # only reads may succeed on nothing
            assert name.startswith(("List", "Get")), (name, r.status.description)
    assert snapshot(server) == before


def test_missing_ids_are_named(door):
    stub, md = door
    r = stub.GetNodepool(service_pb2.GetNodepoolRequest(user_app_id=ME), metadata=md)
    assert r.status.code != SUCCESS
    assert "compute_cluster_id" in r.status.description and "nodepool_id" in r.status.description
    r = stub.GetDeployment(service_pb2.GetDeploymentRequest(user_app_id=ME), metadata=md)
    assert r.status.code != SUCCESS and "deployment_id" in r.status.description


def test_unknown_enum_numbers_are_refused_by_field(server, door, uid):
    """proto3 enums are open: a number the enum lacks arrives as that number. It is refused with
    the field named, not stored."""
    stub, md = door
    cc = uid("cc")
    r = stub.PostComputeClusters(
        service_pb2.PostComputeClustersRequest(user_app_id=ME, compute_clusters=[cluster(cc)]),
        metadata=md,
    )
    assert r.status.code == SUCCESS
    before = snapshot(server)
    pool = resources_pb2.Nodepool(
        id=uid("np"),
        instance_types=[resources_pb2.InstanceType(id="g5.xlarge")],
        node_capacity_type=resources_pb2.NodeCapacityType(capacity_types=[77]),
        max_instances=2,
    )
    r = stub.PostNodepools(
        service_pb2.PostNodepoolsRequest(user_app_id=ME, compute_cluster_id=cc, nodepools=[pool]),
        metadata=md,
    )
    assert r.status.code != SUCCESS
    assert "capacity_types" in r.status.description and "77" in r.status.description
    bad_visibility = cluster(uid("cc"), visibility=resources_pb2.Visibility(gettable=33))
    r = stub.PostComputeClusters(
        service_pb2.PostComputeClustersRequest(user_app_id=ME, compute_clusters=[bad_visibility]),
        metadata=md,
    )
    assert r.status.code != SUCCESS and "gettable" in r.status.description
    query = resources_pb2.MetricSearchQuery(metric_type=4242, resolution="5m")
    r = stub.PostMetricsQuery(
        service_pb2.PostMetricsQueryRequest(user_app_id=ME, query=query), metadata=md
    )
    assert r.status.code != SUCCESS and "metric_type" in r.status.description
    assert snapshot(server) == before


def test_oversized_message_is_refused_before_any_handler(server, door, uid):
    stub, md = door
    before = snapshot(server)
    big = cluster(uid("cc"), description="x" * (MAX_BODY + 1))
    with pytest.raises(grpc.RpcError) as e:
        stub.PostComputeClusters(
            service_pb2.PostComputeClustersRequest(user_app_id=ME, compute_clusters=[big]),
            metadata=md,
        )
    assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert str(MAX_BODY) in e.value.details()  # "Received message larger than max (N vs. M)"
    assert snapshot(server) == before


def test_rpc_not_served_is_unimplemented_and_named(door):
    stub, md = door
    for name, request in (
        ("PostInputs", service_pb2.PostInputsRequest()),
        ("ListApps", service_pb2.ListAppsRequest(user_app_id=ME)),
    ):
        with pytest.raises(grpc.RpcError) as e:
            getattr(stub, name)(request, metadata=md)
        assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED
        assert name in e.value.details() and "api.clarifai.com" in e.value.details()
