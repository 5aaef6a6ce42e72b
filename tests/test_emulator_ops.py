"""Issue 15, operations and semantics: GetUser, runners, deployment_metrics, deployment logs,
PatchDeployments overwrite, filters and proto3 zeros, metric labels inside MetricLabel.

A real control plane (subprocess, SQLite in a temp dir, the simulator attached) with its clock
pinned (COMPUTE_WIDGETS_CLOCK_START), over REST; every body is also parsed STRICTLY as the
clarifai-grpc response message of its RPC (an unknown field fails), which is what the gRPC
door will send."""

from __future__ import annotations

import os

import httpx
import pytest
from clarifai_grpc.grpc.api import service_pb2
from google.protobuf.json_format import ParseDict

from compute_widgets.local.clock import ANCHOR_ENV, START_ENV

MODEL = {"id": "m1", "user_id": "clarifai", "app_id": "main", "model_version": {"id": "v1"}}


@pytest.fixture(scope="module")
def handle(tmp_path_factory):
    from compute_widgets.local.runtime import start_server, stop_server

    saved = {k: os.environ.get(k) for k in (START_ENV, ANCHOR_ENV)}
    os.environ[START_ENV] = "2026-01-05T09:00:00Z"  # a Monday morning: traffic is up
    os.environ.pop(ANCHOR_ENV, None)
    try:
        handle = start_server(data_dir=tmp_path_factory.mktemp("ops"), port=0)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    yield handle
    stop_server(handle)


@pytest.fixture(scope="module")
def plane(handle):
    http = httpx.Client(
        base_url=handle.url, headers={"Authorization": f"Key {handle.token}"}, timeout=120
    )
    yield http
    http.close()


@pytest.fixture(scope="module")
def stub(handle):
    """The official clarifai-grpc stub on a real channel to the plane's gRPC door."""
    from clarifai_grpc.channel.clarifai_channel import ClarifaiChannel
    from clarifai_grpc.grpc.api import service_pb2_grpc

    host, port = handle.grpc_url.removeprefix("http://").split(":")
    channel = ClarifaiChannel.get_insecure_grpc_channel(base=host, port=int(port))
    v2 = service_pb2_grpc.V2Stub(channel)
    metadata = (("authorization", f"Key {handle.token}"),)

    class Stub:
        def __getattr__(self, name):
            method = getattr(v2, name)
            return lambda request: method(request, metadata=metadata, timeout=120)

    yield Stub()
    channel.close()


def ok(r: httpx.Response, message: type | None = None) -> dict:
    body = r.json()
    assert r.status_code == 200 and body["status"]["code"] == 10000, body
    if message is not None:
        ParseDict(body, message())  # strict: a field the message lacks raises
    return body


def fail(r: httpx.Response, code: int, *words: str) -> str:
    body = r.json()
    assert body["status"]["code"] == code, body
    text = body["status"]["description"]
    for w in words:
        assert w in text, text
    return text


def make_pools(http, cc: str, *nps: str) -> None:
    ok(
        http.post(
            "/v2/users/me/compute_clusters",
            json={
                "compute_clusters": [
                    {"id": cc, "cloud_provider": {"id": "aws"}, "region": "us-east-1"}
                ]
            },
        )
    )
    ok(
        http.post(
            f"/v2/users/me/compute_clusters/{cc}/nodepools",
            json={
                "nodepools": [
                    {
                        "id": np,
                        "instance_types": [{"id": "g5.xlarge"}],
                        "node_capacity_type": {"capacity_types": [1]},
                        "min_instances": 1,
                        "max_instances": 3,
                    }
                    for np in nps
                ]
            },
        )
    )


def make_deployment(http, dep: str, cc: str, *nps: str, **extra) -> dict:
    body = {
        "id": dep,
        "worker": {"model": MODEL},
        "nodepools": [{"id": np, "compute_cluster": {"id": cc}} for np in nps],
        "autoscale_config": {"min_replicas": 1, "max_replicas": 3},
        **extra,
    }
    return ok(http.post("/v2/users/me/deployments", json={"deployments": [body]}))["deployments"][0]


