"""Planner (what-if) against the real local control plane and the real simulator."""

from __future__ import annotations

import pytest

pytest.importorskip("ipywidgets")

from compute_widgets.api import models as m  # noqa: E402
from compute_widgets.widgets import Planner  # noqa: E402


@pytest.fixture
def pool(client, uid):
    cc = client.create_cluster(
        m.ComputeCluster(id=uid("cc"), cloud_provider=m.CloudProvider(id="aws"), region="us-east-1")
    )
    np = client.create_nodepool(
        cc.id,
        m.Nodepool(
            id=uid("np"),
            instance_types=[m.InstanceType(id="g5.xlarge")],
            node_capacity_type=m.NodeCapacityType(capacity_types=[m.CapacityType.ON_DEMAND_TYPE]),
            min_instances=1,
            max_instances=2,
        ),
    )
    return cc, np


def test_planner_compares_current_and_proposed(client, pool):
    cc, np = pool
    p = Planner(np, client, duration="1d")
    assert p.status.kind == "ok", p.status.text
    assert (p.instance_type.value, p.min_nodes.value, p.max_nodes.value, p.spot.value) == (
        "g5.xlarge",
        1,
        2,
        False,
    )
    p.min_nodes.value = 0
    p.max_nodes.value = 4
    p.spot.value = True
    assert not p.action.disabled
    p.click()
    assert p.status.kind == "ok", p.status.text
    assert p.status.text.startswith("Simulated 1 day")
    assert list(p.kpis.columns[:2]) == ["current", "proposed"]
    assert "cost_per_week" in p.kpis.index
    assert p.current.pool.max_nodes == 2 and p.proposed.pool.max_nodes == 4 and p.proposed.pool.spot
    assert "cw-kpi-table" in p.kpi_table.value
    assert (
        len(p.chart.outputs) == 1 and "application/vnd.plotly.v1+json" in p.chart.outputs[0]["data"]
    )
    # nothing was saved
    assert client.get_nodepool(cc.id, np.id).max_instances == 2


def test_planner_invalid_proposal_disables(client, pool):
    cc, np = pool
    p = Planner((cc.id, np.id), client, duration="1d")
    p.max_nodes.value = 0
    assert p.action.disabled and p.msg.value
    assert p.simulate() is None and p.kpis is None


def test_planner_picks_a_nodepool(client, pool):
    cc, np = pool
    p = Planner(client=client, duration="1d")
    key = f"{cc.id}/{np.id}"
    assert key in [v for _l, v in p.pool_picker.options]
    assert p.action.disabled
    p.pool_picker.value = key
    assert p.nodepool.id == np.id and not p.action.disabled


async def test_planner_runs_in_a_task(client, pool):
    cc, np = pool
    p = Planner(f"{cc.id}/{np.id}", client, duration="1d")
    await p.wait()
    p.max_nodes.value = 3
    task = p.simulate()
    assert task is not None and p.action.disabled and p.status.kind == "busy"
    await p.wait()
    assert p.status.kind == "ok", p.status.text
    assert p.kpis is not None


def test_planner_and_plan_magic_give_the_same_kpis(client, uid):
    """One what-if rule (sim.what_if): the Planner and `%compute plan` simulate the same pool
    (a GCP spot pool with a deployment: the cluster's cloud decides the spot notice) alike."""
    import pandas as pd
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    cc = client.create_cluster(
        m.ComputeCluster(id=uid("cc"), cloud_provider=m.CloudProvider(id="gcp"), region="us-east4")
    )
    np = client.create_nodepool(
        cc.id,
        m.Nodepool(
            id=uid("np"),
            instance_types=[m.InstanceType(id="n2-standard-4")],
            node_capacity_type=m.NodeCapacityType(capacity_types=[m.CapacityType.ON_DEMAND_TYPE]),
            min_instances=1,
            max_instances=2,
        ),
    )
    client.create_deployment(
        m.Deployment(
            id=uid("dp"),
            worker=m.Worker(model=m.ModelRef(id="bge-small", user_id="baai", app_id="embeddings")),
            nodepools=[m.Nodepool(id=np.id, compute_cluster=m.ComputeCluster(id=cc.id, user_id="me"))],
            autoscale_config=m.AutoscaleConfig(min_replicas=1, max_replicas=6),
        )
    )
    p = Planner(np, client, duration="1d", seed=3)
    p.max_nodes.value = 4
    p.spot.value = True
    p.click()
    assert p.status.kind == "ok", p.status.text
    assert p.proposed.pool.cloud == "gcp" and p.proposed.pool.spot_notice_s == 30.0

    c = Config()
    c.HistoryAccessor.enabled = False
    ip = InteractiveShell.instance(config=c)
    try:
        ip.extension_manager.load_extension("compute_widgets")
        ip.magics_manager.registry["ComputeMagics"].client = client
        ip.magics_manager.registry["ComputeMagics"].show_progress = False
        table = ip.run_line_magic("compute", f"plan {cc.id} {np.id} --max 4 --spot --duration 1d --seed 3")
    finally:
        ip.extension_manager.unload_extension("compute_widgets")
        InteractiveShell.clear_instance()
    cols = ["current", "proposed"]
    widget, magic = pd.DataFrame(p.kpis)[cols], pd.DataFrame(table)[cols]
    assert widget.loc["cost_per_week", "proposed"] != widget.loc["cost_per_week", "current"]
    pd.testing.assert_frame_equal(widget, magic)
