"""One rule, one home (issue 14): the same request through every door stores the same thing.

The spot -> capacity-types rule lives in ``NodeCapacityType.for_choice``; `%compute np create`
and the NodepoolWizard both call it. Before, the magic ignored whether the instance type offers
on-demand: on a spot-only type it sent on-demand (or spot + on-demand fallback) and the server
refused what the wizard created.
"""

from __future__ import annotations

import pytest

pytest.importorskip("ipywidgets")


from compute_widgets.api import models as models  # noqa: E402
from compute_widgets.widgets import NodepoolWizard  # noqa: E402

SPOT, OD = models.CapacityType.SPOT_TYPE, models.CapacityType.ON_DEMAND_TYPE


def _stored(client, cc: str, np_id: str) -> tuple:
    got = client.get_nodepool(cc, np_id)
    return (
        got.instance_type_id,
        [int(c) for c in got.node_capacity_type.capacity_types],
        got.min_instances,
        got.max_instances,
    )


def _by_wizard(client, cc, np_id: str, type_id: str, spot: bool) -> None:
    w = NodepoolWizard(cc, client=client)
    w.kind_filter.value = "All"
    w.accelerator_filter.value = "Any"
    w.gpu_memory_filter.value = 0
    w.instance_type.value = type_id
    w.nodepool_id.value = np_id
    w.max_nodes.value = 2
    if not w.spot.disabled:  # a type with one capacity type sets (and locks) the toggle itself
        w.spot.value = spot
    w.click()
    assert w.status.kind == "ok", w.status.text


@pytest.mark.parametrize(
    ("provider", "region", "type_id", "flag", "spot", "expected"),
    [
        ("gcp", "us-east4", "a3-highgpu-1g", "", False, [SPOT]),  # spot-only type
        ("gcp", "us-east4", "a3-highgpu-1g", "--spot", True, [SPOT]),  # ... no on-demand fallback
        ("gcp", "us-east4", "g2-standard-4", "--spot", True, [SPOT, OD]),
        ("gcp", "us-east4", "g2-standard-4", "", False, [OD]),
        ("aws", "us-east-1", "g5.xlarge", "--spot", True, [SPOT, OD]),
    ],
)
def test_magic_and_wizard_store_the_same_nodepool(
    ip, client, uid, provider, region, type_id, flag, spot, expected
):
    cc = client.create_cluster(
        models.ComputeCluster(
            id=uid("cc"), cloud_provider=models.CloudProvider(id=provider), region=region
        )
    )
    by_magic, by_wizard = uid("np"), uid("np")
    ip.run_line_magic(
        "compute", f"np create {cc.id} {by_magic} --instance {type_id} --min 0 --max 2 {flag}"
    )
    _by_wizard(client, cc, by_wizard, type_id, spot)
    magic, wizard = _stored(client, cc.id, by_magic), _stored(client, cc.id, by_wizard)
    assert magic == wizard == (type_id, [int(c) for c in expected], 0, 2)


def test_the_rule_reads_what_the_type_allows():
    rule = models.NodeCapacityType.for_choice
    assert rule(False).capacity_types == [OD]
    assert rule(True).capacity_types == [SPOT, OD]
    assert rule(True, spot_only=True).capacity_types == [SPOT]
    assert rule(True, allowed=[2]).capacity_types == [SPOT]
    assert rule(False, allowed=[2]).capacity_types == [SPOT]  # nothing else to choose
    assert rule(False, allowed=[1]).capacity_types == [OD]
    # spot asked of an on-demand-only type is sent as asked: the server's check names the field
    assert rule(True, allowed=[1]).capacity_types == [SPOT, OD]
    assert rule(True, allowed=[]).capacity_types == [SPOT, OD]  # empty: all allowed
