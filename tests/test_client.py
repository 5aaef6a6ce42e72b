"""ComputeClient and AsyncComputeClient against the real local control plane (127.0.0.1, SQLite)."""

from __future__ import annotations

import inspect
from datetime import timedelta

import httpx
import pytest

from compute_widgets.api.client import AsyncComputeClient, ComputeClient, ResultList
from compute_widgets.api.errors import ApiError, ComputeError, ConnectionFailed, InvalidInput
from compute_widgets.api.models import (
    AutoscaleConfig,
    CapacityType,
    ComputeCluster,
    Deployment,
    InstanceType,
    ModelRef,
    NodeCapacityType,
    Nodepool,
    NodepoolStatus,
    Worker,
)


class CountingTransport(httpx.BaseTransport):
    """The real transport, counting what goes through it."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def counted(server):
    transport = CountingTransport()
    with ComputeClient(server.url, server.token, transport=transport) as c:
        yield c, transport


def cluster(cc_id: str, **kw) -> ComputeCluster:
    return ComputeCluster(id=cc_id, cloud_provider={"id": "aws"}, region="us-east-1", **kw)


def nodepool(np_id: str, spot: bool = False, **kw) -> Nodepool:
    caps = (
        [CapacityType.SPOT_TYPE, CapacityType.ON_DEMAND_TYPE]
        if spot
        else [CapacityType.ON_DEMAND_TYPE]
    )
    kw.setdefault("max_instances", 3)
    return Nodepool(
        id=np_id,
        node_capacity_type=NodeCapacityType(capacity_types=caps),
        instance_types=[InstanceType(id="t3a.medium")],
        **kw,
    )


def deployment(d_id: str, cc_id: str, np_id: str, **kw) -> Deployment:
    return Deployment(
        id=d_id,
        worker=Worker(model=ModelRef(id="m1", user_id="clarifai", app_id="main")),
        nodepools=[Nodepool(id=np_id, compute_cluster=ComputeCluster(id=cc_id))],
        autoscale_config=AutoscaleConfig(min_replicas=0, max_replicas=2),
        **kw,
    )


@pytest.fixture
def cc(client, uid):
    made = client.create_cluster(cluster(uid("cc"), description="test cluster"))
    yield made.id
    try:
        client.delete_cluster(made.id)
    except ApiError:
        pass


# clusters ---------------------------------------------------------------------------------------


def test_cluster_round_trip(client, uid):
    cc_id = uid("cc")
    created = client.create_cluster(cluster(cc_id, description="first"))
    assert created.id == cc_id and created.region == "us-east-1"
    assert client.get_cluster(cc_id).description == "first"
    assert cc_id in [c.id for c in client.list_clusters()]
    got = client.get_cluster(cc_id)
    patched = client.patch_cluster(got.model_copy(update={"description": "second"}))
    assert patched.description == "second"
    assert client.get_cluster(cc_id).description == "second"
    client.delete_cluster(cc_id)
    with pytest.raises(ApiError) as e:
        client.get_cluster(cc_id)
    assert e.value.http_status == 404 and e.value.code_name == "COMPUTE_CLUSTER_DOES_NOT_EXIST"
    assert cc_id in str(e.value) or e.value.req_id in str(e.value)


def test_cluster_key_is_not_echoed(client, uid):
    secret = "pat-that-must-stay-secret-123"
    made = client.create_cluster(cluster(uid("cc"), key={"id": secret}))
    assert secret not in repr(made)
    assert secret not in repr(client.get_cluster(made.id))
    client.delete_cluster(made.id)


# nodepools --------------------------------------------------------------------------------------


def test_nodepool_round_trip(client, cc, uid):
    np_id = uid("np")
    created = client.create_nodepool(
        cc, nodepool(np_id, spot=True, min_instances=1, description="d")
    )
    assert created.id == np_id and created.spot and created.instance_type_id == "t3a.medium"
    got = client.get_nodepool(cc, np_id)
    assert (got.min_instances, got.max_instances) == (1, 3)
    assert got.compute_cluster is not None and got.compute_cluster.id == cc
    patched = client.patch_nodepool(cc, got.model_copy(update={"max_instances": 5}))
    assert patched.max_instances == 5
    assert client.get_nodepool(cc, np_id).max_instances == 5
    client.set_nodepool_status(cc, np_id, NodepoolStatus.NODEPOOL_STATUS_ERROR, "quota")
    after = client.get_nodepool(cc, np_id)
    assert (
        after.status == NodepoolStatus.NODEPOOL_STATUS_ERROR and after.status_description == "quota"
    )
    client.delete_nodepool(cc, np_id)
    with pytest.raises(ApiError) as e:
        client.get_nodepool(cc, np_id)
    assert e.value.http_status == 404 and e.value.code_name == "NODEPOOL_DOES_NOT_EXIST"


def test_nodepools_across_clusters(client, uid):
    a, b = client.create_clusters([cluster(uid("cc")), cluster(uid("cc"))])
    client.create_nodepool(a.id, nodepool("np-a"))
    client.create_nodepool(b.id, nodepool("np-b"))
    everywhere = {(n.compute_cluster.id, n.id) for n in client.list_nodepools()}
    assert {(a.id, "np-a"), (b.id, "np-b")} <= everywhere
    assert [n.id for n in client.list_nodepools(a.id)] == ["np-a"]
    client.delete_clusters([a.id, b.id])


def test_paging_reads_every_page_lazily(server, client, cc, uid):
    ids = [f"np-{i:03d}" for i in range(130)]
    created = client.create_nodepools(cc, [nodepool(i) for i in ids])
    assert len(created) == 130
    transport = CountingTransport()
    with ComputeClient(server.url, server.token, transport=transport) as c:
        listed = c.list_nodepools(cc)
        assert sorted(n.id for n in listed) == ids
        pages = [r for r in transport.requests if r.url.path.endswith("/nodepools")]
        assert [r.url.params["page"] for r in pages] == [
            "1",
            "2",
        ]  # 128 + 2: the short page ends it
        assert all(r.url.params["per_page"] == "128" for r in pages)
        transport.requests.clear()
        first = next(iter(c.iter_nodepools(cc, per_page=10)))
        assert first.id in ids
        assert len(transport.requests) == 1  # lazy: one page fetched for one item


def test_dataframe_columns(client, cc, uid):
    client.create_nodepool(cc, nodepool(uid("np"), spot=True))
    pools = client.list_nodepools(cc)
    assert isinstance(pools, ResultList)
    df = pools.to_dataframe()
    assert list(df.columns) == [
        "id",
        "cluster",
        "instance_type",
        "capacity",
        "min_instances",
        "max_instances",
        "node_count",
        "status",
        "description",
        "created_at",
    ]
    assert df.loc[0, "cluster"] == cc and df.loc[0, "capacity"] == "spot+on_demand"
    assert str(df["created_at"].dtype) == "datetime64[ns, UTC]" or "UTC" in str(
        df["created_at"].dtype
    )
    html = pools._repr_html_()
    assert "<table>" in html and pools[0].id in html
    empty = ResultList([], Nodepool)
    assert list(empty.to_dataframe().columns) == list(df.columns)
    clusters = client.list_clusters().to_dataframe()
    assert {"id", "cloud_provider", "region", "created_at"} <= set(clusters.columns)


# deployments ------------------------------------------------------------------------------------


def test_deployment_round_trip_and_filters(client, cc, uid):
    np_id = uid("np")
    client.create_nodepool(cc, nodepool(np_id))
    d_id = uid("dep")
    created = client.create_deployment(deployment(d_id, cc, np_id, description="x"))
    assert created.id == d_id
    assert client.get_deployment(d_id).autoscale_config.max_replicas == 2
    assert [d.id for d in client.list_deployments(nodepool_id=np_id)] == [d_id]
    assert [d.id for d in client.list_deployments(compute_cluster_id=cc)] == [d_id]
    assert d_id in [d.id for d in client.list_deployments()]
    got = client.get_deployment(d_id)
    got.autoscale_config.max_replicas = 4
    assert client.patch_deployment(got).autoscale_config.max_replicas == 4
    df = client.list_deployments(nodepool_id=np_id).to_dataframe()
    assert df.loc[0, "nodepools"] == f"{cc}/{np_id}" and df.loc[0, "model"] == "clarifai/main/m1"
    client.delete_deployment(d_id)
    with pytest.raises(ApiError) as e:
        client.get_deployment(d_id)
    assert e.value.code_name == "DEPLOYMENT_DOES_NOT_EXIST"


# catalog ----------------------------------------------------------------------------------------


def test_catalog(client):
    providers = client.list_cloud_providers()
    assert "aws" in [p.id for p in providers]
    assert "us-east-1" in [r.id for r in client.list_regions("aws")]
    types = client.list_instance_types("aws", "us-east-1")
    t3a = next(t for t in types if t.id == "t3a.medium")
    assert not t3a.is_gpu and t3a.price_per_hour and t3a.price_per_hour > 0
    everything = client.list_instance_types()
    assert len(everything) > len(types)
    df = everything.to_dataframe()
    assert {"id", "cloud_provider", "vcpu", "memory_gib", "gpus", "price_per_hour"} <= set(
        df.columns
    )


# errors -----------------------------------------------------------------------------------------


def test_invalid_input_is_caught_before_sending(counted, uid):
    c, transport = counted
    with pytest.raises(InvalidInput) as e:
        c.create_nodepool("any", nodepool(uid("np"), min_instances=5, max_instances=2))
    assert "min_instances" in str(e.value)
    with pytest.raises(InvalidInput):
        c.create_cluster(
            ComputeCluster(id="bad id!", cloud_provider={"id": "aws"}, region="us-east-1")
        )
    assert transport.requests == []


def test_duplicate_is_409(client, cc):
    with pytest.raises(ApiError) as e:
        client.create_cluster(cluster(cc))
    assert e.value.http_status == 409
    assert "\n" not in str(e.value) and e.value.code_name in str(e.value)


def test_server_side_400(client, uid):
    with pytest.raises(ApiError) as e:  # passes the client's rules, fails the server's catalog
        client.create_cluster(
            ComputeCluster(id=uid("cc"), cloud_provider={"id": "aws"}, region="mars-1")
        )
    assert e.value.http_status == 400
    assert e.value.req_id


def test_wrong_token_is_401_and_never_shown(server):
    token = "definitely-wrong-token-9f8e7d"
    # identity check off (as through a tunnel): the server itself answers 401
    with ComputeClient(server.url, token, verify_identity=False) as c:
        assert token not in repr(c)
        with pytest.raises(ApiError) as e:
            c.list_clusters()
    err = e.value
    assert err.http_status == 401
    for text in (str(err), repr(err), err.description, err.details):
        assert token not in text
    # default: the client asks the server to prove it holds the token before sending it
    with ComputeClient(server.url, token, retries=0) as c, pytest.raises(ConnectionFailed) as e2:
        c.list_clusters()
    assert "did not prove it is the local control plane" in str(e2.value)
    assert token not in str(e2.value) and token not in repr(e2.value)


def test_local_only_methods_refuse_a_remote_backend():
    c = ComputeClient("https://api.clarifai.com", "x")
    assert not c.is_local
    with pytest.raises(ComputeError, match="local control plane"):
        c.advance_clock(10)
    c.close()


# observability ----------------------------------------------------------------------------------


def test_history_events_and_metrics(client, cc, uid):
    np_id = uid("np")
    client.create_nodepool(cc, nodepool(np_id, spot=True, min_instances=1, max_instances=4))
    client.create_deployment(deployment(uid("dep"), cc, np_id))
    now = client.advance_clock(6 * 3600)
    assert client.server_time() >= now
    hist = client.nodepool_history(cc, np_id, start=timedelta(hours=6), resolution="5m")
    assert hist.index.name == "timestamp" and str(hist.index.tz) == "UTC"
    assert len(hist) >= 12
    assert "nodes" in hist.columns or "nodes_ready_od" in hist.columns
    assert hist.index.to_series().diff().dropna().nunique() == 1  # regular steps
    tidy = client.query_metrics(
        "NODEPOOL_NODE_COUNT", timedelta(hours=6), filters={"NODEPOOL_ID": np_id}
    )
    assert list(tidy.columns[:4]) == ["timestamp", "metric", "value", "labels"]
    assert (tidy["metric"] == "NODEPOOL_NODE_COUNT").all() and (tidy["nodepool_id"] == np_id).all()
    events = client.nodepool_events(cc, np_id)
    assert list(events.columns) == [
        "timestamp",
        "kind",
        "count",
        "capacity_type",
        "reason",
        "message",
    ]
    assert events["timestamp"].is_monotonic_increasing
    assert set(events["kind"]) <= {
        "scale_up",
        "scale_down",
        "preemption",
        "spot_fallback",
        "launch_failure",
        "cold_start",
        "spot_return",
    }
    last = client.list_log_entries(cc, np_id, page=1, per_page=5)
    assert len(last) <= 5


def test_health(client):
    h = client.health()
    assert h


# async parity -----------------------------------------------------------------------------------


def _public(cls: type) -> dict[str, inspect.Signature]:
    return {
        n: inspect.signature(f)
        for n, f in inspect.getmembers(cls, inspect.isfunction)
        if not n.startswith("_")
    }


def test_async_client_has_the_same_methods():
    sync, aio = _public(ComputeClient), _public(AsyncComputeClient)
    assert set(aio) - {"aclose"} == set(sync)
    for name, sig in sync.items():
        assert list(aio[name].parameters) == list(sig.parameters), name
        if name.startswith("iter_") or name in ("to_dataframe",):
            continue
        assert inspect.iscoroutinefunction(getattr(AsyncComputeClient, name)), name


async def test_async_round_trip(server, uid):
    async with AsyncComputeClient(server.url, server.token) as c:
        made = await c.create_cluster(cluster(uid("cc")))
        created = await c.create_nodepools(made.id, [nodepool(f"np-{i}") for i in range(140)])
        assert len(created) == 140
        assert len(await c.list_nodepools(made.id)) == 140
        seen = [n.id async for n in c.iter_nodepools(made.id)]
        assert len(seen) == 140
        np0 = await c.get_nodepool(made.id, "np-0")
        assert (
            await c.patch_nodepool(made.id, np0.model_copy(update={"max_instances": 7}))
        ).max_instances == 7
        with pytest.raises(ApiError) as e:
            await c.get_nodepool(made.id, "nope")
        assert e.value.http_status == 404
        await c.delete_cluster(made.id)
        with pytest.raises(ApiError):
            await c.get_cluster(made.id)
