"""The creation wizards as state machines, without a browser, against the real local control plane.

Sync tests (no running loop) run each call inline; ``async`` tests run them as asyncio tasks
and await ``widget.wait()`` — the two paths a notebook and a script take.
"""

from __future__ import annotations

import html
import json
import re

import httpx
import pytest

pytest.importorskip("ipywidgets")

from compute_widgets.api import models as m  # noqa: E402
from compute_widgets.api.client import ComputeClient  # noqa: E402
from compute_widgets.widgets import (  # noqa: E402
    ClusterWizard,
    DeploymentWizard,
    NodepoolWizard,
    _cost,  # noqa: E402
)
from compute_widgets.widgets._ascode import nodepool_command  # noqa: E402

# --- helpers ----------------------------------------------------------------------------------


def all_widgets(root):
    """Every widget reachable from ``root`` through its synced state (IPY_MODEL_ references)."""
    from ipywidgets.widgets.widget import _instances

    seen, stack, out = set(), [root], []
    while stack:
        w = stack.pop()
        if w.model_id in seen:
            continue
        seen.add(w.model_id)
        out.append(w)
        refs = []

        def collect(v, refs=refs):
            if isinstance(v, str) and v.startswith("IPY_MODEL_"):
                refs.append(v[10:])
            elif isinstance(v, list | tuple):
                for x in v:
                    collect(x)
            elif isinstance(v, dict):
                for x in v.values():
                    collect(x)

        for value in w.get_state().values():
            collect(value)
        stack.extend(_instances[r] for r in refs if r in _instances)
    return out


def exposed_text(root) -> str:
    """Everything a frontend or a saved notebook could see of a widget tree."""
    parts = [json.dumps(w.get_state(), default=str) for w in all_widgets(root)]
    parts += [repr(root), str(root._repr_mimebundle_()), root._repr_html_()]
    return "\n".join(parts)


def make_cluster(client, uid, provider="aws", region="us-east-1"):
    return client.create_cluster(
        m.ComputeCluster(id=uid("cc"), cloud_provider=m.CloudProvider(id=provider), region=region)
    )


def pick(wizard: NodepoolWizard, instance_id: str) -> None:
    wizard.kind_filter.value = "All"
    wizard.accelerator_filter.value = "Any"
    wizard.gpu_memory_filter.value = 0
    assert instance_id in [v for _l, v in wizard.instance_type.options]
    wizard.instance_type.value = instance_id


class FailingPosts(httpx.BaseTransport):
    """A real transport that answers POSTs under ``fragment`` with a 500 or a dropped connection."""

    def __init__(self, fragment: str, mode: str = "500") -> None:
        self.inner = httpx.HTTPTransport()
        self.fragment, self.mode, self.failed = fragment, mode, 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and self.fragment in request.url.path:
            self.failed += 1
            if self.mode == "drop":
                raise httpx.ConnectError("connection dropped", request=request)
            return httpx.Response(
                500,
                json={
                    "status": {
                        "code": 98005,
                        "description": "Injected internal error",
                        "req_id": "inj",
                    }
                },
                request=request,
            )
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


# --- NodepoolWizard -------------------------------------------------------------------------------


def test_nodepool_wizard_fill_click_creates_nodepool(client, uid):
    cc = make_cluster(client, uid)
    w = NodepoolWizard(cc, client)
    assert w.status.kind == "ok" and "instance types" in w.status.text
    assert w.action.disabled  # nothing picked yet
    pick(w, "g5.xlarge")
    assert w.nodepool_id.value == "g5-xlarge"  # pre-filled from the type, as Clarifai's UI does
    np_id = uid("np")
    w.nodepool_id.value = np_id
    w.description.value = "A10G pool"
    w.max_nodes.value = 3
    w.spot.value = True
    assert not w.action.disabled, w.problems
    assert "min 0: $0/h when idle" in w.range_text.value
    assert "$1.26/h" in w.range_text.value and "$920/month" in w.range_text.value
    assert "Spot" in w.cost.value and "$3.78/h" in w.cost.value  # 3 x $1.26 on-demand at max

    w.click()
    assert w.status.kind == "ok", w.status.text
    assert w.status.text.startswith(f"Created nodepool {np_id} in ")
    got = client.get_nodepool(cc.id, np_id)
    assert got.instance_type_id == "g5.xlarge"
    assert (got.min_instances, got.max_instances) == (0, 3)
    assert got.spot and got.description == "A10G pool"
    assert (
        f"%compute nodepools create {cc.id} {np_id} --instance g5.xlarge --min 0 --max 3 --spot"
        in w.result.value
    )
    assert "nodepool:" in w.result.value and "g5.xlarge" in w.result.value  # the CLI YAML
    assert w.action.disabled and w.done
    w.click()  # a second click after success creates nothing
    assert [n.id for n in client.list_nodepools(cc.id)] == [np_id]
    assert f"created nodepool {np_id}" in repr(w)