def advance(http, seconds: float) -> None:
    ok(http.post("/local/clock/advance", json={"seconds": seconds}))


# ------------------------------------------------------------------------------------------------
# GetUser


def test_get_user_answers_the_asked_id_and_me_is_the_owner(plane):
    make_pools(plane, "gc", "gp")
    owner = ok(plane.get("/v2/users/me/compute_clusters/gc"))["compute_cluster"]["user_id"]
    # `clarifai login` reads user.id of GetUser('me'): the id `me` stands for
    me = ok(plane.get("/v2/users/me"), service_pb2.SingleUserResponse)["user"]
    assert me["id"] == owner
    assert ok(plane.get("/v2/users/alice"), service_pb2.SingleUserResponse)["user"]["id"] == "alice"
    # a wrong token is the Guard's: the user is not revealed
    r = httpx.get(plane.base_url.join("/v2/users/me"), headers={"Authorization": "Key nope"})
    assert r.status_code == 401 and "user" not in r.json()


# ------------------------------------------------------------------------------------------------
# proto3 zeros and filters


def test_page_and_per_page_zero_are_the_defaults(plane):
    make_pools(plane, "zc", "zp")
    first = [c["id"] for c in ok(plane.get("/v2/users/me/compute_clusters"))["compute_clusters"]]
    zero = plane.get("/v2/users/me/compute_clusters", params={"page": 0, "per_page": 0})
    assert [c["id"] for c in ok(zero)["compute_clusters"]] == first
    logs = ok(
        plane.get(
            "/v2/users/me/compute_clusters/zc/runner.events/logs",
            params={"nodepool_id": "zp", "per_page": 0, "page": 1},
        )
    )
    assert logs["per_page"] == 32  # ListLogEntries' default
    fail(plane.get("/v2/users/me/compute_clusters", params={"per_page": -1}), 90400, "per_page")


def test_unimplemented_filters_are_refused_by_name_and_workflow_versions_filter(plane):
    make_pools(plane, "fc", "fp")
    make_deployment(plane, "fdep", "fc", "fp")
    fail(
        plane.get("/v2/users/me/deployments", params={"scheduling_priorities": [1, 5]}),
        25901,
        "scheduling_priorities",
    )
    for path in (
        "/v2/users/me/compute_clusters/fc/nodepools",
        "/v2/users/me/compute_clusters/fc/nodepools/fp",
    ):
        fail(plane.get(path, params={"active_usage": "true"}), 25701, "active_usage")
        ok(plane.get(path, params={"active_usage": "false"}))  # proto3 false = unset

    def listed(**params) -> list[str]:
        body = ok(
            plane.get("/v2/users/me/deployments", params={"compute_cluster_id": "fc", **params}),
            service_pb2.MultiDeploymentResponse,
        )
        return [d["id"] for d in body["deployments"]]

    assert listed() == ["fdep"]
    assert listed(workflow_version_ids="wv1") == []  # a model deployment has no workflow version
    assert listed(workflow_version_ids="wv1", model_version_ids="v1") == ["fdep"]
    assert listed(model_version_ids="v9") == []


# ------------------------------------------------------------------------------------------------
# PatchDeployments


def test_patch_deployment_overwrite_keeps_what_the_patch_does_not_hold(plane):
    make_pools(plane, "pc", "pp")
    make_deployment(
        plane,
        "pdep",
        "pc",
        "pp",
        description="keep me",
        metadata={"team": "a"},
        visibility={"gettable": 10},
    )
    # what `clarifai model deploy` sends: id, visibility, desired_worker, action overwrite
    patch = {
        "action": "overwrite",
        "deployments": [
            {
                "id": "pdep",
                "visibility": {"gettable": 50},
                "desired_worker": {"model": {**MODEL, "model_version": {"id": "v2"}}},
            }
        ],
    }
    got = ok(
        plane.patch("/v2/users/me/deployments", json=patch), service_pb2.MultiDeploymentResponse
    )
    d = got["deployments"][0]
    assert d["worker"]["model"]["model_version"]["id"] == "v2"
    assert d["visibility"] == {"gettable": 50}
    assert d["description"] == "keep me" and d["metadata"] == {"team": "a"}
    assert d["autoscale_config"] == {"min_replicas": 1, "max_replicas": 3}
    assert [n["id"] for n in d["nodepools"]] == ["pp"]
    stored = ok(plane.get("/v2/users/me/deployments/pdep"))["deployment"]
    assert stored["description"] == "keep me" and stored["worker"] == d["worker"]
    # Clarifai accepts overwrite only; nothing written
    merge = {**patch, "action": "merge"}
    merge["deployments"] = [{"id": "pdep", "description": "changed"}]
    fail(plane.patch("/v2/users/me/deployments", json=merge), 25901, "Unrecognized action 'merge'")
    assert ok(plane.get("/v2/users/me/deployments/pdep"))["deployment"]["description"] == "keep me"


