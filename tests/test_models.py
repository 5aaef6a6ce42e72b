"""api/models.py: wire round trips, lenient parsing, type errors, every business rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from compute_widgets.api.errors import InvalidInput, Problem
from compute_widgets.api.models import (
    MAX_DESCRIPTION,
    AggregateOperator,
    AutoscaleConfig,
    CapacityType,
    CloudProvider,
    ComputeCluster,
    ComputeInfo,
    Deployment,
    DeploymentNodepool,
    DeploymentStatus,
    Gettable,
    InstanceType,
    Key,
    LogEntry,
    MetricFilter,
    MetricLabel,
    MetricSearchQuery,
    MetricSeries,
    MetricType,
    ModelRef,
    NodeCapacityType,
    Nodepool,
    NodepoolStatus,
    SchedulingChoice,
    SpecialHandlingReason,
    Status,
    Visibility,
    Worker,
    check_id,
    format_duration,
    format_timestamp,
    parse_cpu,
    parse_duration,
    parse_memory_gib,
)

# ---- real samples from clarifai-api.md §3 ------------------------------------------------------

CREATE_CLUSTER = {  # §3.2, docs curl body
    "id": "test-aws-cluster",
    "description": "My AWS compute cluster",
    "cloud_provider": {"id": "aws"},
    "region": "us-east-1",
    "visibility": {"gettable": 50},
    "managed_by": "clarifai",
    "cluster_type": "dedicated",
    "key": {"id": "<PAT>"},
}

PROVIDERS_RESPONSE = {  # §3.2
    "status": {"code": 10000, "description": "Ok", "req_id": "4fc1"},
    "cloud_providers": [{"id": "aws", "name": "aws"}, {"id": "gcp", "name": "gcp"}],
}

INSTANCE_TYPE = {  # §2.4 shape, g5.xlarge numbers from §6.3
    "id": "g5.xlarge",
    "description": "g5.xlarge",
    "compute_info": {
        "cpu_limit": "3535m",
        "cpu_memory": "13878Mi",
        "num_accelerators": 1,
        "accelerator_memory": "23028Mi",
        "accelerator_type": ["NVIDIA-A10G"],
    },
    "price": "35.000000",
    "cloud_provider": {"id": "aws", "name": "aws"},
    "region": "us-east-1",
    "feature_flag_group": "ComputeResourceMedium",
    "architecture": "linux/amd64",
}

SPOT_ONLY = {
    "id": "a3-highgpu-1g",
    "compute_info": {"cpu_limit": "25300m", "cpu_memory": "221.95Gi", "num_accelerators": 1,
                     "accelerator_memory": "79.65Gi", "accelerator_type": ["NVIDIA-H100"]},
    "price": "384.000000",
    "cloud_provider": {"id": "gcp", "name": "gcp"},
    "region": "us-central1",
    "allowed_capacity_types": {"capacity_types": [2]},
}

NODEPOOL = {
    "id": "demo-a10g",
    "description": "one A10G per node",
    "created_at": "2026-11-28T01:02:03.123456Z",
    "modified_at": "2026-11-28T01:02:03Z",
    "compute_cluster": {"id": "demo-cluster", "user_id": "alice"},
    "node_capacity_type": {"capacity_types": [2, 1]},
    "instance_types": [INSTANCE_TYPE],
    "max_instances": 3,
    "enforced_max_instances": 3,
    "visibility": {"gettable": 10},
    "metadata": {"owner": "team-a"},
    "node_count": 1,
    "status": 2,
}

# what clarifai-grpc's JSON channel sends (§3.3): enum names, snake_case, zeros dropped
GRPC_CLUSTER = {"id": "cc1", "cloud_provider": {"id": "aws"}, "region": "us-east-1",
                "visibility": {"gettable": "PRIVATE"}}
GRPC_QUERY = {"metric_type": "NODEPOOL_NODE_COUNT", "start_time": "2023-11-14T22:13:20Z",
              "resolution": "5m", "filters": [{"label": "NODEPOOL_ID", "equals": "np1"}]}

DEPLOYMENT = {
    "id": "deploy-llama-a1b2c3",
    "user_id": "alice",
    "autoscale_config": {"min_replicas": 0, "max_replicas": 5, "traffic_history_seconds": 600,
                         "scale_down_delay_seconds": 300, "scale_up_delay_seconds": 300,
                         "scale_to_zero_delay_seconds": 3600},
    "nodepools": [{"id": "demo-a10g", "compute_cluster": {"id": "demo-cluster", "user_id": "alice"}}],
    "scheduling_choice": 4,
    "visibility": {"gettable": 50},
    "worker": {"model": {"id": "llama", "user_id": "meta", "app_id": "Llama-3",
                         "model_version": {"id": "v1"}}},
    "deploy_latest_version": True,
}


def test_cluster_round_trip_docs_sample():
    cc = ComputeCluster.from_wire(CREATE_CLUSTER)
    assert cc.visibility.gettable is Gettable.PUBLIC
    assert cc.key.id == "<PAT>"
    assert cc.to_wire() == CREATE_CLUSTER


def test_grpc_channel_bodies_parse_and_emit_ints():
    cc = ComputeCluster.from_wire(GRPC_CLUSTER)
    assert cc.to_wire() == {**GRPC_CLUSTER, "visibility": {"gettable": 10}}
    q = MetricSearchQuery.from_wire(GRPC_QUERY)
    assert q.metric_type is MetricType.NODEPOOL_NODE_COUNT
    assert q.start_time == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert q.resolution_seconds == 300
    assert q.to_wire() == {**GRPC_QUERY, "metric_type": 51,
                           "filters": [{"label": 6, "equals": "np1"}]}


def test_response_status_and_providers():
    st = Status.from_wire(PROVIDERS_RESPONSE["status"])
    assert st.ok and st.req_id == "4fc1"
    provs = [CloudProvider.from_wire(p) for p in PROVIDERS_RESPONSE["cloud_providers"]]
    assert [p.to_wire() for p in provs] == PROVIDERS_RESPONSE["cloud_providers"]
    assert Status.from_wire({"code": "NODEPOOL_DOES_NOT_EXIST"}).code == 25700


@pytest.mark.parametrize("sample", [INSTANCE_TYPE, SPOT_ONLY])
def test_instance_type_round_trip(sample):
    assert InstanceType.from_wire(sample).to_wire() == sample


def test_instance_type_helpers():
    it = InstanceType.from_wire(INSTANCE_TYPE)
    assert it.price_per_hour == pytest.approx(1.26)
    assert it.is_gpu and not it.is_tpu
    assert it.vcpu == pytest.approx(3.535)
    assert it.memory_gib == pytest.approx(13878 / 1024)
    assert it.gpu_memory_gib == pytest.approx(23028 / 1024)
    assert it.accelerator == "NVIDIA-A10G" and it.accelerators == 1
    assert it.spot_allowed and it.on_demand_allowed
    h100 = InstanceType.from_wire(SPOT_ONLY)
    assert h100.spot_allowed and not h100.on_demand_allowed
    assert h100.price_per_hour == pytest.approx(13.824)
    cpu = InstanceType.from_wire({"id": "t3a.medium", "price": "2.000000",
                                  "compute_info": {"cpu_limit": "1500m", "cpu_memory": "2.89Gi"}})
    assert not cpu.is_gpu and cpu.gpu_memory_gib == 0.0 and cpu.accelerator == ""
    assert cpu.price_per_hour == pytest.approx(0.072)
    tpu = InstanceType.from_wire({"compute_info": {"num_accelerators": 4,
                                                   "accelerator_type": ["GOOGLE-TPU-v5e"]}})
    assert tpu.is_tpu and not tpu.is_gpu
    assert InstanceType(price="").price_per_hour is None
    assert InstanceType(price="Contact").price_per_hour is None
    assert InstanceType(price="0.000000").price_per_hour == 0.0
    # a malformed quantity from a server reads as 0, never raises in a property
    assert InstanceType(compute_info=ComputeInfo(cpu_limit="lots")).vcpu == 0.0


def test_nodepool_round_trip_keeps_zeros_out_and_timestamps():
    np_ = Nodepool.from_wire(NODEPOOL)
    assert np_.status is NodepoolStatus.NODEPOOL_STATUS_READY
    assert np_.created_at == datetime(2026, 11, 28, 1, 2, 3, 123456, tzinfo=UTC)
    assert np_.spot and np_.on_demand
    assert np_.instance_type_id == "g5.xlarge" and np_.compute_cluster_id == "demo-cluster"
    wire = np_.to_wire()
    assert wire == NODEPOOL
    assert "min_instances" not in wire  # 0 is omitted, as in proto3 JSON


def test_empty_resource_lists_are_kept_scalar_lists_omitted():
    assert Nodepool(id="np").to_wire() == {"id": "np", "instance_types": []}
    d = Deployment(id="d").to_wire()
    assert d == {"id": "d", "nodepools": [], "deployment_nodepools": []}
    assert MetricSeries().to_wire() == {"labels": [], "value": []}
    # lists of strings / enums follow proto3 (omitted), and so do empty messages
    assert ComputeInfo(accelerator_type=[]).to_wire() == {}
    assert NodeCapacityType().to_wire() == {}
    assert Nodepool(id="np").to_wire(omit_empty_lists=True) == {"id": "np"}


def test_deployment_round_trip():
    d = Deployment.from_wire(DEPLOYMENT)
    assert d.scheduling_choice is SchedulingChoice.PERFORMANCE
    assert d.model_id == "llama"
    assert d.worker.model.model_version.id == "v1"
    assert d.nodepool_refs == [("demo-cluster", "demo-a10g")]
    assert d.problems() == []
    wire = d.to_wire()
    expected = {**DEPLOYMENT, "deployment_nodepools": []}
    expected["autoscale_config"] = {k: v for k, v in DEPLOYMENT["autoscale_config"].items() if v}
    expected["nodepools"] = [{**DEPLOYMENT["nodepools"][0], "instance_types": []}]
    assert wire == expected


def test_camel_case_and_enum_names():
    np_ = Nodepool.from_wire({
        "id": "np", "nodeCapacityType": {"capacityTypes": ["SPOT_TYPE", "on_demand_type", "1"]},
        "instanceTypes": [{"id": "g5.xlarge", "computeInfo": {"numAccelerators": "1"}}],
        "minInstances": "0", "maxInstances": 2, "status": "NODEPOOL_STATUS_PENDING",
        "createdAt": "2026-01-02T03:04:05.123456789Z", "enforcedMaxInstances": 2,
        "statusDescription": "waiting", "computeCluster": {"id": "cc", "userId": "me"},
    })
    assert np_.node_capacity_type.capacity_types == [CapacityType.SPOT_TYPE, CapacityType.ON_DEMAND_TYPE,
                                                     CapacityType.ON_DEMAND_TYPE]
    assert np_.instance_types[0].compute_info.num_accelerators == 1
    assert np_.status is NodepoolStatus.NODEPOOL_STATUS_PENDING
    assert np_.compute_cluster.user_id == "me"
    assert np_.created_at.microsecond == 123456
    assert np_.to_wire()["status"] == 1
    d = Deployment.from_wire({"schedulingChoice": "PREFER_SPOT", "status": "DISABLED",
                              "autoscaleConfig": {"disablePacking": True, "scaleToZeroDelaySeconds": 60},
                              "deploymentNodepools": [{"id": "np", "priority": 2,
                                                       "computeCluster": {"id": "cc"}}]})
    assert d.scheduling_choice is SchedulingChoice.PREFER_SPOT
    assert d.status is DeploymentStatus.DISABLED
    assert d.autoscale_config.disable_packing is True
    assert d.deployment_nodepools[0].priority == 2
    assert d.to_wire()["autoscale_config"] == {"disable_packing": True, "scale_to_zero_delay_seconds": 60}


def test_unknown_fields_nulls_and_unknown_enum_ints_are_tolerated():
    np_ = Nodepool.from_wire({"id": "np", "future_field": {"x": 1}, "description": None,
                              "status": 9, "node_capacity_type": {"capacity_types": [7]},
                              "special_handling": [{"id": "s", "reason": 1}]})
    assert np_.description == ""
    assert int(np_.status) == 9 and np_.status.name == "NODEPOOLSTATUS_9"
    assert np_.to_wire()["status"] == 9
    assert np_.to_wire()["node_capacity_type"] == {"capacity_types": [7]}
    assert np_.special_handling[0].reason is SpecialHandlingReason.CONTACT_SALES
    # the open enum reuses its pseudo-member
    assert Nodepool.from_wire({"status": 9}).status is np_.status


def test_timestamps_are_utc_rfc3339():
    ts = datetime(2026, 11, 28, 3, 2, 3, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert format_timestamp(ts) == "2026-11-28T01:02:03.123456Z"
    assert format_timestamp(datetime(2026, 1, 1)) == "2026-01-01T00:00:00Z"
    np_ = Nodepool.from_wire({"created_at": "2026-11-28T03:02:03+02:00"})
    assert np_.created_at.tzinfo is UTC and np_.created_at.hour == 1
    assert np_.to_wire()["created_at"] == "2026-11-28T01:02:03Z"
    naive = Nodepool.from_wire({"created_at": "2026-11-28T01:02:03"})
    assert naive.created_at.tzinfo is UTC


def test_metric_filter_in_wire_shape_and_free_labels():
    f = MetricFilter.from_wire({"label": "NODEPOOL_ID", "in": {"in": ["a", "b"]}})
    assert f.in_ == ["a", "b"] and f.label is MetricLabel.NODEPOOL_ID
    assert f.to_wire() == {"label": 6, "in": {"in": ["a", "b"]}}
    assert MetricFilter.from_wire({"label": 5, "in": ["x"]}).to_wire() == {"label": 5, "in": {"in": ["x"]}}
    free = MetricFilter.from_wire({"label": "capacity_type", "equals": "spot"})
    assert free.label == "capacity_type"
    assert free.to_wire() == {"label": "capacity_type", "equals": "spot"}
    q = MetricSearchQuery.from_wire({"aggregate": {"operator": "P95", "labels": ["NODEPOOL_ID", "state"]}})
    assert q.aggregate.operator is AggregateOperator.P95
    assert q.to_wire() == {"filters": [], "aggregate": {"operator": 5, "labels": [6, "state"]}}


def test_metric_series_sample():
    raw = {"labels": [{"name": "NODEPOOL_ID", "value": "np1"}, {"name": "capacity_type", "value": "spot"}],
           "value": [{"timestamp": "2023-11-14T22:13:20Z", "value": 2.0},
                     {"timestamp": "2023-11-14T22:18:20Z"}]}
    s = MetricSeries.from_wire(raw)
    assert s.label_dict() == {"NODEPOOL_ID": "np1", "capacity_type": "spot"}
    assert s.value[1].value == 0.0
    assert s.to_wire() == {"labels": [{"name": 6, "value": "np1"}, {"name": "capacity_type", "value": "spot"}],
                           "value": raw["value"]}


def test_log_entry_meta_is_free_json():
    e = LogEntry.from_wire({"message": "scaled up 1 node", "log_type": "runner.events",
                            "meta": {"kind": "scale_up", "count": 1, "timestamp": "2026-01-01T00:00:00Z"}})
    assert e.meta["kind"] == "scale_up"
    assert LogEntry.from_wire(e.to_wire()) == e


def test_models_are_plain_mutable_pydantic():
    np_ = Nodepool.from_wire(NODEPOOL)
    bigger = np_.model_copy(update={"max_instances": 10})
    assert bigger.max_instances == 10 and np_.max_instances == 3
    np_.min_instances = 2
    assert np_.to_wire()["min_instances"] == 2
    assert Nodepool.from_wire(np_) is np_


# ---- wrong types: InvalidInput with a field path, never a pydantic traceback ------------------


@pytest.mark.parametrize(
    ("model", "data", "field", "message"),
    [
        (Nodepool, {"min_instances": "abc"}, "min_instances",
         "min_instances must be a whole number >= 0, got 'abc'"),
        (Nodepool, {"max_instances": 2.5}, "max_instances", "max_instances must be a whole number >= 0, got 2.5"),
        (Nodepool, {"instance_types": {"id": "g5"}}, "instance_types", "instance_types must be a list"),
        (Nodepool, {"instance_types": ["g5.xlarge"]}, "instance_types[0]", "instance_types[0] must be a mapping"),
        (Nodepool, {"nodeCapacityType": {"capacityTypes": ["SPOTT"]}}, "node_capacity_type.capacity_types[0]",
         "node_capacity_type.capacity_types[0] must be one of ON_DEMAND_TYPE (1), SPOT_TYPE (2), got 'SPOTT'"),
        (Nodepool, {"created_at": "yesterday"}, "created_at", "created_at must be an RFC 3339 timestamp"),
        (Deployment, {"autoscale_config": {"disable_packing": "maybe"}}, "autoscale_config.disable_packing",
         "autoscale_config.disable_packing must be true or false, got 'maybe'"),
        (Deployment, {"visibility": {"gettable": "SECRET"}}, "visibility.gettable",
         "visibility.gettable must be one of PRIVATE (10), ORG (30), PUBLIC (50), got 'SECRET'"),
        (Deployment, {"nodepools": [{"id": "np", "compute_cluster": {"id": ["cc"]}}]},
         "nodepools[0].compute_cluster.id", "nodepools[0].compute_cluster.id must be text"),
        (Deployment, {"metadata": [1, 2]}, "metadata", "metadata must be a mapping"),
        (MetricSearchQuery, {"metric_type": "NODE_COUNT"}, "metric_type", "metric_type must be one of"),
    ],
)
def test_wrong_types_name_the_field(model, data, field, message):
    with pytest.raises(InvalidInput) as exc:
        model.from_wire(data)
    assert exc.value.field == field
    assert str(exc.value).startswith(message)
    assert "pydantic" not in str(exc.value) and "\n" not in str(exc.value)


def test_all_type_errors_are_reported_at_once():
    with pytest.raises(InvalidInput) as exc:
        Nodepool.from_wire({"min_instances": "x", "max_instances": "y"})
    assert [p.field for p in exc.value.problems] == ["min_instances", "max_instances"]


def test_not_a_mapping():
    with pytest.raises(InvalidInput, match="nodepool must be a mapping of fields, got 'np-1'"):
        Nodepool.from_wire("np-1")


def test_numbers_are_accepted_for_text_fields():
    # YAML `cpu_limit: 4` or `id: 2024`: protobuf would refuse, we read them as text
    ci = ComputeInfo.from_wire({"cpu_limit": 4, "cpu_memory": "16Gi"})
    assert ci.cpu_limit == "4"


# ---- secrets -----------------------------------------------------------------------------------


def test_cluster_key_never_in_repr_or_errors():
    pat = "f00dfacef00dfacef00dface"
    cc = ComputeCluster.from_wire({**CREATE_CLUSTER, "key": {"id": pat}})
    for text in (repr(cc), str(cc), repr(cc.key), str(cc.key), f"{cc!r}"):
        assert pat not in text
    assert "****" in repr(cc)
    assert cc.to_wire()["key"] == {"id": pat}  # the create request needs it
    assert "key" not in ComputeCluster(id="c").to_wire()
    with pytest.raises(InvalidInput) as exc:
        ComputeCluster.from_wire({"key": {"id": {"oops": pat}}})
    assert pat not in str(exc.value)
    assert str(exc.value) == "key.id must be text, got a hidden value"
    assert repr(Key(description="ci")) == "Key(description='ci')"


def test_repr_shows_only_set_fields():
    assert repr(Nodepool(id="np", max_instances=2)) == "Nodepool(id='np', max_instances=2)"


# ---- business rules: every rule with its message -----------------------------------------------


def good_nodepool(**kw) -> Nodepool:
    base = Nodepool(id="np-1", instance_types=[InstanceType(id="g5.xlarge")], min_instances=0,
                    max_instances=3, node_capacity_type=NodeCapacityType(capacity_types=[CapacityType.SPOT_TYPE]))
    return base.model_copy(update=kw)


def good_cluster(**kw) -> ComputeCluster:
    return ComputeCluster(id="cc-1", cloud_provider=CloudProvider(id="aws"), region="us-east-1").model_copy(update=kw)


def good_deployment(**kw) -> Deployment:
    return Deployment.from_wire(DEPLOYMENT).model_copy(update=kw)


def messages(model, **kw) -> list[str]:
    return [p.message for p in model.problems(**kw)]


def test_valid_models_have_no_problems():
    assert good_nodepool().problems() == []
    assert good_cluster().problems() == []
    assert good_deployment().problems() == []
    assert good_nodepool().check().id == "np-1"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "id is empty: choose an id of 1 to 48 characters: letters, digits, '-' or '_', "
             "starting with a letter or a digit"),
        ("a" * 49, "id 'aaaaaaaaaaaaaaaaaaaa…' is 49 characters long: shorten it to 48 or fewer"),
        ("my pool!", "id 'my pool!' contains ' ' '!': use only letters, digits, '-' and '_' (e.g. 'my-pool')"),
        ("-pool", "id '-pool' starts with '-': start it with a letter or a digit"),
        ("_pool", "id '_pool' starts with '_': start it with a letter or a digit"),
        (5, "id must be text, got 5: use 1 to 48 characters: letters, digits, '-' or '_', "
            "starting with a letter or a digit"),
    ],
)
def test_check_id_messages(value, message):
    assert check_id(value) == message


@pytest.mark.parametrize("value", ["a", "A1", "9lives", "g5-xlarge_pool", "x" * 48, "deploy-np-g5-xlarge"])
def test_check_id_accepts(value):
    assert check_id(value) is None


def test_check_id_names_the_field():
    assert check_id("a b", field="nodepool_id").startswith("nodepool_id 'a b' contains ' '")


def test_ids_checked_on_every_resource():
    for model in (good_nodepool(id="bad id"), good_cluster(id="bad id"), good_deployment(id="bad id")):
        assert model.problems()[0].field == "id"
    for model in (good_nodepool(id=""), good_cluster(id=""), good_deployment(id="")):
        assert model.problems(require_id=False) == []
        assert [p.field for p in model.problems()] == ["id"]


def test_description_cap():
    long = "x" * (MAX_DESCRIPTION + 1)
    for model in (good_nodepool(description=long), good_cluster(description=long),
                  good_deployment(description=long)):
        assert messages(model) == [f"description is {MAX_DESCRIPTION + 1} characters long: "
                                   f"shorten it to {MAX_DESCRIPTION} characters or fewer"]
    assert good_nodepool(description="x" * MAX_DESCRIPTION).problems() == []


def test_nodepool_min_above_max():
    assert good_nodepool(min_instances=3, max_instances=1).problems() == [Problem(
        "min_instances",
        "min_instances (3) is above max_instances (1): lower min_instances or raise max_instances")]
    assert good_nodepool(min_instances=3, max_instances=3).problems() == []


def test_nodepool_max_at_least_one():
    assert messages(good_nodepool(max_instances=0)) == ["max_instances is 0: set it to at least 1"]


def test_nodepool_negative_and_non_integer_counts():
    assert messages(good_nodepool(min_instances=-1)) == ["min_instances (-1) is negative: set it to 0 or more"]
    assert messages(good_nodepool(warm_instances=1.5)) == [
        "warm_instances must be a whole number >= 0, got 1.5"]
    # a bad max is reported once, not also as "below 1" / "min above max"
    assert messages(good_nodepool(max_instances=-2)) == ["max_instances (-2) is negative: set it to 0 or more"]


def test_nodepool_capacity_types():
    empty = good_nodepool(node_capacity_type=NodeCapacityType())
    assert messages(empty) == ["node_capacity_type.capacity_types is empty: choose ON_DEMAND_TYPE (1), "
                               "SPOT_TYPE (2) or both"]
    unknown = good_nodepool(node_capacity_type=NodeCapacityType.from_wire({"capacity_types": [1, 0, 7]}))
    assert unknown.problems() == [
        Problem("node_capacity_type.capacity_types[1]", "node_capacity_type.capacity_types[1] is "
                "UKNOWN_CAPACITY_TYPE: use ON_DEMAND_TYPE (1) or SPOT_TYPE (2)"),
        Problem("node_capacity_type.capacity_types[2]", "node_capacity_type.capacity_types[2] is "
                "CAPACITYTYPE_7: use ON_DEMAND_TYPE (1) or SPOT_TYPE (2)"),
    ]


def test_nodepool_exactly_one_instance_type():
    assert messages(good_nodepool(instance_types=[])) == [
        "instance_types is empty: choose one instance type (e.g. g5.xlarge)"]
    two = good_nodepool(instance_types=[InstanceType(id="a"), InstanceType(id="b")])
    assert messages(two) == ["instance_types has 2 entries: a nodepool uses exactly one instance type, keep one"]
    assert messages(good_nodepool(instance_types=[InstanceType()])) == [
        "instance_types[0].id is empty: set it to an instance type id such as g5.xlarge"]


def test_cluster_provider_and_region():
    bad = ComputeCluster(id="cc")
    assert bad.problems() == [
        Problem("cloud_provider.id", "cloud_provider.id is empty: choose a cloud provider such as aws, gcp, "
                                     "vultr or oracle"),
        Problem("region", "region is empty: choose a region of the cloud provider (e.g. us-east-1 on aws)"),
    ]


def test_autoscale_rules():
    ok = AutoscaleConfig(min_replicas=1, max_replicas=3, scale_down_delay_seconds=300,
                         scale_to_zero_delay_seconds=300)
    assert ok.problems() == []
    assert messages(ok.model_copy(update={"max_replicas": 0, "min_replicas": 0})) == [
        "max_replicas is 0: set it to at least 1"]
    assert messages(ok.model_copy(update={"min_replicas": 5})) == [
        "min_replicas (5) is above max_replicas (3): lower min_replicas or raise max_replicas"]
    assert messages(ok.model_copy(update={"scale_to_zero_delay_seconds": 60})) == [
        "scale_to_zero_delay_seconds (60) is below scale_down_delay_seconds (300): raise "
        "scale_to_zero_delay_seconds to at least 300 or lower scale_down_delay_seconds"]
    # only compared when both are set
    assert ok.model_copy(update={"scale_to_zero_delay_seconds": 0}).problems() == []
    for name in ("traffic_history_seconds", "scale_down_delay_seconds", "scale_up_delay_seconds",
                 "scale_to_zero_delay_seconds"):
        assert messages(ok.model_copy(update={name: -5})) == [f"{name} (-5) is negative: set it to 0 or more"]
    assert messages(ok.model_copy(update={"scale_up_delay_seconds": 2.5})) == [
        "scale_up_delay_seconds must be a whole number >= 0, got 2.5"]


def test_deployment_rules():
    d = good_deployment(autoscale_config=AutoscaleConfig(min_replicas=4, max_replicas=2))
    assert messages(d) == ["autoscale_config.min_replicas (4) is above autoscale_config.max_replicas (2): "
                           "lower autoscale_config.min_replicas or raise autoscale_config.max_replicas"]
    # an all-zero autoscale_config means "server defaults", not "max_replicas 0"
    assert good_deployment(autoscale_config=AutoscaleConfig()).problems() == []
    assert messages(good_deployment(worker=Worker())) == [
        "worker.model is not set: choose the model to deploy (worker.model.id, worker.model.user_id and "
        "worker.model.app_id)"]
    assert messages(good_deployment(worker=Worker(model=ModelRef(id="m")))) == [
        "worker.model.user_id is empty: set it to the model's user_id",
        "worker.model.app_id is empty: set it to the model's app_id"]
    assert good_deployment(worker=Worker(workflow={"id": "wf"})).problems() == []
    assert messages(good_deployment(nodepools=[])) == [
        "nodepools is empty: place the deployment on at least one nodepool (id and compute_cluster.id)"]
    assert messages(good_deployment(nodepools=[Nodepool()])) == [
        "nodepools[0].id is empty: set it to the nodepool's id",
        "nodepools[0].compute_cluster.id is empty: set it to the id of the nodepool's compute cluster"]
    dn = DeploymentNodepool(id="np", compute_cluster=ComputeCluster(id="cc"), priority=12)
    assert messages(good_deployment(nodepools=[], deployment_nodepools=[dn])) == [
        "deployment_nodepools[0].priority (12) is out of range: use 0 to 9"]
    both = good_deployment(deployment_nodepools=[dn.model_copy(update={"priority": 1})])
    assert messages(both) == ["nodepools and deployment_nodepools are both set: use only one of them "
                              "(deployment_nodepools when you need priorities)"]


def test_check_raises_with_all_problems():
    with pytest.raises(InvalidInput) as exc:
        Nodepool(id="bad id", max_instances=0).check()
    fields = [p.field for p in exc.value.problems]
    assert fields == ["id", "max_instances", "node_capacity_type.capacity_types", "instance_types"]
    assert exc.value.field == "id"


def test_metric_query_rules():
    q = MetricSearchQuery(resolution="5 minutes")
    assert messages(q) == ["resolution '5 minutes' is not a positive duration: use a Go duration such as "
                           "'1m', '5m' or '1h'"]
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    q = MetricSearchQuery(resolution="5m", start_time=t0, end_time=t0 - timedelta(hours=1))
    assert messages(q) == ["end_time is before start_time: swap them or move end_time later"]


def test_from_wire_is_lenient_about_rules():
    np_ = Nodepool.from_wire({"id": "bad id!", "min_instances": 9, "max_instances": 1})
    assert len(np_.problems()) >= 2  # parsed anyway: real responses must always parse


def test_visibility_enum():
    assert Visibility.from_wire({"gettable": "ORG"}).gettable is Gettable.ORG
    assert Visibility.from_wire({"gettable": 30}).to_wire() == {"gettable": 30}


# ---- helpers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "cores"), [("3535m", 3.535), ("4", 4.0), ("0.5", 0.5), ("", 0.0),
                                             (2, 2.0), ("1e3m", 1.0)])
def test_parse_cpu(text, cores):
    assert parse_cpu(text) == pytest.approx(cores)


@pytest.mark.parametrize(("text", "gib"), [("13878Mi", 13878 / 1024), ("16Gi", 16.0), ("1Ti", 1024.0),
                                           ("1G", 1e9 / 2**30), ("512Ki", 512 / 2**20),
                                           ("1073741824", 1.0), ("221.95Gi", 221.95), ("", 0.0)])
def test_parse_memory_gib(text, gib):
    assert parse_memory_gib(text) == pytest.approx(gib)


@pytest.mark.parametrize("bad", ["lots", "16 GB", "Gi", "1.2.3Mi"])
def test_quantity_errors(bad):
    with pytest.raises(ValueError, match="Kubernetes quantity"):
        parse_memory_gib(bad)


@pytest.mark.parametrize(("text", "seconds"), [("5m", 300), ("1h30m", 5400), ("10s", 10), ("500ms", 0.5),
                                               ("1.5h", 5400), ("7d", 604800), ("2w", 1209600),
                                               ("90", 90), (30, 30), ("0s", 0)])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["", "5 minutes", "m5", "5x", "1h 30m"])
def test_parse_duration_errors(bad):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


@pytest.mark.parametrize(("seconds", "text"), [(300, "5m"), (5400, "1h30m"), (10, "10s"), (0.5, "500ms"),
                                               (0, "0s"), (3661, "1h1m1s")])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text
    assert parse_duration(text) == pytest.approx(seconds)


def test_enums_match_clarifai_grpc():
    resources_pb2 = pytest.importorskip("clarifai_grpc.grpc.api.resources_pb2")
    pairs = [
        (CapacityType, resources_pb2.NodeCapacityType.CapacityType),
        (Gettable, resources_pb2.Visibility.Gettable),
        (NodepoolStatus, resources_pb2.Nodepool.NodepoolStatus),
        (SchedulingChoice, resources_pb2.Deployment.SchedulingChoice),
        (DeploymentStatus, resources_pb2.Deployment.Status),
        (MetricType, resources_pb2.MetricType),
        (MetricLabel, resources_pb2.MetricLabel),
        (AggregateOperator, resources_pb2.MetricAggregate.Operator),
        (SpecialHandlingReason, resources_pb2.SpecialHandling.Reason),
    ]
    for ours, theirs in pairs:
        assert {m.name: m.value for m in ours} == {v.name: v.number for v in theirs.DESCRIPTOR.values}


def test_field_names_match_clarifai_grpc():
    """Every field we emit is a real proto field, so protobuf's parser accepts our JSON."""
    resources_pb2 = pytest.importorskip("clarifai_grpc.grpc.api.resources_pb2")
    pairs = [(ComputeCluster, "ComputeCluster"), (Nodepool, "Nodepool"), (InstanceType, "InstanceType"),
             (ComputeInfo, "ComputeInfo"), (Deployment, "Deployment"), (AutoscaleConfig, "AutoscaleConfig"),
             (MetricSearchQuery, "MetricSearchQuery"), (MetricFilter, "MetricFilter"),
             (CloudProvider, "CloudProvider"), (DeploymentNodepool, "DeploymentNodepool")]
    for ours, name in pairs:
        proto_fields = {f.name for f in getattr(resources_pb2, name).DESCRIPTOR.fields}
        assert {wire for wire, _, _ in ours._plan.values()} <= proto_fields, name


def test_grpc_parser_accepts_our_json():
    pytest.importorskip("clarifai_grpc")
    from clarifai_grpc.grpc.api import resources_pb2
    from google.protobuf import json_format

    d = Deployment.from_wire(DEPLOYMENT)
    msg = json_format.ParseDict(d.to_wire(), resources_pb2.Deployment())
    assert msg.autoscale_config.max_replicas == 5 and msg.scheduling_choice == 4
    np_ = json_format.ParseDict(Nodepool.from_wire(NODEPOOL).to_wire(), resources_pb2.Nodepool())
    assert list(np_.node_capacity_type.capacity_types) == [2, 1]
    # and the other way: what protobuf prints, we parse (camelCase, enum names)
    printed = json_format.MessageToDict(np_)
    assert Nodepool.from_wire(printed).to_wire() == NODEPOOL