def test_nodepool_wizard_invalid_input_keeps_button_disabled(client, uid):
    cc = make_cluster(client, uid)
    w = NodepoolWizard(cc, client)
    pick(w, "t3a.medium")
    w.nodepool_id.value = "bad id!"
    assert w.action.disabled
    assert "id" in w.id_msg.value.lower() and w.id_msg.value  # the model's message, under the field
    w.click()  # a click through a stale frontend does nothing either
    assert client.list_nodepools(cc.id) == []
    w.nodepool_id.value = "x" * 49
    assert w.action.disabled and w.id_msg.value
    w.nodepool_id.value = uid("np")
    assert w.id_msg.value == "" and not w.action.disabled
    w.description.value = "d" * (m.MAX_DESCRIPTION + 1)
    assert w.action.disabled and str(m.MAX_DESCRIPTION) in w.description_msg.value


@pytest.mark.parametrize("order", ["max then min", "min then max"])
def test_nodepool_wizard_min_above_max_is_a_message_not_a_clamp(client, uid, order):
    """Issue 13 #3: max 2 then min 5 became 5-5 (raising the cost ceiling); min 5 then max 2
    became 2-2. Now both fields keep what the user typed, the problem is said beside them in
    the form's words, and Create stays disabled until the user fixes one of them."""
    cc = make_cluster(client, uid)
    w = NodepoolWizard(cc, client)
    pick(w, "g5.xlarge")
    w.nodepool_id.value = uid("np")
    if order == "max then min":
        w.max_nodes.value = 2
        w.min_nodes.value = 5
    else:
        w.min_nodes.value = 5
        w.max_nodes.value = 2
    assert (w.min_nodes.value, w.max_nodes.value) == (5, 2)  # nothing moved by itself
    msg = w.range_msg.value
    assert (
        "The minimum (5) is above the maximum (2): lower the minimum or raise the maximum." in msg
    )
    assert "min_instances" not in msg  # the form's words, not the API field names
    assert w.action.disabled
    w.click()  # a stale frontend's click creates nothing
    assert client.list_nodepools(cc.id) == []
    w.min_nodes.set_state({"value": 7})  # a frontend edit (the comm handler's path)
    assert (w.min_nodes.value, w.max_nodes.value) == (7, 2) and "(7)" in w.range_msg.value
    w.max_nodes.value = 7  # the user decides: raise the max
    assert w.range_msg.value == "" and not w.action.disabled
    w.click()
    got = client.get_nodepool(cc.id, w.nodepool_id.value)
    assert (got.min_instances, got.max_instances) == (7, 7)


def test_deployment_wizard_min_above_max_is_a_message_not_a_clamp(client, uid):
    w = DeploymentWizard((uid("cc"), uid("np")), client)
    w.max_replicas.value = 2
    w.min_replicas.value = 4
    assert (w.min_replicas.value, w.max_replicas.value) == (4, 2)
    assert "The minimum (4) is above the maximum (2)" in w.autoscale_msg.value
    assert w.action.disabled