# ------------------------------------------------------------------------------------------------
# runners, deployment_metrics, logs


def test_deployment_runners_mirror_the_simulator(plane):
    make_pools(plane, "rc", "rp1", "rp2")
    make_deployment(plane, "rdep", "rc", "rp1", "rp2")
    advance(plane, 2 * 3600)  # nodes provisioned, the min replica running

    dep = ok(plane.get("/v2/users/me/deployments/rdep"), service_pb2.SingleDeploymentResponse)
    metrics = dep["deployment"]["deployment_metrics"]
    per_pool = {m["nodepool_id"]: m["metrics"] for m in metrics["nodepool_metrics"]}
    assert set(per_pool) == {"rp1", "rp2"}
    assert metrics["live_replicas"] == sum(m.get("live_replicas", 0) for m in per_pool.values())
    assert metrics["aggregate"] == {
        k: v for k, v in metrics.items() if k in ("live_replicas", "desired_replicas")
    }
    for m in per_pool.values():  # min 1, max 3 on each pool, and not scaled to zero
        assert 1 <= m["live_replicas"] <= 3 and 1 <= m["desired_replicas"] <= 3
    listed = ok(plane.get("/v2/users/me/deployments", params={"compute_cluster_id": "rc"}))
    assert listed["deployments"][0]["deployment_metrics"] == metrics

    runners = ok(
        plane.get("/v2/users/me/runners", params={"compute_cluster_id": "rc"}),
        service_pb2.MultiRunnerResponse,
    )["runners"]
    assert [r["id"] for r in runners] == ["rdep-rp1", "rdep-rp2"]
    for r in runners:
        np = r["nodepool"]["id"]
        assert r["worker"] == {"model": MODEL}
        assert r["nodepool"]["compute_cluster"]["id"] == "rc"
        assert r["num_replicas"] == per_pool[np]["live_replicas"]
        assert r["runner_metrics"]["pods_running"] == per_pool[np]["live_replicas"]
        assert r["metadata"] == {"deployment_id": "rdep"}
        assert r["compute_info"]["accelerator_type"] == ["NVIDIA-A10G"]

    # what `clarifai deployment logs` asks: this nodepool, this model version
    scoped = ok(
        plane.get(
            "/v2/users/me/compute_clusters/rc/nodepools/rp2/runners",
            params={"model_version_ids": "v1"},
        ),
        service_pb2.MultiRunnerResponse,
    )["runners"]
    assert [r["id"] for r in scoped] == ["rdep-rp2"]
    # ... asked as the model's owner ("clarifai"), as `clarifai deployment logs` does: the
    # plane has one account, so the owner's nodepool answers
    as_model_owner = ok(
        plane.get(
            "/v2/users/clarifai/compute_clusters/rc/nodepools/rp2/runners",
            params={"model_version_ids": "v1"},
        )
    )["runners"]
    assert as_model_owner == scoped
    assert (
        ok(plane.get("/v2/users/me/runners", params={"model_version_ids": "v9"}))["runners"] == []
    )
    assert [
        r["id"]
        for r in ok(plane.get("/v2/users/me/runners", params={"min_replicas": 4}))["runners"]
    ] == []
    one = ok(plane.get("/v2/users/me/runners/rdep-rp1"), service_pb2.SingleRunnerResponse)
    assert one["runner"]["nodepool"]["id"] == "rp1"
    ok(plane.get("/v2/users/me/compute_clusters/rc/nodepools/rp1/runners/rdep-rp1"))
    fail(
        plane.get("/v2/users/me/compute_clusters/rc/nodepools/rp2/runners/rdep-rp1"),
        25600,
        "rdep-rp1",
    )
    fail(plane.get("/v2/users/me/runners/ghost"), 25600, "ghost")

    # the runner's events: the simulator's for that nodepool, page 1 first as the CLI reads
    logs = ok(
        plane.get(
            "/v2/users/me/compute_clusters/rc/nodepools/rp2/runners/rdep-rp2/runner.events/logs",
            params={"page": 1, "per_page": 50},
        ),
        service_pb2.MultiLogEntryResponse,
    )["log_entries"]
    # the same events as the cluster binding gives our client (event_fields: the fields in
    # meta), each line led by its time
    rich = ok(
        plane.get(
            "/v2/users/me/compute_clusters/rc/runner.events/logs",
            params={"nodepool_id": "rp2", "page": 1, "per_page": 50, "event_fields": "true"},
        )
    )["log_entries"]
    assert rich and rich[0]["meta"]["kind"] == "scale_up"
    assert [e["message"] for e in logs] == [
        f"{e['meta']['timestamp']} {e['message']}" for e in rich
    ]
    assert logs[0]["meta"] == {
        "user_app_id": {"user_id": one["runner"]["nodepool"]["compute_cluster"]["user_id"]},
        "compute_cluster_id": "rc",
        "nodepool_id": "rp2",
        "runner_id": "rdep-rp2",
    }
    # `clarifai deployment logs` defaults to the model log (`runner`): the same lines
    model_log = ok(
        plane.get(
            "/v2/users/me/compute_clusters/rc/nodepools/rp2/runners/rdep-rp2/runner/logs",
            params={"page": 1, "per_page": 50},
        )
    )["log_entries"]
    assert [e["message"] for e in model_log] == [e["message"] for e in logs]
    fail(
        plane.get(
            "/v2/users/me/compute_clusters/rc/nodepools/rp2/runners/ghost/runner.events/logs"
        ),
        25600,
        "ghost",
    )
    # the model-version binding finds the version's runner on that nodepool
    by_version = ok(
        plane.get(
            "/v2/users/clarifai/compute_clusters/me/rc/nodepools/rp2/versions/v1/runner.events/logs",
            params={"page": 1, "per_page": 50},
        ),
        service_pb2.MultiLogEntryResponse,
    )["log_entries"]
    assert [e["message"] for e in by_version] == [e["message"] for e in logs]
    assert by_version[0]["meta"]["runner_id"] == "rdep-rp2"
    none = ok(
        plane.get(
            "/v2/users/me/compute_clusters/me/rc/nodepools/rp2/versions/v9/runner.events/logs"
        )
    )
    assert none["log_entries"] == []
    # sources the plane keeps no logs of are refused by name, not ignored
    fail(
        plane.get(
            "/v2/users/me/compute_clusters/rc/runner.events/logs",
            params={"nodepool_id": "rp2", "pipeline_id": "p1"},
        ),
        90400,
        "pipeline_id",
    )


