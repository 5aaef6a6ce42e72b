"""The official `clarifai` Python SDK (12.5) against a fresh local plane's gRPC door.

The SDK's three create methods run with the SDK's own example configs (tests/data/sdk-configs,
unchanged), then what was created is read back twice, through the SDK (get and list, over gRPC)
and through our own client (over REST), and compared field by field with the YAML: one store
behind two doors. The SDK is given its base URL, PAT and user id explicitly (never the user's
~/.config/clarifai).
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import yaml

CONFIGS = Path(__file__).parent / "data" / "sdk-configs"
CC_YAML = CONFIGS / "example_compute_cluster_config.yaml"
NP_YAML = CONFIGS / "example_nodepool_config.yaml"
DP_YAML = CONFIGS / "example_deployment_config.yaml"


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


CC = _load(CC_YAML)["compute_cluster"]
NP = _load(NP_YAML)["nodepool"]
DP = _load(DP_YAML)["deployment"]


@pytest.fixture(scope="module")
def sdk(module_server):
    """The SDK's three entry points, bound to the plane's gRPC door."""
    from clarifai.client.compute_cluster import ComputeCluster
    from clarifai.client.nodepool import Nodepool
    from clarifai.client.user import User

    auth = dict(user_id="me", pat=module_server.token, base_url=module_server.grpc_url)
    return {
        "user": User(**auth),
        "cluster": lambda cc_id: ComputeCluster(compute_cluster_id=cc_id, **auth),
        "nodepool": lambda np_id: Nodepool(nodepool_id=np_id, **auth),
    }


@pytest.fixture(scope="module")
def created(sdk):
    """The three examples created through the SDK, once per module, each on what the one
    before returned (the README's example): what it returned."""
    cc = sdk["user"].create_compute_cluster(config_filepath=str(CC_YAML))
    np = cc.create_nodepool(config_filepath=str(NP_YAML))
    dp = np.create_deployment(config_filepath=str(DP_YAML))
    return cc, np, dp


def test_create_compute_cluster_reads_back_as_the_yaml(sdk, module_client, created):
    cc, _, _ = created
    assert cc.id == CC["id"]
    got = sdk["user"].compute_cluster(CC["id"]).compute_cluster_info  # GetComputeCluster
    listed = {c.id: c.compute_cluster_info for c in sdk["user"].list_compute_clusters()}
    ours = module_client.get_cluster(CC["id"])
    for proto in (got, listed[CC["id"]]):
        assert proto.description == CC["description"]
        assert proto.cloud_provider.id == CC["cloud_provider"]["id"]
        assert proto.region == CC["region"]
        assert (proto.managed_by, proto.cluster_type) == (CC["managed_by"], CC["cluster_type"])
        assert proto.visibility.gettable == CC["visibility"]["gettable"]
        assert proto.user_id == "me"
        assert proto.key.id == ""  # the SDK sent its PAT as the key: never stored nor echoed
    assert ours.description == CC["description"]
    assert (ours.cloud_provider.id, ours.region) == ("aws", "us-east-1")
    assert (ours.managed_by, ours.cluster_type) == ("clarifai", "dedicated")
    assert int(ours.visibility.gettable) == 10


def test_create_nodepool_reads_back_as_the_yaml(sdk, module_client, created):
    _, np, _ = created
    assert np.id == NP["id"]
    cluster = sdk["cluster"](CC["id"])
    got = cluster.nodepool(NP["id"]).nodepool_info  # GetNodepool
    listed = {n.id: n.nodepool_info for n in cluster.list_nodepools()}
    ours = module_client.get_nodepool(CC["id"], NP["id"])
    for proto in (got, listed[NP["id"]]):
        assert proto.description == NP["description"]
        assert proto.compute_cluster.id == CC["id"]
        assert [t.id for t in proto.instance_types] == ["g5.xlarge"]
        assert list(proto.node_capacity_type.capacity_types) == [1]
        assert (proto.min_instances, proto.max_instances) == (0, 1)
    assert ours.description == NP["description"]
    assert [t.id for t in ours.instance_types] == ["g5.xlarge"]
    assert [int(c) for c in ours.node_capacity_type.capacity_types] == [1]
    assert (ours.min_instances, ours.max_instances) == (0, 1)


def test_create_deployment_reads_back_as_the_yaml(sdk, module_client, created):
    _, _, dp = created
    assert dp.id == DP["id"]
    nodepool = sdk["nodepool"](NP["id"])
    got = nodepool.deployment(DP["id"]).deployment_info  # GetDeployment
    listed = {d.id: d.deployment_info for d in nodepool.list_deployments()}
    ours = module_client.get_deployment(DP["id"])
    ac, model = DP["autoscale_config"], DP["worker"]["model"]
    for proto in (got, listed[DP["id"]]):
        a = proto.autoscale_config
        assert (a.min_replicas, a.max_replicas) == (ac["min_replicas"], ac["max_replicas"])
        assert a.traffic_history_seconds == ac["traffic_history_seconds"]
        assert (a.scale_down_delay_seconds, a.scale_up_delay_seconds) == (30, 30)
        assert a.scale_to_zero_delay_seconds == ac["scale_to_zero_delay_seconds"]
        assert a.disable_packing is False
        m = proto.worker.model
        assert (m.id, m.user_id, m.app_id) == (model["id"], model["user_id"], model["app_id"])
        assert m.model_version.id == model["model_version"]["id"]
        assert proto.scheduling_choice == DP["scheduling_choice"]
        assert [(n.id, n.compute_cluster.id) for n in proto.nodepools] == [(NP["id"], CC["id"])]
        assert proto.description == DP["description"]
    assert ours.description == DP["description"]
    assert (ours.autoscale_config.min_replicas, ours.autoscale_config.max_replicas) == (0, 1)
    assert ours.autoscale_config.scale_to_zero_delay_seconds == 50
    assert ours.worker.model.id == "hello-world"
    assert ours.worker.model.model_version.id == model["model_version"]["id"]
    assert int(ours.scheduling_choice) == 4
    assert [(n.id, n.compute_cluster.id) for n in ours.nodepools] == [(NP["id"], CC["id"])]


def test_list_runners_shows_the_deployments_runner(module_server, sdk, module_client, created):
    """`User.list_runners`: the simulator's replicas of the deployment appear as its runner,
    serving the deployment's worker, on its nodepool."""
    module_client.advance_clock(3600)
    before = _live_replicas(module_server, DP["id"])
    # list_runners yields the runner's fields as a dict (MessageToDict, proto field names);
    # the SDK renames a resource's "id" to "runner_id" (process_response_keys)
    runners = list(sdk["user"].list_runners())
    after = _live_replicas(module_server, DP["id"])
    mine = [r for r in runners if r["nodepool"]["id"] == NP["id"]]
    assert len(mine) == 1, runners
    r, model = mine[0], DP["worker"]["model"]
    assert r["runner_id"] == f"{DP['id']}-{NP['id']}"
    assert r["nodepool"]["compute_cluster"]["id"] == CC["id"]
    assert r["worker"]["model"]["id"] == model["id"]
    assert r["worker"]["model"]["model_version"]["id"] == model["model_version"]["id"]
    # its replicas are the deployment's live ones by the simulator, as our REST door reports
    # them just before and after (the plane's clock runs on: a minute may turn in between)
    assert int(r.get("num_replicas", 0)) in {before, after}
    assert max(before, after) >= 1  # an hour of the pinned Monday-morning traffic wants one


def _live_replicas(module_server, dp_id: str) -> int:
    r = httpx.get(
        f"{module_server.url}/v2/users/me/deployments/{dp_id}",
        headers={"Authorization": f"Key {module_server.token}"},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    return int(r.json()["deployment"]["deployment_metrics"].get("live_replicas", 0))


def test_sdk_deletes_what_it_created(sdk, module_client, created):
    sdk["nodepool"](NP["id"]).delete_deployments([DP["id"]])
    assert DP["id"] not in [d.id for d in module_client.list_deployments()]
    sdk["cluster"](CC["id"]).delete_nodepools([NP["id"]])
    assert NP["id"] not in [n.id for n in module_client.list_nodepools(CC["id"])]
    sdk["user"].delete_compute_clusters([CC["id"]])
    assert CC["id"] not in [c.id for c in module_client.list_clusters()]