def test_nodepool_wizard_filters(client, uid):
    w = NodepoolWizard(make_cluster(client, uid), client)
    everything = len(w.instance_type.options)
    w.kind_filter.value = "GPU"
    gpu = [w.types[v] for _l, v in w.instance_type.options]
    assert gpu and all(t.is_gpu for t in gpu) and len(gpu) < everything
    w.kind_filter.value = "CPU"
    assert all(not w.types[v].is_gpu for _l, v in w.instance_type.options)
    w.kind_filter.value = "All"
    w.accelerator_filter.value = "NVIDIA-L40S"
    ids = {v for _l, v in w.instance_type.options}
    assert ids and all("NVIDIA-L40S" in w.types[i].compute_info.accelerator_type for i in ids)
    w.accelerator_filter.value = "Any"
    w.gpu_memory_filter.value = 40
    assert all(w.types[v].gpu_memory_gib >= 40 for _l, v in w.instance_type.options)
    assert "types match the filters" in w.instance_table.value
    # a picked type hidden by a filter is unpicked, so nothing invisible gets created
    w.gpu_memory_filter.value = 0
    pick(w, "t3a.large")
    w.kind_filter.value = "GPU"
    assert w.instance_type.value is None and w.action.disabled


def test_spot_toggle_follows_the_instance_type(client, uid):
    gcp = make_cluster(client, uid, "gcp", "us-east4")
    w = NodepoolWizard(gcp, client)
    assert not w.spot.value  # off by default
    pick(w, "a3-highgpu-1g")  # spot only
    assert w.spot.value and w.spot.disabled
    assert "spot capacity only" in w.spot_note.value
    assert w.nodepool().node_capacity_type.capacity_types == [m.CapacityType.SPOT_TYPE]
    assert nodepool_command(gcp.id, w.nodepool()).endswith("--spot-only")
    pick(w, "g2-standard-4")
    assert not w.spot.disabled
    w.spot.value = True
    assert "falls back" in w.spot_note.value and "reclaim" in w.spot_note.value
    caps = w.nodepool().node_capacity_type.capacity_types
    assert caps == [m.CapacityType.SPOT_TYPE, m.CapacityType.ON_DEMAND_TYPE]

    vultr_region = client.list_regions("vultr")[0].id
    v = NodepoolWizard(make_cluster(client, uid, "vultr", vultr_region), client)
    pick(v, "vc2-2c-4gb")  # on-demand only
    assert not v.spot.value and v.spot.disabled and "on-demand only" in v.spot_note.value


def test_cost_estimate_numbers():
    t = m.InstanceType(
        id="g5.xlarge",
        price="35.000000",
        compute_info=m.ComputeInfo(
            num_accelerators=1, accelerator_type=["NVIDIA-A10G"], accelerator_memory="22Gi"
        ),
    )
    e = _cost.estimate(t, 1, 4, use_spot=True)
    assert e.od == pytest.approx(1.26)
    assert e.spot == pytest.approx(1.26 * _cost.SPOT_PRICE_RATIO) and e.spot_is_estimate
    spot = 1.26 * _cost.SPOT_PRICE_RATIO
    assert e.chosen_per_hour == (pytest.approx(spot), pytest.approx(4 * spot))
    html = _cost.cost_html(t, 1, 4, True)
    assert "$5.04/h" in html  # 4 x $1.26 on-demand at max
    assert "$920" in html  # 1 x $1.26 x 730 h on-demand at min
    assert "estimate" in html


def test_server_error_keeps_the_form_filled(client, uid):
    cc = make_cluster(client, uid)
    taken = uid("np")
    w = NodepoolWizard(cc, client)  # opened before the ID was taken: the server refuses
    first = NodepoolWizard(cc, client)
    pick(first, "t3a.medium")
    first.nodepool_id.value = taken
    first.click()
    assert first.created is not None

    pick(w, "g5.xlarge")
    w.nodepool_id.value = taken
    w.max_nodes.value = 2
    w.click()
    assert w.status.kind == "error"
    # in a person's words first, the code second; beside the field as well as in the status
    line = w.status.text
    assert "\n" not in line and line.startswith(f"Nodepool '{taken}'"), line
    assert "choose another ID" in line and line.index("choose") < line.index("40010")
    assert "choose another ID" in w.id_msg.value
    assert (w.nodepool_id.value, w.instance_type.value, w.max_nodes.value) == (
        taken,
        "g5.xlarge",
        2,
    )
    assert not w.done  # fix and retry
    w.nodepool_id.value = uid("np")
    w.click()
    assert (
        w.status.kind == "ok" and client.get_nodepool(cc.id, w.nodepool_id.value).max_instances == 2
    )


