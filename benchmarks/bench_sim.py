"""Simulator benchmarks, printed side by side with their baselines (run: python benchmarks/bench_sim.py).

1. 100 nodepools x 7 days at 10 s steps (60,480 steps each): numba kernel (prange over pools)
   vs the same model in SimPy, run on a subset of pools in the same run and scaled linearly.
   Goals: <= 1 s, >= 20x SimPy.
2. First use in a fresh process, one nodepool-week, import + JIT load from cache included.
   Goal: <= 2 s.
3. PostMetricsQuery for one nodepool, 7 days at 5-minute resolution, once warm: the metrics
   engine called directly, and over HTTP when the local server is available. Goal: <= 50 ms.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from compute_widgets.sim import DeploymentSpec, PoolSpec, Workload, simulate_batch  # noqa: E402

START = datetime(2026, 1, 5, tzinfo=UTC)
WEEK_STEPS = 7 * 86400 // 10


def fleet(n: int = 100) -> tuple[list[PoolSpec], list[list[DeploymentSpec]]]:
    """A mixed fleet: GPU (g5.xlarge, spot on every other) and CPU (n2-standard-4) pools."""
    pools, deps = [], []
    for i in range(n):
        if i % 2 == 0:
            pool = PoolSpec(instance_id="g5.xlarge", vcpu=4, memory_gib=16, gpus=1, gpu_memory_gib=22.35,
                            price_od=1.006, price_spot=0.44, min_nodes=i % 3 % 2, max_nodes=16,
                            spot=i % 4 == 0, cloud="aws", spot_hazard_per_hour=0.01)  # fmt: skip
            d = [DeploymentSpec(max_replicas=16, workload=Workload(base_rps=1.0 + (i % 7) * 0.5))]
        else:
            pool = PoolSpec(instance_id="n2-standard-4", vcpu=4, memory_gib=16, price_od=0.194, price_spot=0.08,
                            min_nodes=1, max_nodes=20, spot=i % 3 == 0, cloud="gcp")  # fmt: skip
            d = [DeploymentSpec(max_replicas=40, workload=Workload(base_rps=20.0 + i)),
                 DeploymentSpec(max_replicas=10, workload=Workload(base_rps=5.0))]  # fmt: skip
        pools.append(pool)
        deps.append(d)
    return pools, deps


def bench_fleet(simpy_pools: int = 3) -> None:
    from simpy_model import run_simpy

    pools, deps = fleet()
    simulate_batch(pools[:2], deps[:2], duration=3600, start=START)  # load the compiled kernel
    times = []
    for _ in range(3):
        t = time.perf_counter()
        batch = simulate_batch(pools, deps, duration=7 * 86400, step=10, start=START, record_every=6)
        times.append(time.perf_counter() - t)
    fast = min(times)
    steps = batch.records.shape[1] * 6
    print(f"fleet: {len(pools)} nodepools x 7 days x 10 s steps = {len(pools) * steps / 1e6:.2f} M pool-steps")
    print(f"  numba kernel, prange on {os.cpu_count()} cores : {fast:7.3f} s  (best of 3: "
          + ", ".join(f"{x:.3f}" for x in times) + ")   goal <= 1 s")  # fmt: skip

    sub_p, sub_d = pools[:simpy_pools], deps[:simpy_pools]
    t = time.perf_counter()
    out, _, _ = run_simpy(sub_p, sub_d, WEEK_STEPS, 10.0, START.timestamp(), seed=0)
    simpy_sub = time.perf_counter() - t
    simpy_all = simpy_sub * len(pools) / simpy_pools
    check = simulate_batch(sub_p, sub_d, duration=7 * 86400, step=10, start=START, record_every=1)
    same = np.array_equal(out, check.records)
    print(f"  SimPy, same model, {simpy_pools} pools measured  : {simpy_sub:7.3f} s -> "
          f"{simpy_all:7.1f} s scaled to {len(pools)} pools (records identical to the kernel: {same})")  # fmt: skip
    print(f"  ratio SimPy / numba                  : {simpy_all / fast:7.1f}x   goal >= 20x")


FIRST_USE = r"""
import time
t0 = time.perf_counter()
from compute_widgets.sim import simulate, PoolSpec, DeploymentSpec
t1 = time.perf_counter()
pool = PoolSpec(instance_id="g5.xlarge", vcpu=4, memory_gib=16, gpus=1, gpu_memory_gib=22.35,
                price_od=1.006, price_spot=0.44, min_nodes=0, max_nodes=8, spot=True)
