"""Metrics under a long clock advance: peak RSS of the server and the slowest answer.

    python benchmarks/metrics_scenario.py [--pools 1000] [--years 10] [--with-deployments]

`run_scenario()` starts a real control plane (subprocess, temporary data dir), creates the
nodepools (and one deployment each), advances the simulated clock by `years` in one-year calls,
then reads every pool's history (one PostMetricsQuery per pool: last day at 5m, series=nodes,
or series=all with --series all, what client.nodepool_history asks), one unfiltered query, every page of the nodepool listing (live
node state of each pool) and one pool's events. It returns the server's peak RSS (VmHWM) and
the slowest answer; `idle_figures()` measures the same on an idle server (two pools, no
advance) as the baseline. benchmarks/bench_hostile.py can import both.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

CLUSTER = "bounds-cc"
INSTANCE = "t3a.medium"
YEAR_S = 365 * 86400.0


def rss_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of a process in MB, from /proc/PID/status (Linux)."""
    vals = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            key, value = line.split(":", 1)
            vals[key] = int(value.split()[0]) / 1024.0
    return vals.get("VmRSS", 0.0), vals.get("VmHWM", 0.0)


@dataclass
class Figures:
    pools: int
    rss_mb: float = 0.0
    peak_rss_mb: float = 0.0
    slowest_s: float = 0.0
    slowest_what: str = ""
    answers: int = 0
    errors: list[str] = field(default_factory=list)

    def timed(self, what: str, fn):
        t = time.perf_counter()
        r = fn()
        dt = time.perf_counter() - t
        self.answers += 1
        if dt > self.slowest_s:
            self.slowest_s, self.slowest_what = dt, what
        if r.status_code != 200:
            self.errors.append(f"{what}: HTTP {r.status_code} {r.text[:200]}")
        return r


def _setup(http: httpx.Client, n: int, deployments: bool) -> list[str]:
    http.post("/v2/users/me/compute_clusters", json={"compute_clusters": [
        {"id": CLUSTER, "cloud_provider": {"id": "aws"}, "region": "us-east-1"}]}).raise_for_status()  # fmt: skip
    ids = [f"np-{i:05d}" for i in range(n)]
    for k in range(0, n, 128):
        body = [{"id": i, "instance_types": [{"id": INSTANCE}], "min_instances": 0, "max_instances": 4,
                 "node_capacity_type": {"capacity_types": [1]}} for i in ids[k : k + 128]]  # fmt: skip
        http.post(f"/v2/users/me/compute_clusters/{CLUSTER}/nodepools", json={"nodepools": body}).raise_for_status()
        if deployments:
            deps = [{"id": f"d-{i}", "worker": {"model": {"id": "m", "user_id": "u", "app_id": "a"}},
                     "nodepools": [{"id": i, "compute_cluster": {"id": CLUSTER, "user_id": "me"}}],
                     "autoscale_config": {"min_replicas": 0, "max_replicas": 4}} for i in ids[k : k + 128]]  # fmt: skip
            http.post("/v2/users/me/deployments", json={"deployments": deps}).raise_for_status()
    return ids


SERIES = "nodes"  # "all" is what client.nodepool_history asks: cost_cum then needs every kept day


def _history_query(np_id: str | None) -> dict:
    q = {"metric_type": "NODEPOOL_NODE_COUNT", "resolution": "5m"}
    if np_id is not None:
        q["filters"] = [{"label": "NODEPOOL_ID", "equals": np_id}, {"label": "series", "equals": SERIES}]
    return {"query": q}


def _read_everything(http: httpx.Client, ids: list[str], f: Figures, pid: int) -> None:
    """Every pool's last day (series=all), one query over all pools, every listing page, events."""
    day = 86400.0
    now = http.get("/local/clock").json()["now"]
    from datetime import datetime, timedelta

    end = datetime.fromisoformat(now.replace("Z", "+00:00"))
    start = (end - timedelta(seconds=day)).isoformat()
    for np_id in ids:
        body = _history_query(np_id)
        body["query"].update(start_time=start, end_time=end.isoformat())
        f.timed(f"history {np_id}", lambda b=body: http.post("/v2/users/me/metrics", json=b))
    f.timed("all pools, last hour", lambda: http.post("/v2/users/me/metrics", json=_history_query(None)))
    page = 1
    while True:
        r = f.timed(f"list nodepools p{page}", lambda p=page: http.get(
            f"/v2/users/me/compute_clusters/{CLUSTER}/nodepools", params={"page": p, "per_page": 128}))  # fmt: skip
        if r.status_code != 200 or len(r.json().get("nodepools", [])) < 128:
            break
        page += 1
    f.timed("events", lambda: http.get(
        f"/v2/users/me/compute_clusters/{CLUSTER}/runner.events/logs", params={"nodepool_id": ids[0]}))  # fmt: skip
    f.rss_mb, f.peak_rss_mb = rss_mb(pid)


def run_scenario(pools: int = 1000, years: float = 10.0, deployments: bool = True, data_dir: Path | None = None) -> Figures:
    """A server with `pools` nodepools through a `years` clock advance; see the module doc."""
    from compute_widgets.local.runtime import start_server, stop_server

    with tempfile.TemporaryDirectory() as tmp:
        handle = start_server(data_dir=data_dir or Path(tmp) / "cp", port=0)
        try:
            f = Figures(pools)
            headers = {"Authorization": f"Key {handle.token}"}
            with httpx.Client(base_url=handle.url, headers=headers, timeout=600) as http:
                ids = _setup(http, pools, deployments)
                left = years * YEAR_S
                while left > 0:
                    step = min(left, YEAR_S)
                    f.timed("advance clock", lambda s=step: http.post("/local/clock/advance", json={"seconds": s}))
                    left -= step
                _read_everything(http, ids, f, handle.pid)
            return f
        finally:
            stop_server(handle)


def idle_figures() -> Figures:
    """The baseline: the same reads on a server with two fresh pools and no clock advance."""
    return run_scenario(pools=2, years=0.0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pools", type=int, default=1000)
    ap.add_argument("--years", type=float, default=10.0)
    ap.add_argument("--no-deployments", action="store_true")
    ap.add_argument("--series", default="nodes", help='"all" to ask what nodepool_history asks')
    a = ap.parse_args(argv)
    global SERIES
    SERIES = a.series
    idle = idle_figures()
    t = time.perf_counter()
    run = run_scenario(a.pools, a.years, not a.no_deployments)
    total = time.perf_counter() - t
    print(f"{'':42s} {'peak RSS MB':>12s} {'RSS MB':>8s} {'slowest s':>10s}  slowest answer")
    print(f"{'idle server (2 pools, no advance)':42s} {idle.peak_rss_mb:12.0f} {idle.rss_mb:8.0f} {idle.slowest_s:10.3f}  {idle.slowest_what}")
    label = f"{a.pools} pools, {a.years:g}-year advance"
    print(f"{label:42s} {run.peak_rss_mb:12.0f} {run.rss_mb:8.0f} {run.slowest_s:10.3f}  {run.slowest_what}")
    print(f"{run.answers} answers in {total:.1f} s (incl. setup); errors: {len(run.errors)}")
    for e in run.errors[:5]:
        print("  ", e)
    return 1 if run.errors else 0


if __name__ == "__main__":
    sys.exit(main())