@pytest.mark.parametrize("mode", ["500", "drop"])
def test_injected_fault_mid_create_is_one_line(server, client, uid, mode):
    cc = make_cluster(client, uid)
    transport = FailingPosts("/nodepools", mode)
    with ComputeClient(server.url, server.token, transport=transport, retries=0) as faulty:
        w = NodepoolWizard(cc, faulty)
        pick(w, "t3a.medium")
        np_id = uid("np")
        w.nodepool_id.value = np_id
        w.click()
        assert transport.failed >= 1
        assert w.status.kind == "error" and "\n" not in w.status.text and w.status.text
        assert "Traceback" not in w.status.value
        assert w.nodepool_id.value == np_id and w.instance_type.value == "t3a.medium"
        assert not w.action.disabled
    assert np_id not in [n.id for n in client.list_nodepools(cc.id)]


async def test_async_double_click_creates_one_nodepool(client, uid):
    cc = make_cluster(client, uid)
    w = NodepoolWizard(cc, client)
    assert w.pending is not None  # the catalog loads as an asyncio task
    assert w.status.kind == "busy" and w.action.disabled
    await w.wait()
    pick(w, "g5.xlarge")
    np_id = uid("np")
    w.nodepool_id.value = np_id
    w.click()
    assert w.pending is not None and w.action.disabled
    assert w.status.text == f"Creating nodepool {np_id}…"
    w.click()  # the double click: refused while in flight
    w.action.click()
    await w.wait()
    assert w.status.kind == "ok" and w.status.text.startswith(f"Created nodepool {np_id}")
    assert [n.id for n in client.list_nodepools(cc.id)] == [np_id]


def test_nodepool_wizard_from_cluster_id_and_magics_style_call(client, uid):
    cc = make_cluster(client, uid)
    w = NodepoolWizard(cc.id, client)
    assert w.cluster.id == cc.id and w.types
    w2 = NodepoolWizard(cluster_id=cc.id, client=client)  # client= the same way in every widget
    assert w2.client is client and w2.cluster_id == cc.id
    # the client is never taken for the subject (no sniffing): a clear error says where it goes
    with pytest.raises(TypeError, match=r"first argument is the cluster, got ComputeClient; pass the client as client="):
        NodepoolWizard(client, cluster_id=cc.id)
    with pytest.raises(TypeError, match=r"first argument is the nodepool, got ComputeClient"):
        DeploymentWizard(client, cluster_id=cc.id, nodepool_id="np")
    with pytest.raises(ValueError, match="needs a cluster"):
        NodepoolWizard(None, client)


def test_unknown_cluster_shows_error_line(client):
    w = NodepoolWizard("no-such-cluster-x", client)
    assert w.status.kind == "error" and "no-such-cluster-x" in w.status.text
    assert w.action.disabled


# --- ClusterWizard ----------------------------------------------------------------------------------


