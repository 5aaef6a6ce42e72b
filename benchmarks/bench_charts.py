"""Charts benchmark (one run): 30 days of 10-second samples for one nodepool (259,200 rows per
series). Builds scaling_history + utilization and serialises them (to_json, what a saved
notebook stores), beside a naive plotly express figure of the same raw series (px.line, to_json).

    /work/venv/bin/python benchmarks/bench_charts.py [--synthetic] [--days 30]

Goals (issue 6): >= 10x faster, >= 50x smaller, figure JSON <= 300 KB.
Data: the simulator (compute_widgets.sim.simulate) when it is importable, else a synthetic frame
shaped like its output (--synthetic forces that).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd


def synthetic(days: float, step: int = 10, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Diurnal demand, desired held >= 5 min, 3-minute boots (pending), 70 % spot, one PATCH."""
    rng = np.random.default_rng(seed)
    n = int(days * 86400 / step)
    idx = pd.date_range("2026-03-02", periods=n, freq=f"{step}s", tz="UTC", name="timestamp")
    t = np.arange(n) * step
    demand = np.maximum(6 + 4 * np.sin(2 * np.pi * t / 86400) + rng.normal(0, 0.4, n), 0.5)
    min_nodes = np.where(t < t[-1] * 0.4, 1.0, 2.0)
    max_nodes = np.where(t < t[-1] * 0.6, 9.0, 12.0)
    desired = np.clip(np.ceil(demand), min_nodes, max_nodes)[(np.arange(n) // 30) * 30]
    ready = np.minimum(desired, np.concatenate([np.full(18, desired[0]), desired[:-18]]))
    pending = desired - ready
    spot_r, spot_p = np.floor(ready * 0.7), np.floor(pending * 0.7)
    cpu = np.clip(demand / np.maximum(ready, 1) * 80 + rng.normal(0, 5, n), 0, 100)
    df = pd.DataFrame(
        {
            "nodes_ready_spot": spot_r,
            "nodes_ready_od": ready - spot_r,
            "nodes_pending_spot": spot_p,
            "nodes_pending_od": pending - spot_p,
            "desired": desired,
            "min_nodes": min_nodes,
            "max_nodes": max_nodes,
            "cpu_util": cpu,
            "mem_util": np.clip(30 + 0.4 * cpu, 0, 100),
            "gpu_util": np.clip(cpu * 0.9 + rng.normal(0, 3, n), 0, 100),
            "gpu_mem_util": np.clip(50 + 0.2 * cpu, 0, 100),
        },
        index=idx,
    )
    d = np.diff(desired)
    ch = np.flatnonzero(d) + 1
    ev = pd.DataFrame(
        {
            "timestamp": idx[ch],
            "kind": np.where(d[ch - 1] > 0, "scale_up", "scale_down"),
            "count": np.abs(d[ch - 1]).astype(int),
            "capacity_type": "spot",
            "reason": "",
            "message": "",
        }
    )
    return df, ev


def simulated(days: float) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    try:
        from compute_widgets.sim import DeploymentSpec, PoolSpec, simulate
    except ImportError:
        return None
    pool = PoolSpec(
        instance_id="g5.xlarge",
        vcpu=4,
        memory_gib=16,
        gpus=1,
        gpu_memory_gib=24,
        price_od=1.006,
        price_spot=0.45,
        min_nodes=1,
        max_nodes=16,
        spot=True,
    )
    res = simulate(
        pool,
        [DeploymentSpec(min_replicas=1, max_replicas=16)],
        duration=days * 86400,
        step=10,
        seed=0,
    )
    return res.history, res.events


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=float, default=30.0)
    ap.add_argument("--synthetic", action="store_true", help="skip the simulator")
    args = ap.parse_args()

    import plotly.express as px

    from compute_widgets import charts

    t = time.perf_counter()
    data = None if args.synthetic else simulated(args.days)
    source = "simulator" if data is not None else "synthetic"
    hist, events = data if data is not None else synthetic(args.days)
    t_data = time.perf_counter() - t
    series = [
        c
        for c in hist.columns
        if c
        in (
            "nodes_ready_spot",
            "nodes_ready_od",
            "nodes_pending_spot",
            "nodes_pending_od",
            "nodes",
            "desired",
            "min_nodes",
            "max_nodes",
            "cpu_util",
            "mem_util",
            "gpu_util",
            "gpu_mem_util",
        )
        and hist[c].notna().any()
    ]
    print(
        f"data: {source}, {len(hist):,} rows x {len(series)} series, {len(events):,} events "
        f"({t_data:.1f} s to make)"
    )

    # warm both paths on a tiny frame so import/first-use validator costs hit neither side
    small = hist.iloc[:500]
    charts.scaling_history(small, events.iloc[:5]).to_json()
    charts.utilization(small).to_json()
    px.line(small.reset_index(), x="timestamp", y=series).to_json()

    t0 = time.perf_counter()
    sh = charts.scaling_history(hist, events)
    ut = charts.utilization(hist)
    t1 = time.perf_counter()
    ours_json = sh.to_json() + ut.to_json()
    t2 = time.perf_counter()
    ours_points = sum(len(tr.x) for f in (sh, ut) for tr in f.data)

    t3 = time.perf_counter()
    naive = px.line(hist.reset_index(), x="timestamp", y=series)
    t4 = time.perf_counter()
    naive_json = naive.to_json()
    t5 = time.perf_counter()
    naive_points = sum(len(tr.x) for tr in naive.data)

    ours_t, naive_t = t2 - t0, t5 - t3
    ours_kb, naive_kb = len(ours_json) / 1024, len(naive_json) / 1024
    print()
    print(f"{'':34}{'build':>9}{'to_json':>10}{'total':>9}{'JSON':>12}{'points':>11}")
    print(
        f"{'charts scaling_history+utilization':34}{(t1 - t0) * 1e3:>7.0f}ms"
        f"{(t2 - t1) * 1e3:>8.0f}ms{ours_t * 1e3:>7.0f}ms{ours_kb:>9.0f} KB{ours_points:>11,}"
    )
    print(
        f"{'naive px.line of raw series':34}{(t4 - t3) * 1e3:>7.0f}ms"
        f"{(t5 - t4) * 1e3:>8.0f}ms{naive_t * 1e3:>7.0f}ms{naive_kb:>9.0f} KB{naive_points:>11,}"
    )
    print(
        f"  (naive trace type: {naive.data[0].type}; ours: "
        f"{sorted({tr.type for f in (sh, ut) for tr in f.data})})"
    )
    print()
    speed, small_ratio = naive_t / ours_t, naive_kb / ours_kb
    print(f"faster:  {speed:6.1f}x   (goal >= 10x)  {'OK' if speed >= 10 else 'MISSED'}")
    print(
        f"smaller: {small_ratio:6.1f}x   (goal >= 50x)  {'OK' if small_ratio >= 50 else 'MISSED'}"
    )
    print(f"JSON:    {ours_kb:6.0f} KB  (goal <= 300 KB) {'OK' if ours_kb <= 300 else 'MISSED'}")
    per = {tr.name: len(tr.x) for f in (sh, ut) for tr in f.data}
    print(
        f"points per trace: max {max(per.values()):,} "
        f"({', '.join(f'{k} {v}' for k, v in per.items())})"
    )


if __name__ == "__main__":
    main()
