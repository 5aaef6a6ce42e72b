"""api/config.py: Clarifai CLI YAML files in and out, and errors that name file, key and line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from compute_widgets.api.config import ConfigError, dump_config, load_config, load_documents
from compute_widgets.api.errors import InvalidInput
from compute_widgets.api.models import (
    CapacityType,
    CloudProvider,
    ComputeCluster,
    Deployment,
    Gettable,
    Key,
    Nodepool,
    SchedulingChoice,
)

DATA = Path(__file__).parent / "data" / "configs"
NODEPOOL_TEXT = (DATA / "nodepool.yaml").read_text()


def error_of(text: str, **kw) -> ConfigError:
    with pytest.raises(ConfigError) as exc:
        load_documents(text, name="nodepool.yaml", **{"check": True, **kw})
    return exc.value


# ---- the reference's example files ---------------------------------------------------------------


def test_cluster_example():
    cc = load_config(DATA / "compute_cluster.yaml")["compute_cluster"]
    assert isinstance(cc, ComputeCluster)
    assert cc.to_wire() == {"id": "demo-cluster", "description": "demo dedicated cluster on AWS",
                            "cloud_provider": {"id": "aws"}, "region": "us-east-1",
                            "visibility": {"gettable": 10}, "cluster_type": "dedicated",
                            "managed_by": "clarifai"}


def test_nodepool_example():
    np_ = load_config(str(DATA / "nodepool.yaml"))["nodepool"]
    assert np_.node_capacity_type.capacity_types == [CapacityType.SPOT_TYPE, CapacityType.ON_DEMAND_TYPE]
    assert (np_.min_instances, np_.max_instances, np_.instance_type_id) == (0, 3, "g5.xlarge")
    it = np_.instance_types[0]
    assert it.compute_info.accelerator_type == ["NVIDIA-A10G"]
    assert it.vcpu == 4 and it.gpu_memory_gib == 24


def test_deployment_example():
    d = load_config(DATA / "deployment.yaml")["deployment"]
    assert isinstance(d, Deployment)
    assert d.scheduling_choice is SchedulingChoice.PERFORMANCE
    assert d.autoscale_config.scale_to_zero_delay_seconds == 3600
    assert d.nodepool_refs == [("demo-cluster", "demo-a10g")]
    assert d.worker.model.model_version.id == "v1"


def test_text_and_path_are_both_accepted(tmp_path):
    assert load_config(NODEPOOL_TEXT)["nodepool"] == load_config(DATA / "nodepool.yaml")["nodepool"]


def test_ids_may_come_from_the_command_line():
    # `clarifai nodepool create CC NP --config FILE`: the file needs no id
    text = NODEPOOL_TEXT.replace("  id: demo-a10g\n", "")
    assert load_config(text)["nodepool"].id == ""


def test_camel_case_and_enum_names_in_yaml():
    np_ = load_config("nodepool:\n  instanceTypes: [{id: g5.xlarge}]\n"
                      "  nodeCapacityType: {capacityTypes: [SPOT_TYPE]}\n  maxInstances: 2\n")["nodepool"]
    assert np_.spot and np_.max_instances == 2
    cc = load_config("compute_cluster: {cloud_provider: {id: gcp}, region: us-east4, "
                     "visibility: {gettable: ORG}}")["compute_cluster"]
    assert cc.visibility.gettable is Gettable.ORG


def test_blank_values_mean_unset():
    np_ = load_config(NODEPOOL_TEXT.replace("description: one A10G per node", "description:"))["nodepool"]
    assert np_.description == ""


# ---- round trips ------------------------------------------------------------------------------


@pytest.mark.parametrize(("file", "kind"), [("compute_cluster.yaml", "compute_cluster"),
                                            ("nodepool.yaml", "nodepool"), ("deployment.yaml", "deployment")])
def test_yaml_round_trip(file, kind):
    model = load_config(DATA / file)[kind]
    text = dump_config(model)
    again = load_config(text)[kind]
    assert again == model
    assert dump_config(again) == text
    # same data as the original file, as the SDK would read it (yaml.safe_load)
    original = yaml.safe_load((DATA / file).read_text())[kind]
    dumped = yaml.safe_load(text)[kind]
    if kind == "deployment":
        for zero in ("min_replicas", "disable_packing"):  # 0 / false: zero values are omitted
            original["autoscale_config"].pop(zero)
    assert dumped == original


def test_dump_format():
    text = dump_config(load_config(DATA / "nodepool.yaml")["nodepool"])
    assert text.startswith("nodepool:\n  id: demo-a10g\n")
    assert "    capacity_types: [2, 1]  # SPOT_TYPE, ON_DEMAND_TYPE\n" in text
    assert "  min_instances: 0\n" in text  # the SDK asserts the key is there, even at 0
    cc_text = dump_config(load_config(DATA / "compute_cluster.yaml")["compute_cluster"])
    assert "gettable: 10  # PRIVATE" in cc_text


def test_dump_writes_the_keys_the_sdk_asserts_on():
    assert yaml.safe_load(dump_config(Nodepool(id="np")))["nodepool"] == {
        "id": "np", "node_capacity_type": {"capacity_types": []}, "instance_types": [],
        "min_instances": 0, "max_instances": 0}
    assert yaml.safe_load(dump_config(ComputeCluster(id="cc")))["compute_cluster"] == {
        "id": "cc", "cloud_provider": {"id": ""}, "region": "", "cluster_type": "", "managed_by": ""}
    d = yaml.safe_load(dump_config(Deployment(id="d")))["deployment"]
    assert {"autoscale_config", "worker", "scheduling_choice", "nodepools"} <= set(d)


def test_dump_leaves_out_secrets_timestamps_and_live_state():
    pat = "c0ffee00c0ffee00c0ffee00"
    cc = load_config(DATA / "compute_cluster.yaml")["compute_cluster"].model_copy(
        update={"key": Key(id=pat)})
    np_ = Nodepool.from_wire({**load_config(DATA / "nodepool.yaml")["nodepool"].to_wire(),
                              "created_at": "2026-01-01T00:00:00Z", "node_count": 2, "status": 2,
                              "compute_cluster": {"id": "demo-cluster", "key": {"id": pat}}})
    text = dump_config([np_, cc])
    assert pat not in text
    assert "key" not in text and "created_at" not in text and "node_count" not in text
    assert "status:" not in text
    assert text.index("compute_cluster:\n") < text.index("---\nnodepool:")  # dependency order


def test_dump_is_valid_for_protobuf_like_the_sdk():
    """The SDK feeds the YAML dicts into protobuf: every key we write must be a proto field."""
    pytest.importorskip("clarifai_grpc")
    from clarifai_grpc.grpc.api import resources_pb2
    from google.protobuf import json_format

    for file, kind, msg in [("compute_cluster.yaml", "compute_cluster", resources_pb2.ComputeCluster),
                            ("nodepool.yaml", "nodepool", resources_pb2.Nodepool),
                            ("deployment.yaml", "deployment", resources_pb2.Deployment)]:
        data = yaml.safe_load(dump_config(load_config(DATA / file)[kind]))[kind]
        parsed = json_format.ParseDict(data, msg())  # raises on any unknown key
        assert parsed.id
    np_data = yaml.safe_load(dump_config(load_config(DATA / "nodepool.yaml")["nodepool"]))["nodepool"]
    # what ComputeCluster._process_nodepool_config does with the dict
    caps = resources_pb2.NodeCapacityType(capacity_types=list(np_data["node_capacity_type"]["capacity_types"]))
    assert list(caps.capacity_types) == [2, 1]


def test_real_sdk_file_with_timestamps_loads():
    # A GetNodepool answer saved as YAML (MessageToDict style: camelCase, enum names) loads too
    text = ("nodepool:\n  id: np\n  createdAt: '2026-01-01T00:00:00Z'\n  status: NODEPOOL_STATUS_READY\n"
            "  instanceTypes: [{id: g5.xlarge}]\n  nodeCapacityType: {capacityTypes: [ON_DEMAND_TYPE]}\n"
            "  maxInstances: 1\n")
    assert load_config(text)["nodepool"].created_at.year == 2026


# ---- multi-document cells -------------------------------------------------------------------------


def test_documents_in_dependency_order_with_links():
    docs = load_documents(DATA / "stack.yaml")
    assert [k for k, _ in docs] == ["compute_cluster", "nodepool", "deployment"]
    (_, cc), (_, np_), (_, d) = docs
    assert np_.compute_cluster == ComputeCluster(id="lab")  # the only cluster of the text
    assert d.nodepool_refs == [("lab", "spot-a10g")]  # from the nodepool with that id
    assert d.scheduling_choice is SchedulingChoice.PREFER_SPOT


def test_links_can_be_turned_off():
    docs = load_documents(DATA / "stack.yaml", link=False)
    assert docs[1][1].compute_cluster is None
    assert docs[2][1].nodepool_refs == [("", "spot-a10g")]


def test_rules_are_optional_for_documents_and_default_for_files():
    bad = NODEPOOL_TEXT.replace("min_instances: 0", "min_instances: 5")
    assert load_documents(bad)[0][1].min_instances == 5  # %%compute resolves, then validates
    with pytest.raises(ConfigError, match="min_instances"):
        load_documents(bad, check=True)
    with pytest.raises(ConfigError, match="min_instances"):
        load_config(bad)
    assert load_config(bad, check=False)["nodepool"].min_instances == 5


def test_what_a_command_line_supplies_is_not_required_in_a_file():
    # `clarifai deployment create NP_ID DEP_ID --config FILE` / %compute deployments create --nodepool
    text = "deployment:\n  worker: {model: {id: m, user_id: u, app_id: a}}\n  scheduling_choice: 4\n"
    assert load_config(text)["deployment"].nodepools == []
    refs = text + "  nodepools: [{id: np}]\n"
    assert load_config(refs)["deployment"].nodepool_refs == [("", "np")]
    both = refs + "  deployment_nodepools: [{id: np, compute_cluster: {id: cc}}]\n"
    with pytest.raises(ConfigError, match="nodepools and deployment.deployment_nodepools are both set"):
        load_config(both)


def test_explicit_links_win():
    text = ("compute_cluster: {id: a, cloud_provider: {id: aws}, region: us-east-1}\n---\n"
            "nodepool: {id: np, compute_cluster: {id: b}, instance_types: [{id: t}], "
            "node_capacity_type: {capacity_types: [1]}, max_instances: 1}\n")
    assert load_documents(text)[1][1].compute_cluster.id == "b"


def test_load_config_refuses_two_of_a_kind():
    text = NODEPOOL_TEXT + "---\n" + NODEPOOL_TEXT.replace("demo-a10g", "other")
    with pytest.raises(ConfigError, match=r"<config> line 13: a second nodepool: put one nodepool per file"):
        load_config(text)
    assert len(load_documents(text)) == 2


def test_empty_documents_are_skipped():
    assert load_documents("---\n" + NODEPOOL_TEXT + "---\n")[0][0] == "nodepool"
    assert load_documents("") == [] and load_documents("# nothing\n---\n") == []


# ---- files with mistakes ------------------------------------------------------------------------


def test_error_names_the_file(tmp_path):
    path = tmp_path / "nodepool.yaml"
    path.write_text(NODEPOOL_TEXT.replace("min_instances: 0", "min_instances: 7"))
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    err = exc.value
    assert str(err) == (f"{path} line 9: nodepool.min_instances (7) is above nodepool.max_instances (3): "
                        "lower nodepool.min_instances or raise nodepool.max_instances")
    assert (err.file, err.line, err.field) == (str(path), 9, "nodepool.min_instances")
    assert isinstance(err, InvalidInput) and isinstance(err, ValueError)


def test_missing_file():
    with pytest.raises(ConfigError, match=r"nowhere\.yaml: cannot read the config file"):
        load_config("nowhere.yaml")


def test_wrong_type_names_key_and_line():
    err = error_of(NODEPOOL_TEXT.replace("max_instances: 3", "max_instances: three"))
    assert str(err) == ("nodepool.yaml line 10: nodepool.max_instances must be a whole number >= 0, "
                        "got 'three'")
    err = error_of(NODEPOOL_TEXT.replace("num_accelerators: 1", "num_accelerators: [1]"))
    assert str(err).startswith("nodepool.yaml line 7: nodepool.instance_types[0].compute_info.num_accelerators "
                               "must be a whole number >= 0")
    err = error_of(NODEPOOL_TEXT.replace("capacity_types: [2, 1]", "capacity_types: [SPOTT]"))
    assert str(err) == ("nodepool.yaml line 8: nodepool.node_capacity_type.capacity_types[0] must be one of "
                        "ON_DEMAND_TYPE (1), SPOT_TYPE (2), got 'SPOTT'")


def test_min_above_max():
    err = error_of(NODEPOOL_TEXT.replace("min_instances: 0", "min_instances: 5"))
    assert err.lines == [9]
    assert "nodepool.min_instances (5) is above nodepool.max_instances (3)" in str(err)


def test_every_problem_is_reported_with_its_line():
    text = (NODEPOOL_TEXT.replace("max_instances: 3", "max_instances: 0")
            .replace("capacity_types: [2, 1]", "capacity_types: []")
            .replace("  id: demo-a10g", "  id: demo a10g"))
    err = error_of(text)
    assert [p.field for p in err.problems] == ["nodepool.id", "nodepool.max_instances",
                                               "nodepool.node_capacity_type.capacity_types"]
    assert err.lines == [3, 10, 8]
    assert str(err).count("nodepool.yaml line") == 3


def test_unknown_key_lists_the_closest_valid_key():
    err = error_of(NODEPOOL_TEXT.replace("min_instances: 0", "min_instance: 0"))
    assert str(err) == ("nodepool.yaml line 9: nodepool.min_instance is not a Clarifai field: "
                        "did you mean min_instances?")
    err = error_of(NODEPOOL_TEXT.replace("cpu_limit:", "cpuLimt:"))
    assert "nodepool.instance_types[0].compute_info.cpuLimt is not a Clarifai field: did you mean cpu_limit?" \
        in str(err)
    err = error_of("nodepool:\n  colour: red\n")
    assert str(err).startswith("nodepool.yaml line 2: nodepool.colour is not a Clarifai field: valid keys here: "
                               "id, description, created_at")


def test_enable_packing_from_the_docs_sample():
    with pytest.raises(ConfigError) as exc:
        load_config(DATA / "docs_deployment_enable_packing.yaml")
    assert str(exc.value) == (
        f"{DATA / 'docs_deployment_enable_packing.yaml'} line 9: deployment.autoscale_config.enable_packing is "
        "not a Clarifai field (removed in 12.x); use disable_packing (the opposite: enable_packing: true is "
        "disable_packing: false)")
    fixed = (DATA / "docs_deployment_enable_packing.yaml").read_text().replace(
        "enable_packing: true", "disable_packing: false")
    assert load_config(fixed)["deployment"].autoscale_config.max_replicas == 1


def test_proto_fields_we_do_not_model_are_accepted():
    # valid for the SDK (real proto fields), so valid here; ignored
    text = (DATA / "deployment.yaml").read_text().replace(
        "  scheduling_choice: 4\n",
        "  scheduling_choice: 4\n  email_reminder_after: 3600s\n").replace(
        "      app_id: Llama-3\n", "      app_id: Llama-3\n      name: Llama 3 8B\n")
    assert load_config(text)["deployment"].id == "deploy-llama-a1b2c3"


def test_bad_indentation_syntax_error():
    text = NODEPOOL_TEXT.replace("  max_instances: 3", "    max_instances: 3")
    err = error_of(text)
    assert err.lines == [10]
    assert str(err).startswith("nodepool.yaml line 10: not valid YAML (mapping values are not allowed here): "
                               "check the indentation")


def test_dedented_key_is_pointed_back_under_its_parent():
    err = error_of(NODEPOOL_TEXT.replace("  max_instances: 3", "max_instances: 3"))
    assert str(err) == ("nodepool.yaml line 10: max_instances is not a top key of a Clarifai config: "
                        "it is a field of nodepool: indent it under nodepool:")


def test_key_indented_under_the_wrong_parent():
    err = error_of(NODEPOOL_TEXT.replace("  node_capacity_type: {capacity_types: [2, 1]}",
                                         "  capacity_types: [2, 1]"))
    assert str(err).startswith("nodepool.yaml line 8: nodepool.capacity_types is not a Clarifai field: "
                               "it belongs under node_capacity_type: (indent it there)")


def test_tabs():
    err = error_of("nodepool:\n\tid: x\n")
    assert err.lines == [2] and "replace the tab characters with spaces" in str(err)


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n"])
def test_an_empty_file_is_an_error(text, tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=f"^{path}: the config is empty: expected a top key compute_cluster:, "
                                          "nodepool: or deployment:$"):
        load_config(path)


@pytest.mark.parametrize(("text", "message"), [
    ("- 1\n", "nodepool.yaml line 1: expected a top key compute_cluster:, nodepool: or deployment:, got list"),
    ("nodepool: 5\n", "nodepool.yaml line 1: nodepool must be a mapping of fields (indent them under "
                      "nodepool:), got 5"),
    ("nodepol:\n  id: x\n", "nodepool.yaml line 1: nodepol is not a top key of a Clarifai config: did you mean "
                            "nodepool?"),
    ("clusters: {}\n", "nodepool.yaml line 1: clusters is not a top key of a Clarifai config: did you mean "
                       "compute_cluster?"),
    ("runner: {}\n", "nodepool.yaml line 1: runner is not a top key of a Clarifai config: use "
                      "compute_cluster:, nodepool: or deployment:"),
    ("nodepool: {instance_types: g5.xlarge}\n", "nodepool.yaml line 1: nodepool.instance_types must be a list, "
                                                "got 'g5.xlarge'"),
])
def test_structure_errors(text, message):
    assert str(error_of(text)).startswith(message)


def test_yaml_tags_are_not_executed():
    err = error_of("nodepool: !!python/object/apply:os.system ['echo hi']\n")
    assert "not valid YAML" in str(err)


def test_deployment_rules_located():
    text = (DATA / "deployment.yaml").read_text().replace("scale_to_zero_delay_seconds: 3600",
                                                          "scale_to_zero_delay_seconds: 60")
    with pytest.raises(ConfigError) as exc:
        load_config(text, name="deployment.yaml")
    assert str(exc.value) == (
        "deployment.yaml line 11: deployment.autoscale_config.scale_to_zero_delay_seconds (60) is below "
        "deployment.autoscale_config.scale_down_delay_seconds (300): raise "
        "deployment.autoscale_config.scale_to_zero_delay_seconds to at least 300 or lower "
        "deployment.autoscale_config.scale_down_delay_seconds")


def test_problems_of_a_missing_key_point_at_the_parent():
    err = error_of("nodepool:\n  id: np\n  max_instances: 2\n  node_capacity_type: {capacity_types: [1]}\n")
    assert str(err) == ("nodepool.yaml line 1: nodepool.instance_types is empty: choose one instance type "
                        "(e.g. g5.xlarge)")


def test_cluster_from_code_dumps_and_loads():
    cc = ComputeCluster(id="mine", cloud_provider=CloudProvider(id="gcp"), region="us-east4",
                        managed_by="clarifai", cluster_type="dedicated")
    assert load_config(dump_config(cc))["compute_cluster"] == cc


def test_dump_rejects_other_models():
    with pytest.raises(TypeError, match="dump_config takes a ComputeCluster, Nodepool or Deployment"):
        dump_config(Key(id="x"))


@pytest.mark.parametrize("text", ["\x85", "a\u2028b", "x\x00y", "café ✓", "two\nlines", " lead", "\ufeff", "a: b"])
def test_any_string_survives_a_dump(text):
    # NEL and friends are folded by YAML readers when written raw: they must come back unchanged
    np_ = Nodepool(id="np", description=text, status_description=text)
    assert load_config(dump_config(np_), check=False)["nodepool"] == np_