def test_cluster_wizard_creates_cluster_then_nodepool(client, uid):
    w = ClusterWizard(client)
    assert w.step == 0 and w.pages.selected_index == 0
    assert "using the token of your connection" in w.pat_note.value  # the client has a token
    assert "aws" in [v for _l, v in w.provider.options]
    assert w.action.disabled  # no ID yet
    assert w.cluster_type_self.disabled and "coming soon" in w.cluster_type_self.description
    w.provider.value = "gcp"
    assert w.region.options and "us-east4" in w.region.options
    w.region.value = "us-east4"
    cc_id = uid("cc")
    w.cluster_id.value = cc_id
    w.description.value = "GPU cluster"
    assert not w.action.disabled, w.problems
    w.click()
    assert w.status.text.startswith(f"Created cluster {cc_id}") or w.nodepool_wizard.status.text
    got = client.get_cluster(cc_id)
    assert got.cloud_provider.id == "gcp" and got.region == "us-east4"
    assert w.step == 1 and w.pages.selected_index == 1
    assert (
        f"%compute clusters create {cc_id} --provider gcp --region us-east4"
        in w.cluster_result.value
    )
    npw = w.nodepool_wizard
    assert npw is not None and npw.cluster.id == cc_id
    assert all(
        t.cloud_provider is None or t.cloud_provider.id in ("", "gcp") for t in npw.types.values()
    )
    pick(npw, "g2-standard-4")
    npw.nodepool_id.value = uid("np")
    npw.click()
    assert client.get_nodepool(cc_id, npw.nodepool_id.value).instance_type_id == "g2-standard-4"
    assert w.action.disabled  # the cluster exists; Continue does not create it again
    w.click()
    assert [c.id for c in client.list_clusters()].count(cc_id) == 1


def test_cluster_wizard_duplicate_id_hint_as_you_type(client, uid):
    """Issue 13 #5: the taken ID is said beside the field while typing, in one line of
    people's words, and Continue waits; before, the API's DATABASE_DUPLICATE_KEY line
    appeared at the bottom after Continue."""
    existing = make_cluster(client, uid)
    w = ClusterWizard(client)
    w.cluster_id.value = existing.id
    w.description.value = "again"
    hint = w.id_msg.value
    assert f"A cluster with ID &#x27;{existing.id}&#x27; already exists: choose another ID." in hint
    assert "DATABASE_DUPLICATE_KEY" not in hint and "40010" not in hint
    assert w.action.disabled and w.status.kind != "error"
    w.click()
    assert w.step == 0 and [c.id for c in client.list_clusters()].count(existing.id) == 1
    w.cluster_id.value = existing.id + "-2"
    assert w.id_msg.value == "" and not w.action.disabled
    assert w.step == 0 and w.description.value == "again"


def test_cluster_wizard_duplicate_key_from_the_server_is_worded(client, uid):
    """A cluster created after the form loaded: the server's refusal, for a person."""
    w = ClusterWizard(client)
    cc_id = uid("cc")
    w.cluster_id.value = cc_id
    make_cluster(client, lambda _p: cc_id)
    w.click()
    line = w.status.text
    assert w.status.kind == "error" and "\n" not in line
    assert line.startswith(f"Compute cluster '{cc_id}' already exists: choose another ID."), line
    assert "(DATABASE_DUPLICATE_KEY 40010" in line  # the code stays, second
    assert "choose another ID" in w.id_msg.value and w.action.disabled and w.step == 0


def test_cluster_wizard_invalid_id_message_as_you_type(client):
    w = ClusterWizard(client)
    assert w.id_msg.value == ""  # untouched: no red text yet
    w.cluster_id.value = "-starts-with-dash"
    assert w.id_msg.value and w.action.disabled
    w.cluster_id.value = "ok-id"
    assert w.id_msg.value == "" and not w.action.disabled


def test_typed_pat_never_reaches_widget_state_or_repr(server, client, uid):
    pat = "pat-SECRET-0123456789abcdef"
    w = ClusterWizard(client, ask_pat=True)
    w.cluster_id.value = uid("cc")
    assert w.action.disabled and "paste a PAT" in w.pat_msg.value
    w.pat.set_state({"value": pat})  # the frontend sends the typed value (Enter / blur)
    assert w.pat.value == "" and w._pat == pat
    assert "token received" in w.pat_note.value
    assert not w.action.disabled
    assert pat not in exposed_text(w)
    w.click()
    assert w.status.kind in ("ok", "error")  # whatever the server says of this key ...
    for root in (w, *([w.nodepool_wizard] if w.nodepool_wizard else [])):
        text = exposed_text(root)
        assert pat not in text and server.token not in text  # ... no token is ever shown
    assert w._pat is None or w.created is None