def test_user_runners_post_patch_delete_and_deployment_runners_refused(plane):
    make_pools(plane, "uc", "up")
    make_deployment(plane, "udep", "uc", "up")
    base = "/v2/users/me/compute_clusters/uc/nodepools/up/runners"
    posted = ok(
        plane.post(
            base,
            json={
                "runners": [
                    {"description": "local runner", "worker": {"model": MODEL}, "num_replicas": 1}
                ]
            },
        ),
        service_pb2.MultiRunnerResponse,
    )["runners"][0]
    rid = posted["id"]
    assert rid and posted["nodepool"]["id"] == "up" and posted["num_replicas"] == 1
    assert {r["id"] for r in ok(plane.get(base))["runners"]} == {"udep-up", rid}
    fail(plane.post(base, json={"runners": [{"id": rid}]}), 40010, rid)
    fail(plane.post(base, json={"runners": [{"id": "udep-up"}]}), 40010, "udep-up")

    # PatchRunners: Clarifai's POST with an action; overwrite keeps what is not given
    patched = ok(
        plane.post(
            base,
            json={"action": "overwrite", "runners": [{"id": rid, "description": "renamed"}]},
        ),
        service_pb2.MultiRunnerResponse,
    )["runners"][0]
    assert patched["description"] == "renamed" and patched["num_replicas"] == 1
    fail(
        plane.patch(base, json={"action": "merge", "runners": [{"id": rid}]}),
        25602,
        "Unrecognized action 'merge'",
    )
    fail(
        plane.patch(base, json={"runners": [{"id": "udep-up", "description": "x"}]}),
        25603,
        "deployment 'udep'",
    )
    fail(
        plane.request("DELETE", base, json={"ids": [rid, "udep-up"]}),
        25603,
        "deployment 'udep'",
        "Nothing was deleted",
    )
    assert ok(plane.get(f"/v2/users/me/runners/{rid}"))["runner"]["description"] == "renamed"
    fail(plane.request("DELETE", base, json={"ids": [rid, "ghost"]}), 25600, "ghost")
    ok(plane.request("DELETE", base, json={"ids": [rid]}))
    fail(plane.get(f"/v2/users/me/runners/{rid}"), 25600)

    # deleting the nodepool takes its user runners, and says so
    again = ok(plane.post(base, json={"runners": [{"id": "keep-1", "worker": {"model": MODEL}}]}))
    assert again["runners"][0]["id"] == "keep-1"
    gone = ok(
        plane.request("DELETE", "/v2/users/me/compute_clusters/uc/nodepools", json={"ids": ["up"]})
    )
    assert "runner 'keep-1'" in gone["status"]["description"]
    fail(plane.get("/v2/users/me/runners/keep-1"), 25600)


