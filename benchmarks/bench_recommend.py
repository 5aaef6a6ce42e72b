"""Right-sizing search benchmark (run: python benchmarks/bench_recommend.py).

One run prints, side by side:
1. recommend() over >= 500 candidates (every GPU instance type of aws/us-east-1 that fits x
   min 0/1/2 x three node ceilings x spot/on-demand x three scale-down delays) over 7 days of
   10 s steps (60,480 steps, plus the hour of warm-up), one seed, warm (the kernel loaded):
   goal <= 2 s on the 2-core machine;
2. the same search done by calling sim.simulate() once per candidate (the brute force the
   tests compare against), timed on a sample of candidates in the same run and scaled
   linearly: goal >= 5x slower than 1;
3. the front's size; and the default search (3 seeds) for reference.
The traffic is the bursty pattern (6 rps mean), the deployment an LLM needing 10 GiB of GPU.
Timing is printed, never asserted.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from compute_widgets.api.client import ComputeClient  # noqa: E402
from compute_widgets.local.runtime import start_server, stop_server  # noqa: E402
from compute_widgets.rightsize import recommend, traffic_from  # noqa: E402
from compute_widgets.sim import DeploymentSpec, Workload, pool_spec_from, simulate, warm_up  # noqa: E402

LLM = DeploymentSpec(max_replicas=64, replica_gpu_mem_gib=10.0, name="llm")
SAMPLE = 24  # candidates simulated one by one for the baseline (scaled to all)


def search(client, traffic, seeds=(0,)):
    return recommend(traffic=traffic, client=client, provider="aws", region="us-east-1", deployments=[LLM],
                     target_p95="2s", seeds=seeds, holdout_seeds=(100, 101, 102))  # fmt: skip


def one_by_one(client, traffic, frame, n):
    """simulate() per candidate for `n` evenly spread candidates: seconds per candidate."""
    types = {t.id: t for t in client.list_instance_types("aws", "us-east-1")}
    rates = traffic.rates.to_numpy(dtype=np.float64)
    warm = 360
    trace = np.concatenate([rates[-warm:], rates])
    workload = Workload(trace=pd.Series(trace, index=np.arange(len(trace)) * traffic.step))
    start = datetime(2026, 1, 5, tzinfo=UTC) - timedelta(seconds=warm * traffic.step)
    rows = frame.iloc[np.linspace(0, len(frame) - 1, n).astype(int)]
    t0, c0 = time.perf_counter(), time.process_time()
    for _, r in rows.iterrows():
        it = types[r["instance_type"]]
        pool = pool_spec_from({"instance_types": [it.to_wire()]}, it).with_(
            min_nodes=int(r["min_nodes"]), max_nodes=int(r["max_nodes"]), spot=bool(r["spot"]))
        dep = replace(LLM, replica_gpus=1.0, scale_down_delay_s=r["scale_down_delay_s"])
        simulate(pool, [dep], workload, duration=traffic.duration_s + warm * traffic.step, seed=0, start=start,
                 record_every=6)  # fmt: skip
    return (time.perf_counter() - t0) / n, (time.process_time() - c0) / n


def main() -> None:
    warm_up()
    data = tempfile.mkdtemp(prefix="bench-recommend-")
    handle = start_server(data_dir=data, port=0)
    try:
        with ComputeClient(handle.url, handle.token, user_id="me") as client:
            traffic = traffic_from("bursty", range="7d", rps=6.0)
            search(client, traffic_from("diurnal", range="1h"))  # load the parallel kernel
            times, cpus = [], []
            for _ in range(3):
                t, c = time.perf_counter(), time.process_time()
                rec = search(client, traffic)
                times.append(time.perf_counter() - t)
                cpus.append(time.process_time() - c)
            fast = min(times)
            n = len(rec.candidates)
            per, per_cpu = one_by_one(client, traffic, rec.candidates, SAMPLE)
            slow = per * n
            t = time.perf_counter()
            rec3 = search(client, traffic, seeds=(0, 1, 2))
            three = time.perf_counter() - t
    finally:
        stop_server(handle)
    steps = int(traffic.duration_s / traffic.step)
    print(f"recommend(): {n} candidates x 1 seed x {steps:,} steps (7 days at 10 s, + 1 h warm-up), warm; "
          f"{rec.assumptions['runs_simulated']} runs (candidates that run alike share one)")
    print(f"  batched search (min of 3)      {fast:7.2f} s   goal <= 2 s   (runs: {', '.join(f'{x:.2f}' for x in times)}; "
          f"CPU {min(cpus):.2f} s over both cores)")
    print(f"  simulate() per candidate       {slow:7.2f} s   ({per * 1000:.0f} ms x {n}, {SAMPLE} timed in this run; "
          f"CPU {per_cpu * n:.2f} s)")
    print(f"  speed-up                       {slow / fast:7.1f}x   goal >= 5x")
    print(f"  load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())} (2 cores)")
    print(f"  front: {len(rec.front)} of {n} candidates; best: {rec.summary}")
    print(f"  default search, 3 seeds + 3 held-out: {three:.2f} s, front {len(rec3.front)}")


if __name__ == "__main__":
    main()