def test_no_token_in_any_widget_state_or_repr(server, client, uid):
    from compute_widgets.widgets import ComputeBrowser, Planner

    cc = make_cluster(client, uid)
    np = client.create_nodepool(
        cc.id,
        m.Nodepool(
            id=uid("np"),
            instance_types=[m.InstanceType(id="t3a.medium")],
            node_capacity_type=m.NodeCapacityType(capacity_types=[m.CapacityType.ON_DEMAND_TYPE]),
            min_instances=0,
            max_instances=1,
        ),
    )
    cw = ClusterWizard(client)
    cw.cluster_id.value = uid("cc")
    cw.click()
    assert cw.created is not None  # the connection's token went out as the cluster key
    views = [
        cw,
        NodepoolWizard(cc, client),
        DeploymentWizard((cc.id, np.id), client),
        ComputeBrowser(client),
    ]
    browser = views[-1]
    browser.open_nodepool(cc.id, np.id)
    views.append(Planner((cc.id, np.id), client, duration="1d"))
    for view in views:
        text = exposed_text(view)
        assert server.token not in text, type(view).__name__
        bundle = view._repr_mimebundle_()
        assert {"text/plain", "text/html", "application/vnd.jupyter.widget-view+json"} <= set(
            bundle
        )


# --- DeploymentWizard ---------------------------------------------------------------------------------


def make_nodepool(client, uid, cc=None):
    cc = cc or make_cluster(client, uid)
    return cc, client.create_nodepool(
        cc.id,
        m.Nodepool(
            id=uid("np"),
            instance_types=[m.InstanceType(id="g5.xlarge")],
            node_capacity_type=m.NodeCapacityType(capacity_types=[m.CapacityType.ON_DEMAND_TYPE]),
            min_instances=0,
            max_instances=2,
        ),
    )


def fill_deployment(w: DeploymentWizard, model_id: str, dep_id: str) -> None:
    w.app_id.value = "main"
    w.model_field.value = model_id
    w.deployment_id.value = dep_id


def test_deployment_wizard_creates_deployment(client, uid):
    """A model typed by hand (not in the catalog): deployed unpinned, as typed."""
    cc, np = make_nodepool(client, uid)
    w = DeploymentWizard(np, client)
    assert w.action.disabled  # no model yet
    assert (w.scale_up_delay.value, w.scale_down_delay.value) == (300, 300)
    assert (w.scale_to_zero_delay.value, w.traffic_history.value) == (3600, 600)
    assert w.scheduling.value == "PERFORMANCE"
    w.model_field.value = "llama"
    assert w.deployment_id.value == "deploy-llama"  # suggested until the user types one
    dep_id = uid("dep")
    fill_deployment(w, "llama", dep_id)
    # me/main/llama is no model of the catalog: said under the version, deployable unpinned
    assert w.version.options == (("Newest version (not pinned)", ""),)
    assert "No model 'llama' in app 'main' of 'me' was found" in w.version_status.text
    w.min_replicas.value, w.max_replicas.value = 1, 3
    w.scheduling.value = "PREFER_SPOT"
    assert not w.action.disabled, w.problems
    w.click()
    assert w.status.kind == "ok" and w.status.text.startswith(f"Created deployment {dep_id}")
    got = client.get_deployment(dep_id)
    assert got.worker.model.id == "llama" and got.worker.model.app_id == "main"
    assert got.worker.model.model_version is None
    assert (got.autoscale_config.min_replicas, got.autoscale_config.max_replicas) == (1, 3)
    assert got.autoscale_config.scale_to_zero_delay_seconds == 3600
    assert got.scheduling_choice == m.SchedulingChoice.PREFER_SPOT
    pools = got.nodepools or got.deployment_nodepools
    assert [(p.id, p.compute_cluster.id) for p in pools] == [(np.id, cc.id)]
    command = (
        f"%compute deployments create {np.id} {dep_id} --cluster {cc.id} --model me/main/llama"
    )
    assert command + " --min-replicas 1 --max-replicas 3" in w.result.value