r = simulate(pool, [DeploymentSpec(max_replicas=8)], duration=7 * 86400, step=10)
t2 = time.perf_counter()
print(f"{t1 - t0:.3f} {t2 - t1:.3f} {len(r.history)}")
"""


def bench_first_use() -> None:
    subprocess.run([sys.executable, "-c", FIRST_USE], check=True, capture_output=True)  # make sure the cache is filled
    t = time.perf_counter()
    res = subprocess.run([sys.executable, "-c", FIRST_USE], check=True, capture_output=True, text=True)
    wall = time.perf_counter() - t
    imp, sim, rows = res.stdout.split()
    print(f"first use in a fresh process, one nodepool-week ({rows} steps):")
    print(f"  import sim {float(imp):.3f} s + simulate (JIT load from cache, pandas, frames) {float(sim):.3f} s"
          f" = {float(imp) + float(sim):.3f} s   goal <= 2 s   (process wall incl. interpreter: {wall:.3f} s)")


def bench_metrics(repeat: int = 20) -> None:
    """PostMetricsQuery, one nodepool, 7 days at 5 min, warm: engine direct and over HTTP."""
    import tempfile
    from datetime import timedelta
    from pathlib import Path

    import httpx

    from compute_widgets.api.models import MetricSearchQuery
    from compute_widgets.local.catalog import Catalog
    from compute_widgets.local.clock import Clock
    from compute_widgets.local.metrics import MetricsEngine, seed_demo
    from compute_widgets.local.runtime import start_server, stop_server
    from compute_widgets.local.store import Store

    tmp = Path(tempfile.mkdtemp(prefix="bench-sim-"))
    store = Store(tmp / "direct.db")
    clock = Clock(store.get_clock_offset())
    seed_demo(store)
    engine = MetricsEngine(store, Catalog.load(), clock)

    def body() -> dict:
        now = clock.now()
        return {"metric_type": "NODEPOOL_NODE_COUNT", "start_time": (now - timedelta(days=7)).isoformat(),
                "end_time": now.isoformat(), "resolution": "5m",
                "filters": [{"label": "COMPUTE_CLUSTER_ID", "equals": "demo-aws"},
                            {"label": "NODEPOOL_ID", "equals": "gpu-spot"}]}  # fmt: skip

    t = time.perf_counter()
    series, _ = engine.query("me", MetricSearchQuery.from_wire(body()))
    cold = time.perf_counter() - t
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        series, _ = engine.query("me", MetricSearchQuery.from_wire(body()))
        [s.to_wire() for s in series]
        times.append(time.perf_counter() - t)
    print(f"PostMetricsQuery, one nodepool, 7 days at 5 min ({len(series[0].value)} points):")
    print(f"  engine direct: first (simulates the week) {cold * 1e3:.0f} ms; warm median "
          f"{np.median(times) * 1e3:.1f} ms, max {max(times) * 1e3:.1f} ms   goal <= 50 ms")  # fmt: skip
    store.close()

    handle = start_server(data_dir=tmp / "server", port=0, demo=True)
    try:
        with httpx.Client(base_url=handle.url, headers={"Authorization": f"Key {handle.token}"}) as http:
            url = "/v2/users/me/metrics"
            first = time.perf_counter()
            r = http.post(url, json={"query": body()})
            first = time.perf_counter() - first
            r.raise_for_status()
            times = []
            for _ in range(repeat):
                t = time.perf_counter()
                r = http.post(url, json={"query": body()})
                times.append(time.perf_counter() - t)
            points = len(r.json()["data"]["matrix_data"]["series"][0]["value"])
        print(f"  over HTTP (local server, {points} points): first {first * 1e3:.0f} ms; warm median "
              f"{np.median(times) * 1e3:.1f} ms, max {max(times) * 1e3:.1f} ms   goal <= 50 ms")  # fmt: skip
    except Exception as e:  # the server belongs to another module: report, do not hide the rest
        print(f"  over HTTP: not measured ({type(e).__name__}: {e})")
    finally:
        stop_server(handle)


if __name__ == "__main__":
    bench_fleet()
    bench_first_use()
    bench_metrics()
