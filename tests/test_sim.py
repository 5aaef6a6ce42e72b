"""The simulator: fast kernel vs plain-Python twin, invariants, cloud behaviours, determinism."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from compute_widgets.sim import (
    DeploymentSpec,
    PoolRunner,
    PoolSpec,
    SimResult,
    Workload,
    compare,
    simulate,
    simulate_batch,
)

START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
HOUR, DAY = 3600, 86400  # the simulator takes seconds


def gpu_pool(**kw) -> PoolSpec:
    base = dict(instance_id="g5.xlarge", vcpu=4, memory_gib=16, gpus=1, gpu_memory_gib=22.4,
                price_od=1.006, price_spot=0.44, min_nodes=1, max_nodes=8, spot=True, cloud="aws")  # fmt: skip
    base.update(kw)
    return PoolSpec(**base)


def step_trace(levels: list[tuple[float, float]]) -> pd.Series:
    """[(seconds_from_start, rps), ...] -> a trace Series (numeric index = seconds)."""
    return pd.Series([v for _, v in levels], index=[t for t, _ in levels], dtype="float64")


def stressed() -> PoolSpec:
    return gpu_pool(spot_hazard_per_hour=0.5, p_spot_ice=0.3, p_launch_fail=0.2, min_nodes=0)


# ---- fast vs reference ---------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 7])
def test_fast_kernel_agrees_with_plain_python_twin(seed):
    deps = [DeploymentSpec(max_replicas=8, scale_up_delay_s=30, scale_down_delay_s=60, scale_to_zero_delay_s=600),
            DeploymentSpec(max_replicas=3, disable_packing=True, workload=Workload(base_rps=0.5))]  # fmt: skip
    fast = simulate(stressed(), deps, duration=4 * HOUR, seed=seed, start=START)
    ref = simulate(stressed(), deps, duration=4 * HOUR, seed=seed, start=START, reference=True)
    assert len(fast.events) > 5  # the run exercised events
    np.testing.assert_array_equal(fast.raw, ref.raw)
    pd.testing.assert_frame_equal(fast.events, ref.events)


def test_reference_agrees_with_a_trace_and_record_every():
    trace = step_trace([(0, 0.0), (1800, 6.0), (5400, 0.5)])
    kw = dict(duration=3 * HOUR, seed=3, start=START, record_every=6, workload=Workload(trace=trace))
    fast = simulate(gpu_pool(min_nodes=0), **kw)
    ref = simulate(gpu_pool(min_nodes=0), reference=True, **kw)
    np.testing.assert_array_equal(fast.raw, ref.raw)


# ---- invariants ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def week() -> SimResult:
    return simulate(stressed().with_(max_nodes=6), [DeploymentSpec(max_replicas=10)], duration=7 * DAY, seed=1, start=START)


def test_requests_are_conserved(week):
    h = week.history
    arrived = h["requests"].cumsum().to_numpy()
    served = h["served"].cumsum().to_numpy()
    np.testing.assert_allclose(arrived, served + h["queue"].to_numpy(), rtol=1e-6, atol=1e-3)
    assert week.kpis["requests"] > 0 and week.kpis["served"] > 0


def test_nodes_stay_within_min_and_max(week):
    h = week.history
    assert (h["nodes"] <= h["max_nodes"]).all()
    assert (h["nodes"] >= h["min_nodes"]).all()
    assert h["nodes"].max() == 6  # the bound is reached under this load
    pool = gpu_pool(min_nodes=2, max_nodes=3, spot_hazard_per_hour=0.5, p_launch_fail=0.3)
    h2 = simulate(pool, [DeploymentSpec(max_replicas=10)], duration=2 * DAY, seed=2, start=START).history
    after_boot = h2.iloc[1:]
    assert after_boot["nodes"].between(2, 3).all()


def test_cost_is_node_seconds_times_price_booting_included(week):
    h, pool = week.history, week.pool
    dt = week.step
    spot_s = (h["nodes_ready_spot"] + h["nodes_pending_spot"] + h["nodes_draining_spot"]).sum() * dt
    od_s = (h["nodes_ready_od"] + h["nodes_pending_od"]).sum() * dt
    expected = (spot_s * pool.price_spot + od_s * pool.price_od) / 3600
    assert h["cost_cum"].iloc[-1] == pytest.approx(expected, rel=1e-9)
    assert week.kpis["cost_per_week"] == pytest.approx(expected, rel=1e-9)
    assert (h["nodes_pending_spot"] + h["nodes_pending_od"]).sum() > 0  # booting nodes were paid for


# ---- cloud behaviours ----------------------------------------------------------------------


def test_preemption_triggers_a_replacement_launch(week):
    ev = week.events
    pre = ev[ev.kind == "preemption"]
    assert len(pre) >= 3
    for _, row in pre.iterrows():
        same = ev[(ev.timestamp == row.timestamp) & (ev.kind == "scale_up")]
        assert (same.reason == "replacing preempted spot nodes").any()
        assert same[same.reason == "replacing preempted spot nodes"]["count"].sum() == row["count"]
        assert row.capacity_type == "spot"


def test_spot_shortage_falls_back_to_on_demand_and_returns_after_the_skip_window():
    pool = gpu_pool(p_spot_ice=0.5, spot_hazard_per_hour=0.0, p_launch_fail=0.0, min_nodes=2, ice_ttl_s=180)
    for seed in range(50):
        res = simulate(pool, [], duration=2 * HOUR, seed=seed, start=START)
        ev = res.events
        if (ev.kind == "spot_return").any() and (ev.kind == "spot_fallback").any():
            break
    else:
        pytest.fail("no seed produced an ICE fallback and a return")
    fb = ev[ev.kind == "spot_fallback"].iloc[0]
    launch = ev[(ev.timestamp == fb.timestamp) & (ev.kind == "scale_up")].iloc[0]
    assert launch.capacity_type == "on_demand"
    back = ev[(ev.kind == "spot_return") & (ev.timestamp > fb.timestamp)].iloc[0]
    assert back.timestamp - fb.timestamp >= timedelta(seconds=180)
    # inside the skip window nothing is launched on spot
    window = ev[(ev.timestamp > fb.timestamp) & (ev.timestamp < fb.timestamp + timedelta(seconds=180))]
    assert not ((window.kind == "scale_up") & (window.capacity_type == "spot")).any()
    # once the spot nodes are up, the fallback on-demand nodes are retired
    retire = ev[(ev.kind == "scale_down") & (ev.capacity_type == "on_demand") & (ev.timestamp > back.timestamp)]
    assert len(retire) and retire.iloc[0]["count"] == back["count"]
    h = res.history
    assert h["nodes_ready_od"].iloc[-1] == 0 and h["nodes_ready_spot"].iloc[-1] == 2


def test_min_zero_pool_cold_starts_when_traffic_arrives():
    trace = step_trace([(0, 0.0), (3600, 2.0)])
    res = simulate(gpu_pool(min_nodes=0, spot=False), workload=Workload(trace=trace, poisson=False),
                   duration=2 * HOUR, seed=0, start=START)  # fmt: skip
    h, ev = res.history, res.events
    assert (h.loc[: START + timedelta(seconds=3590), "nodes"] == 0).all()
    cold = ev[ev.kind == "cold_start"]
    assert len(cold) == 1 and cold.iloc[0].timestamp == START + timedelta(seconds=3600)
    # requests wait for the node to boot: latency shows the provisioning delay
    assert h["latency_s"].max() >= res.pool.provisioning_delay_s
    assert h["nodes_ready_od"].iloc[-1] >= 1 and h["queue"].iloc[-1] < 50


@pytest.mark.parametrize("delay", [120, 900])
def test_scale_down_waits_for_its_delay(delay):
    trace = step_trace([(0, 8.0), (7200, 0.5)])
    dep = DeploymentSpec(max_replicas=8, scale_down_delay_s=delay, scale_to_zero_delay_s=delay)
    pool = gpu_pool(spot=False, p_launch_fail=0.0, min_nodes=1)
    res = simulate(pool, [dep], workload=Workload(trace=trace, poisson=False), duration=4 * HOUR, seed=0, start=START)
    drop = START + timedelta(seconds=7200)
    d = res.deployments["deployment"]
    replicas_before = d.loc[drop - timedelta(seconds=10), "target_replicas"]
    assert replicas_before > 2
    lowered = d[(d.index > drop) & (d["target_replicas"] < replicas_before)].index[0]
    # the first low step counts as one step of the delay
    assert lowered - drop >= timedelta(seconds=delay - res.step)
    assert lowered - drop <= timedelta(seconds=delay + 120)
    down = res.events[(res.events.kind == "scale_down") & (res.events.timestamp > drop)].iloc[0]
    assert down.timestamp - lowered >= timedelta(seconds=pool.scale_down_unneeded_s - res.step)


# ---- determinism, resumability, API ---------------------------------------------------------


def test_same_seed_same_series_other_seed_differs():
    a = simulate(stressed(), [DeploymentSpec()], duration=1 * DAY, seed=5, start=START)
    b = simulate(stressed(), [DeploymentSpec()], duration=1 * DAY, seed=5, start=START)
    c = simulate(stressed(), [DeploymentSpec()], duration=1 * DAY, seed=6, start=START)
    pd.testing.assert_frame_equal(a.history, b.history)
    pd.testing.assert_frame_equal(a.events, b.events)
    assert not a.history["requests"].equals(c.history["requests"])


def test_runner_resumes_exactly_and_a_patch_changes_only_the_future():
    deps = [DeploymentSpec(max_replicas=8)]
    one = PoolRunner(stressed(), deps, origin=START, seed=4, record_every=6)
    rec1, ev1 = one.advance(6 * 600)
    chunked = PoolRunner(stressed(), deps, origin=START, seed=4, record_every=6)
    parts = [chunked.advance(6 * n) for n in (1, 99, 250, 250)]
    np.testing.assert_array_equal(rec1, np.concatenate([p[0] for p in parts]))
    np.testing.assert_array_equal(ev1, np.concatenate([p[1] for p in parts]))
    patched = PoolRunner(stressed(), deps, origin=START, seed=4, record_every=6)
    before, _ = patched.advance(6 * 300)
    patched.set_pool(stressed().with_(max_nodes=1))
    after, _ = patched.advance(6 * 300)
    np.testing.assert_array_equal(before, rec1[:300])
    nodes = after[:, 0] + after[:, 1] + after[:, 2] + after[:, 3]
    assert nodes.max() <= 1 and not np.array_equal(after, rec1[300:])


def test_batch_matches_single_runs():
    pools = [stressed(), gpu_pool(spot=False)]
    deps = [[DeploymentSpec()], [DeploymentSpec(max_replicas=2)]]
    batch = simulate_batch(pools, deps, duration=6 * HOUR, seed=10, start=START, record_every=6)
    for i in range(2):
        single = simulate(pools[i], deps[i], duration=6 * HOUR, seed=10 + i, start=START, record_every=6)
        np.testing.assert_array_equal(batch.records[i], single.raw)


def test_from_wire_and_compare():
    nodepool = {"id": "np", "minInstances": 0, "max_instances": 4,
                "node_capacity_type": {"capacity_types": ["SPOT_TYPE", 1]},
                "compute_cluster": {"cloud_provider": {"id": "gcp"}},
                "metadata": {"sim": {"spot_hazard_per_hour": 0.02}}}  # fmt: skip
    instance = {"id": "g2-standard-4", "price": "25.0",
                "compute_info": {"cpu_limit": "3535m", "cpu_memory": "13878Mi", "num_accelerators": 1,
                                 "accelerator_memory": "22888Mi"}}  # fmt: skip
    pool = PoolSpec.from_wire(nodepool, instance)
    assert (pool.min_nodes, pool.max_nodes, pool.spot, pool.gpu, pool.gpus) == (0, 4, True, True, 1)
    assert pool.vcpu == pytest.approx(3.535) and pool.memory_gib == pytest.approx(13878 / 1024)
    assert pool.price_od == pytest.approx(0.9) and pool.spot_notice_s == 30
    assert pool.spot_hazard_per_hour == 0.02 and pool.price_spot < pool.price_od
    dep = DeploymentSpec.from_wire({
        "id": "d1", "worker": {"model": {"id": "llama"}},
        "autoscaleConfig": {"minReplicas": 1, "max_replicas": 3, "scale_down_delay_seconds": 60,
                            "disable_packing": True},
        "metadata": {"workload": {"base_rps": 1.5, "weekend_factor": 0.3}},
    })  # fmt: skip
    assert (dep.min_replicas, dep.max_replicas, dep.scale_down_delay_s, dep.disable_packing) == (1, 3, 60, True)
    assert dep.workload.base_rps == 1.5 and dep.workload.weekend_factor == 0.3 and dep.model_id == "llama"
    a = simulate(pool, [dep], duration=1 * DAY, start=START)
    b = simulate(pool.with_(spot=False), [dep], duration=1 * DAY, start=START)
    table = compare(a, b, names=("spot", "od"))
    assert list(table.columns[:2]) == ["spot", "od"]
    assert table.loc["spot_share", "od"] == 0 and table.loc["spot_share", "spot"] > 0.5
    assert table.loc["cost_per_week", "od"] > table.loc["cost_per_week", "spot"]
    assert list(a.events.columns) == ["timestamp", "kind", "count", "capacity_type", "reason", "message"]
    assert a.history.index.name == "timestamp" and str(a.history.index.tz) == "UTC"


# ---- the public runner API (what the local control plane uses) ------------------------------


def test_runner_records_by_name_match_the_history_frame():
    from compute_widgets.sim import DEPLOYMENT_COLUMNS, POOL_RECORD_COLUMNS

    deps = [DeploymentSpec(max_replicas=8, name="a"), DeploymentSpec(max_replicas=3, name="b")]
    res = simulate(stressed(), deps, duration=6 * HOUR, seed=3, start=START, record_every=6)
    runner = PoolRunner(stressed(), deps, origin=START, seed=3, record_every=6)
    rec, ev = runner.advance(6 * len(res.history))
    pool = runner.pool_records(rec)
    assert pool.shape[1] == len(POOL_RECORD_COLUMNS)
    for i, name in enumerate(POOL_RECORD_COLUMNS):
        np.testing.assert_array_equal(pool[:, i].astype(np.float64), res.history[name].to_numpy(), err_msg=name)
    for slot, name in enumerate(("a", "b")):
        block = runner.deployment_records(rec, slot)
        for j, col in enumerate(DEPLOYMENT_COLUMNS):
            np.testing.assert_array_equal(block[:, j].astype(np.float64), res.deployments[name][col].to_numpy())
    last = res.history.iloc[-1]
    counts = runner.node_counts()
    assert (counts.ready_spot, counts.ready_od, counts.pending_spot, counts.pending_od) == tuple(
        int(last[c]) for c in ("nodes_ready_spot", "nodes_ready_od", "nodes_pending_spot", "nodes_pending_od")
    )
    assert counts.total == int(last["nodes"]) and counts.ever_ready


def test_a_deactivated_deployment_takes_no_traffic():
    deps = [DeploymentSpec(max_replicas=8), DeploymentSpec(max_replicas=8)]
    runner = PoolRunner(gpu_pool(), deps, origin=START, seed=1, record_every=6)
    runner.advance(6 * 60)
    runner.deactivate(1)
    assert runner.is_active(0) and not runner.is_active(1)
    rec, _ = runner.advance(6 * 60)
    assert runner.deployment_records(rec, 1)[:, 0].sum() == 0  # requests
    assert runner.deployment_records(rec, 0)[:, 0].sum() > 0


def test_warm_up_ready_while_another_thread_imports_the_simulator():
    """compute_widgets._warm.ready() asked while another thread is still importing the
    simulator (connect()'s warm-up thread vs. a cell) waits for the import instead of reading
    the half-initialised module (AttributeError: partially initialized module ...)."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(
        """
        import importlib.abc, importlib.machinery, json, sys, threading
        entered, release = threading.Event(), threading.Event()

        class Slow(importlib.abc.MetaPathFinder):
            # the kernel's import stops half-way (module in sys.modules, no run_serial yet)
            def find_spec(self, name, path, target=None):
                if name != "compute_widgets.sim._kernel":
                    return None
                spec = importlib.machinery.PathFinder.find_spec(name, path)
                real = spec.loader.exec_module
                def exec_module(module):
                    entered.set()
                    release.wait()
                    real(module)
                spec.loader.exec_module = exec_module
                return spec

        sys.meta_path.insert(0, Slow())
        from compute_widgets import _warm
        importer = threading.Thread(target=lambda: importlib.import_module("compute_widgets.sim"))
        importer.start()
        entered.wait()
        got = {}
        def ask():
            try:
                got["ready"] = _warm.ready()
            except Exception as e:
                got["error"] = f"{type(e).__name__}: {e}"
        asker = threading.Thread(target=ask)
        asker.start()
        release.set()
        importer.join(); asker.join()
        from compute_widgets import sim
        sim.warm_up()
        got["after"] = _warm.ready()
        print(json.dumps(got))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    got = __import__("json").loads(out.stdout.strip().splitlines()[-1])
    assert "error" not in got, got["error"]
    assert got["ready"] is False and got["after"] is True  # nothing had run the kernel before


def test_pool_spec_from_reads_the_cloud_from_the_cluster():
    """The one nodepool -> PoolSpec rule: the cluster's cloud decides the spot notice, also
    when the instance type does not say its cloud (the magic used to pass no cluster)."""
    from compute_widgets.sim import pool_spec_from

    nodepool = {"id": "np", "instanceTypes": [{"id": "n2-standard-4"}], "minInstances": 1, "maxInstances": 4,
                "nodeCapacityType": {"capacityTypes": ["SPOT_TYPE", "ON_DEMAND_TYPE"]}}  # fmt: skip
    instance = {"id": "n2-standard-4", "price": "8.000000", "computeInfo": {"cpuLimit": "3400m", "cpuMemory": "12Gi"}}
    gcp = {"id": "cc", "cloudProvider": {"id": "gcp"}}
    spec = pool_spec_from(nodepool, instance, cluster=gcp)
    assert (spec.cloud, spec.spot_notice_s, spec.spot, spec.min_nodes, spec.max_nodes) == ("gcp", 30.0, True, 1, 4)
    assert (spec.vcpu, spec.memory_gib, spec.price_od) == (3.4, 12.0, pytest.approx(0.288))
    assert pool_spec_from(nodepool, instance).cloud == "aws"  # no cluster: nothing says gcp
    assert pool_spec_from(nodepool, instance, cluster=gcp, max_nodes=2).max_nodes == 2


def test_small_runs_use_the_twin_while_another_thread_compiles():
    """First use: while warm_up() compiles in one thread, a small run of another thread takes the
    plain-Python twin (same numbers) instead of waiting; without a compile under way, or over
    the budget, the compiled kernel runs. A fresh process: nothing compiled or loaded yet."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(
        """
        import threading
        import numpy as np
        from compute_widgets.sim import _kernel as K, _run as R
        from compute_widgets.sim import DeploymentSpec, PoolRunner, PoolSpec

        calls = []
        real = K.reference_run
        K.reference_run = lambda *a: (calls.append(1), real(*a))
        pool = PoolSpec(instance_id="x", gpus=1, gpu_memory_gib=24.0, spot=True, max_nodes=3)

        def run(n):
            return PoolRunner(pool, [DeploymentSpec()], origin=0.0, step=10.0, record_every=6).advance(n)

        R._compiling_in = threading.get_ident() + 1  # a compile under way in another thread
        assert not K.run_serial.signatures
        twin_rec, twin_ev = run(360)
        assert calls == [1], calls
        big = R.TWIN_BUDGET + 6 - R.TWIN_BUDGET % 6
        run(big)  # over the budget: waits for (here: does) the compile
        assert calls == [1] and K.run_serial.signatures
        R._compiling_in = None
        fast_rec, fast_ev = run(360)
        assert calls == [1]
        np.testing.assert_array_equal(twin_rec, fast_rec)
        np.testing.assert_array_equal(twin_ev, fast_ev)
        print("ok")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert out.stdout.strip() == "ok", out.stderr[-2000:]