def test_second_deployment_of_a_model_on_a_nodepool_is_refused_in_the_status_line(client, uid):
    cc, np = make_nodepool(client, uid)
    first = DeploymentWizard((cc.id, np.id), client)
    fill_deployment(first, "same-model", uid("dep"))
    first.click()
    assert first.created is not None
    second = DeploymentWizard(cluster_id=cc.id, nodepool_id=np.id, client=client)
    assert (second.cluster_id, second.nodepool_id) == (cc.id, np.id)
    dep2 = uid("dep")
    fill_deployment(second, "same-model", dep2)
    second.click()
    assert second.status.kind == "error" and "\n" not in second.status.text
    assert second.deployment_id.value == dep2 and second.model_field.value == "same-model"
    assert not second.action.disabled
    with pytest.raises(Exception):  # noqa: B017 - the server's not-found error, whatever its class
        client.get_deployment(dep2)


def test_deployment_wizard_invalid_autoscale_disables(client, uid):
    cc, np = make_nodepool(client, uid)
    w = DeploymentWizard(np, client)
    fill_deployment(w, "m1", uid("dep"))
    assert not w.action.disabled
    w.scale_to_zero_delay.value = 10  # below the scale-down delay: the model's rule
    assert w.action.disabled and w.autoscale_msg.value
    w.scale_to_zero_delay.value = 3600
    w.max_replicas.value = 0
    assert w.action.disabled
    w.max_replicas.value = 2
    assert not w.action.disabled


def test_mimebundle_without_widget_frontends(client, uid):
    cc = make_cluster(client, uid)
    w = NodepoolWizard(cc, client)
    bundle = w._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert cc.id in bundle["text/plain"] and cc.id in bundle["text/html"]
    assert len(repr(w)) < 400  # not the ipywidgets default dump of every child


async def test_async_cluster_wizard_waits_for_the_nodepool_step(client, uid):
    w = ClusterWizard(client)
    await w.wait()
    cc_id = uid("cc")
    w.cluster_id.value = cc_id
    w.click()
    w.click()  # double click while the create is in flight
    assert w.action.disabled and w.provider.disabled
    await w.wait()  # the create, then the nodepool step's catalog load
    assert w.step == 1 and w.nodepool_wizard is not None
    assert w.nodepool_wizard.types and w.nodepool_wizard.status.kind == "ok"
    assert [c.id for c in client.list_clusters()].count(cc_id) == 1


# --- DeploymentWizard: the model picker (issue 13 #9) -----------------------------------------


def result_labels(w: DeploymentWizard) -> list[str]:
    return [label for label, _key in w.model_results.options]


def test_deployment_wizard_picks_a_model_from_the_catalog(client, uid):
    cc, np = make_nodepool(client, uid)
    w = DeploymentWizard(np, client)
    w.model_search.value = "llama"
    assert [label.split(" — ")[0] for label in result_labels(w)] == [
        "meta / Llama-3 / Llama-3_2-3B-Instruct",
        "meta / Llama-3 / llama-3_1-8b-instruct",
        "meta / Llama-2 / llama2-7b-chat",
        "meta / Llama-2 / llama2-13b-chat",
    ]
    assert result_labels(w)[2] == "meta / Llama-2 / llama2-7b-chat — Meta's Llama 2 7B fine-tuned for dialogue."
    assert w.search_status.text == "4 models match 'llama': choose one"
    assert w.model_results.value is None and w.action.disabled  # nothing chosen yet

    w.model_results.value = "meta/Llama-3/llama-3_1-8b-instruct"  # a click on the second row
    versions = client.list_model_versions("llama-3_1-8b-instruct", "meta", "Llama-3")
    assert len(versions) == 2
    assert [value for _label, value in w.version.options] == [v.id for v in versions]
    assert w.version.options[0][0].startswith(
        versions[0].created_at.strftime("%Y-%m-%d")
    ) and w.version.options[0][0].endswith("(newest) — Served with vLLM; longer default context.")
    assert w.version.value == versions[0].id  # the newest is preselected
    assert (w.user_id.value, w.app_id.value, w.model_field.value) == (
        "meta",
        "Llama-3",
        "llama-3_1-8b-instruct",
    )
    w.version.value = versions[1].id  # the older version, on purpose
    dep_id = uid("dep")
    w.deployment_id.value = dep_id
    assert not w.action.disabled, w.problems
    w.click()
    assert w.status.kind == "ok", w.status.text

    got = client.get_deployment(dep_id).worker.model  # read back from the server
    assert (got.user_id, got.app_id, got.id, got.model_version.id) == (
        "meta",
        "Llama-3",
        "llama-3_1-8b-instruct",
        versions[1].id,
    )
    assert "Best performance (Clarifai's default)" in html.unescape(w.result.value)
    assert f"meta/Llama-3/llama-3_1-8b-instruct/{versions[1].id}" in w.result.value


