"""First touches (issue 13 #11): the simulator warms in the background after connect(), and a
first simulation that has to wait for numba's compile says so.

Each check runs in a fresh Python process (a new kernel has not loaded the simulator yet)
against the session's real control plane. No timing is asserted: benchmarks/bench_first_use.py
prints the times.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from compute_widgets import _warm

FRESH_TIMEOUT = 600  # s: a ceiling for a fresh process that may compile numba on a busy machine


def run_fresh(code: str, **env: str) -> dict:
    """Run ``code`` in a new interpreter; it prints one JSON line last, returned here."""
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=FRESH_TIMEOUT,
        env={**os.environ, **env},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1]) | {"stdout": out.stdout}


def test_connect_loads_the_simulator_in_the_background(server):
    got = run_fresh(
        f"""
        import json, sys
        import compute_widgets as cw
        from compute_widgets import _warm
        before = "compute_widgets.sim._kernel" in sys.modules
        client = cw.connect(api_base={server.url!r}, pat={server.token!r})
        thread = _warm._thread
        thread.join({FRESH_TIMEOUT - 60})
        print(json.dumps({{"before": before, "thread": thread.name, "alive": thread.is_alive(),
                          "ready": _warm.ready(), "connect": cw.connect.__name__}}))
        """
    )
    # nothing was simulated by the caller: the thread started by connect() loaded the kernel
    assert got["before"] is False
    assert got["thread"] == "compute-widgets-sim-warm-up" and got["alive"] is False
    assert got["ready"] is True
    assert got["connect"] == "connect"  # still reads as connect (help(), completion)


def test_warm_up_can_be_turned_off(server):
    got = run_fresh(
        f"""
        import json, sys
        import compute_widgets as cw
        from compute_widgets import _warm
        cw.connect(api_base={server.url!r}, pat={server.token!r})
        print(json.dumps({{"thread": _warm._thread is not None,
                          "sim": "compute_widgets.sim._kernel" in sys.modules}}))
        """,
        COMPUTE_WIDGETS_WARM_UP="0",
    )
    assert got == {"thread": False, "sim": False, "stdout": got["stdout"]}


def test_control_plane_reports_its_simulator_warm(client):
    """What the browser and `%compute chart` ask before saying the plane is compiling."""
    _warm._wait_for_server(client, limit=FRESH_TIMEOUT)
    assert _warm.server_warm(client) is True


def test_server_warm_cannot_say_for_a_remote_backend():
    class Remote:
        is_local = False

    assert _warm.server_warm(Remote()) is None


@pytest.fixture
def plan_pool(client, uid):
    from compute_widgets.api import models as m

    cc = client.create_cluster(
        m.ComputeCluster(id=uid("cc"), cloud_provider=m.CloudProvider(id="aws"), region="us-east-1")
    )
    np = client.create_nodepool(
        cc.id,
        m.Nodepool(
            id=uid("np"),
            instance_types=[m.InstanceType(id="g5.xlarge")],
            node_capacity_type=m.NodeCapacityType(capacity_types=[m.CapacityType.ON_DEMAND_TYPE]),
            min_instances=0,
            max_instances=3,
        ),
    )
    return cc.id, np.id


def test_first_plan_says_it_compiles_the_simulator_then_not_again(server, plan_pool):
    cc, np = plan_pool
    got = run_fresh(
        f"""
        import json
        from IPython.core.interactiveshell import InteractiveShell
        from traitlets.config import Config
        import compute_widgets as cw
        c = Config(); c.HistoryAccessor.enabled = False
        ip = InteractiveShell.instance(config=c)
        ip.extension_manager.load_extension("compute_widgets")
        ip.magics_manager.registry["ComputeMagics"].client = cw.connect(
            api_base={server.url!r}, pat={server.token!r})
        print("=== first")
        first = ip.run_line_magic("compute", "plan {cc} {np} --min 1 --duration 1d")
        print("=== second")
        second = ip.run_line_magic("compute", "plan {cc} {np} --min 1 --duration 1d")
        print(json.dumps({{"same": first.equals(second)}}))
        """,
        COMPUTE_WIDGETS_WARM_UP="0",  # nothing loads the simulator before the first plan
    )
    first, second = got["stdout"].split("=== first", 1)[1].split("=== second", 1)
    assert "[1/4] simulating current settings (1 days). Compiling the simulator (first use" in first
    assert "[1/4] simulating current settings (1 days)\n" in second
    assert "Compiling the simulator" not in second
    assert got["same"] is True  # the same inputs and seed: the same KPIs


def test_nodepool_page_draws_its_charts_without_importing_nbformat(fresh_server, uid):
    """The page's figures are the plotly mimetype bundle, built without `pio.renderers`
    (which imports nbformat -> jsonschema: seconds on a first chart); the same bundle."""
    from compute_widgets.api.client import ComputeClient

    with ComputeClient(fresh_server.url, fresh_server.token, user_id="me") as client:
        from compute_widgets.api import models as m

        cc = client.create_cluster(
            m.ComputeCluster(
                id=uid("cc"), cloud_provider=m.CloudProvider(id="aws"), region="us-east-1"
            )
        )
        np = client.create_nodepool(
            cc.id,
            m.Nodepool(
                id=uid("np"),
                instance_types=[m.InstanceType(id="g5.xlarge")],
                node_capacity_type=m.NodeCapacityType(
                    capacity_types=[m.CapacityType.ON_DEMAND_TYPE]
                ),
                min_instances=1,
                max_instances=2,
            ),
        )
        client.advance_clock(3 * 3600)
    got = run_fresh(
        f"""
        import json, sys
        import compute_widgets as cw
        client = cw.connect(api_base={fresh_server.url!r}, pat={fresh_server.token!r})
        b = cw.ComputeBrowser(client, nodepool=({cc.id!r}, {np.id!r}))
        loaded = sorted(m for m in ("nbformat", "jsonschema") if m in sys.modules)
        import plotly.io as pio
        same = [dict(pio.renderers["plotly_mimetype"].to_mimebundle(f.to_dict()),
                     **{{"text/plain": o["data"]["text/plain"]}}) == o["data"]
                for f, o in zip(b.figures.values(), b.charts.outputs)]
        print(json.dumps({{"loaded": loaded, "same": same, "status": b.status.text}}))
        """,
        COMPUTE_WIDGETS_WARM_UP="0",  # no background imports either
    )
    assert got["same"] == [True, True], got["status"]
    assert got["loaded"] == []
