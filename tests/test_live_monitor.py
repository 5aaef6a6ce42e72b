"""live_monitor end to end: the real local control plane, the real async client, a fast clock."""

from __future__ import annotations

import asyncio

from compute_widgets import charts
from compute_widgets.api import models as m
from compute_widgets.api.client import AsyncComputeClient


async def _until(cond, timeout=30.0):
    async def poll():
        while not cond():
            await asyncio.sleep(0.05)

    await asyncio.wait_for(poll(), timeout)


async def test_live_monitor_follows_the_real_control_plane(fresh_server):
    async with AsyncComputeClient(fresh_server.url, fresh_server.token) as client:
        await client.create_cluster(
            m.ComputeCluster(id="live", cloud_provider=m.CloudProvider(id="aws"), region="us-east-1")
        )
        pool = m.Nodepool.from_wire(
            {
                "id": "gpu",
                "instance_types": [{"id": "g5.xlarge"}],
                "node_capacity_type": {"capacity_types": [2, 1]},
                "min_instances": 1,
                "max_instances": 3,
            }
        )
        await client.create_nodepool("live", pool)
        await client.advance_clock(2 * 3600)

        mon = charts.live_monitor(client, "live", "gpu", interval=0.2, window="1h")
        try:
            await _until(lambda: mon.refreshes >= 1)
            assert mon.last_error is None
            # The panel shows the simulated pool: one ready spot node at min 1, under max 3.
            assert mon.history["nodes_ready_spot"].iloc[-1] == 1
            assert mon.history["max_nodes"].iloc[-1] == 3
            names = {t.name for t in mon.figure.data}
            assert {"ready spot", "desired"} <= names
            first_end = mon.history.index[-1]

            # The clock moves on; the next refresh reaches the new "now".
            await client.advance_clock(1800)
            seen = mon.refreshes
            await _until(lambda: mon.refreshes > seen + 1)
            assert mon.history.index[-1] > first_end
        finally:
            mon.stop()
        assert not mon.running