# ------------------------------------------------------------------------------------------------
# metric labels


def test_metric_series_labels_stay_inside_the_metric_label_enum(plane):
    make_pools(plane, "mc", "mp")
    make_deployment(plane, "mdep", "mc", "mp")
    advance(plane, 600)
    query = {
        "metric_type": "MODEL_REQUEST_COUNT",
        "resolution": "10m",
        "filters": [{"label": "NODEPOOL_ID", "equals": "mp"}],
    }
    body = ok(
        plane.post("/v2/users/me/metrics", json={"query": query}),
        service_pb2.MetricsQueryResponse,
    )
    series = body["data"]["matrix_data"]["series"]
    assert series, body
    names = {lb["name"] for s in series for lb in s["labels"]}
    assert names and "DEPLOYMENT_ID" not in names
    labels = ok(plane.get("/v2/users/me/metrics/labels"), service_pb2.MultiMetricLabelsResponse)
    assert labels["metric_type_labels"]
    # our extension stays available to a JSON client that asks for it by name
    query["filters"].append({"label": "DEPLOYMENT_ID", "equals": "mdep"})
    asked = ok(plane.post("/v2/users/me/metrics", json={"query": query}))
    assert {"name": "DEPLOYMENT_ID", "value": "mdep"} in asked["data"]["matrix_data"]["series"][0][
        "labels"
    ]


# ------------------------------------------------------------------------------------------------
# the same operations through the gRPC door, as the official tools send them