def test_search_that_matches_nothing_says_so_and_typing_again_lists_again(client, uid):
    w = DeploymentWizard((uid("cc"), uid("np")), client)
    w.model_search.value = "no-such-model"
    assert w.model_results.options == ()
    assert w.search_status.text.startswith("No model matches 'no-such-model'")
    w.model_search.value = "whisper"
    assert result_labels(w) == [
        "openai / whisper / whisper-large-v3 — OpenAI's Whisper large-v3 speech recognition and translation."
    ]


def test_typing_the_model_by_hand_finds_its_versions_and_drops_the_list_choice(client, uid):
    w = DeploymentWizard((uid("cc"), uid("np")), client)
    w.model_search.value = "face"
    w.model_results.value = "clarifai/main/face-detection"
    assert w.chosen is not None and len(w.version.options) == 2
    w.model_field.value = "general-image-recognition"  # same owner and app, another model
    assert w.chosen is None and w.model_results.value is None
    assert [value for _label, value in w.version.options] == ["aa7f35c01e0642fda5cf400f543e7c40"]
    w.model_field.value = ""
    assert w.version.options == (("Newest version (not pinned)", ""),) and w.action.disabled


def test_scheduling_offers_words_and_no_fail(client, uid):
    w = DeploymentWizard((uid("cc"), uid("np")), client)
    labels = dict((value, label) for label, value in w.scheduling.options)
    assert labels["PERFORMANCE"] == "Best performance (Clarifai's default)"
    assert labels["PREFER_SPOT"].startswith("Prefer spot")
    assert "FAIL" not in labels and "UNKNOWN_SCHEDULING_CHOICE" not in labels
    assert all(label != value and "_" not in label for value, label in labels.items())


def test_the_cards_command_recreates_the_same_worker(ip, client, uid):
    """The result card's `%compute deployments create` line deploys the same model version."""
    cc, np = make_nodepool(client, uid)
    w = DeploymentWizard(np, client)
    w.model_search.value = "mistral"
    w.model_results.value = "mistralai/completion/mistral-7B-Instruct"
    w.version.value = w.version.options[1][1]
    w.deployment_id.value = dep_id = uid("dep")
    w.click()
    first = client.get_deployment(dep_id).worker.model
    command = re.search(r"%compute deployments create [^<\n]+", w.result.value).group(0)
    client.delete_deployment(dep_id)
    ip.run_line_magic("compute", html.unescape(command).removeprefix("%compute "))
    again = client.get_deployment(dep_id).worker.model
    assert again == first and again.model_version.id == w.version.options[1][1]


async def test_async_search_follows_the_last_text_typed(client, uid):
    """In a kernel the search runs as a task; keys typed meanwhile are searched once it ends."""
    w = DeploymentWizard((uid("cc"), uid("np")), client)
    await w.wait()
    w.model_search.value = "l"
    w.model_search.value = "ll"
    w.model_search.value = "llama 3.2"  # typed while the first search is in flight
    await w.wait()
    assert [key for _label, key in w.model_results.options] == ["meta/Llama-3/Llama-3_2-3B-Instruct"]
    w.model_results.value = "meta/Llama-3/Llama-3_2-3B-Instruct"
    await w.wait()
    assert len(w.version.options) == 1 and w.version.value