def test_the_official_stub_gets_user_runners_metrics_and_logs_over_grpc(plane, stub):
    from clarifai_grpc.grpc.api import resources_pb2

    make_pools(plane, "gr", "gn")
    make_deployment(plane, "gdep", "gr", "gn")
    advance(plane, 3600)
    as_model = resources_pb2.UserAppIDSet(user_id="clarifai")

    user = stub.GetUser(
        service_pb2.GetUserRequest(user_app_id=resources_pb2.UserAppIDSet(user_id="me"))
    )
    assert user.status.code == 10000 and user.user.id == ok(plane.get("/v2/users/me"))["user"]["id"]

    # `clarifai deployment get`: replicas from deployment_metrics
    dep = stub.GetDeployment(service_pb2.GetDeploymentRequest(deployment_id="gdep"))
    rest = ok(plane.get("/v2/users/me/deployments/gdep"))["deployment"]["deployment_metrics"]
    assert dep.status.code == 10000
    assert (
        dep.deployment.deployment_metrics.live_replicas,
        dep.deployment.deployment_metrics.desired_replicas,
    ) == (
        rest["live_replicas"],
        rest["desired_replicas"],
    )
    assert dep.deployment.deployment_metrics.live_replicas >= 1

    # `clarifai deployment logs`: ListRunners then ListLogEntries, as the model's owner, page 1
    runners = stub.ListRunners(
        service_pb2.ListRunnersRequest(
            user_app_id=as_model,
            compute_cluster_id="gr",
            nodepool_id="gn",
            model_version_ids=["v1"],
        )
    )
    assert runners.status.code == 10000 and [r.id for r in runners.runners] == ["gdep-gn"]
    assert runners.runners[0].num_replicas == rest["live_replicas"]
    logs = stub.ListLogEntries(
        service_pb2.ListLogEntriesRequest(
            user_app_id=as_model,
            log_type="runner.events",
            compute_cluster_id="gr",
            nodepool_id="gn",
            runner_id="gdep-gn",
            page=1,
            per_page=50,
        )
    )
    rest_logs = ok(
        plane.get(
            "/v2/users/me/compute_clusters/gr/nodepools/gn/runners/gdep-gn/runner.events/logs",
            params={"page": 1, "per_page": 50},
        )
    )["log_entries"]
    assert logs.status.code == 10000 and [e.message for e in logs.log_entries] == [
        e["message"] for e in rest_logs
    ]
    assert "Scale-up" in logs.log_entries[0].message

    # proto3 zeros: page 0 / per_page 0 are the defaults
    listed = stub.ListDeployments(service_pb2.ListDeploymentsRequest(compute_cluster_id="gr"))
    assert listed.status.code == 10000 and [d.id for d in listed.deployments] == ["gdep"]
    refused = stub.ListDeployments(service_pb2.ListDeploymentsRequest(scheduling_priorities=[3]))
    assert refused.status.code == 25901 and "scheduling_priorities" in refused.status.description

    # PatchDeployments as `clarifai model deploy` sends it; merge refused
    v2 = resources_pb2.Model(
        id="m1",
        user_id="clarifai",
        app_id="main",
        model_version=resources_pb2.ModelVersion(id="v2"),
    )
    patched = stub.PatchDeployments(
        service_pb2.PatchDeploymentsRequest(
            deployments=[
                resources_pb2.Deployment(id="gdep", desired_worker=resources_pb2.Worker(model=v2))
            ],
            action="overwrite",
        )
    )
    assert patched.status.code == 10000
    assert patched.deployments[0].worker.model.model_version.id == "v2"
    assert [n.id for n in patched.deployments[0].nodepools] == ["gn"]
    merged = stub.PatchDeployments(
        service_pb2.PatchDeploymentsRequest(
            deployments=[resources_pb2.Deployment(id="gdep")], action="merge"
        )
    )
    assert (
        merged.status.code == 25901 and "Unrecognized action 'merge'" in merged.status.description
    )

    # a user runner: created in the nodepool, deleted by id alone (User.delete_runner)
    made = stub.PostRunners(
        service_pb2.PostRunnersRequest(
            compute_cluster_id="gr",
            nodepool_id="gn",
            runners=[resources_pb2.Runner(description="local", num_replicas=1)],
        )
    )
    assert made.status.code == 10000
    rid = made.runners[0].id
    got = stub.GetRunner(service_pb2.GetRunnerRequest(runner_id=rid))
    assert got.status.code == 10000 and got.runner.nodepool.id == "gn"
    gone = stub.DeleteRunners(service_pb2.DeleteRunnersRequest(ids=[rid]))
    assert gone.status.code == 10000
    assert stub.GetRunner(service_pb2.GetRunnerRequest(runner_id=rid)).status.code == 25600
