"""One Compute panel refresh with 2,000 nodepools, beside a bare listing with our client.

    python benchmarks/bench_panel.py [--pools 2000] [--spot-share 0.5] [--runs 9]

A control plane in a temporary data dir gets 20 clusters (aws us-east-1) x 100 nodepools; a
share of them (--spot-share) are spot with on-demand fallback, whose split the panel reads from
one metrics query per cluster, the rest on-demand. A real Jupyter server (our extension, which
finds that plane through COMPUTE_WIDGETS_DATA_DIR) serves the panel's endpoint.

- figure: GET {jupyter}/compute-widgets/api/clusters?backend=local, what the panel fetches every
  3 s: clusters -> nodepools with status, nodes by capacity type and $/h;
- baseline, same run, same plane: ComputeClient.list_clusters() + list_nodepools() (the bare
  listing the endpoint starts from).

Both warmed up once (the first listing simulates each pool's history), then --runs of each in
turns (so a noisy stretch of the machine falls on both), medians compared: the steady refresh the panel repeats, where a spot pool's split is kept while its node
count holds (lab/overview.SplitCache). The first refresh, which asks every split, is printed
beside it. Goal: refresh <= 1.5x the bare listing. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from compute_widgets.api.client import ComputeClient
from compute_widgets.api.models import (
    CapacityType,
    CloudProvider,
    ComputeCluster,
    InstanceType,
    NodeCapacityType,
    Nodepool,
)
from compute_widgets.local.runtime import DATA_DIR_ENV, start_server, stop_server

CLUSTERS = 20
GOAL = 1.5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(client: ComputeClient, pools: int, spot_share: float) -> int:
    per = pools // CLUSTERS
    mixed = 0
    for c in range(CLUSTERS):
        cc = f"bench-{c:02d}"
        client.create_cluster(
            ComputeCluster(id=cc, cloud_provider=CloudProvider(id="aws"), region="us-east-1")
        )
        batch = []
        for i in range(per):
            spot = (c * per + i) < pools * spot_share
            mixed += spot
            caps = [CapacityType.SPOT_TYPE, CapacityType.ON_DEMAND_TYPE] if spot else [CapacityType.ON_DEMAND_TYPE]  # fmt: skip
            batch.append(
                Nodepool(
                    id=f"np-{i:03d}",
                    instance_types=[InstanceType(id="g5.xlarge" if spot else "t3a.medium")],
                    node_capacity_type=NodeCapacityType(capacity_types=caps),
                    min_instances=i % 2,
                    max_instances=3,
                )
            )
        client.create_nodepools(cc, batch)
    return mixed


def interleaved(a, b, runs: int) -> tuple[list[float], list[float], float]:
    """Times of `a` and `b`, run in turns (a b, b a, ...) so that a noisy stretch of this shared
    machine falls on both; the first call of `b` (not counted) is returned as well."""
    t = time.perf_counter()
    b()
    first = time.perf_counter() - t
    a()
    times: dict[Any, list[float]] = {a: [], b: []}
    for i in range(runs):
        for fn in (a, b) if i % 2 == 0 else (b, a):
            t = time.perf_counter()
            fn()
            times[fn].append(time.perf_counter() - t)
    return times[a], times[b], first


def start_jupyter(data_dir: Path, root: Path) -> tuple[subprocess.Popen, str, str]:
    token, port = secrets.token_hex(16), free_port()
    env = dict(
        os.environ, JUPYTER_RUNTIME_DIR=str(root / "runtime"), **{DATA_DIR_ENV: str(data_dir)}
    )
    for key in ("CLARIFAI_PAT", "CLARIFAI_API_BASE", "CLARIFAI_USER_ID"):
        env.pop(key, None)
    env["HOME"] = str(root / "home")  # no Clarifai CLI config of the user's
    cmd = [sys.executable, "-m", "jupyter_server", "--no-browser", "--ip=127.0.0.1",
           f"--port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={root}"] + (["--allow-root"] if os.geteuid() == 0 else [])  # fmt: skip
    log = (root / "jupyter.log").open("w")
    proc = subprocess.Popen(
        cmd, env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            httpx.get(f"{base}/api/status", headers={"Authorization": f"token {token}"}, timeout=2)
            return proc, base, token
        except httpx.HTTPError:
            if proc.poll() is not None:
                break
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("Jupyter did not start:\n" + (root / "jupyter.log").read_text()[-2000:])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pools", type=int, default=2000)
    ap.add_argument("--spot-share", type=float, default=0.5)
    ap.add_argument("--runs", type=int, default=9)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-panel-") as tmp:
        root = Path(tmp)
        (root / "home").mkdir()
        # the plane's runtime file where the Jupyter server's extension looks for it
        os.environ["JUPYTER_RUNTIME_DIR"] = str(root / "runtime")
        handle = start_server(root / "cp", port=0)
        proc = None
        try:
            with ComputeClient(handle.url, handle.token, "me", timeout=300) as client:
                t = time.perf_counter()
                mixed = seed(client, args.pools, args.spot_share)
                print(f"seeded {args.pools} nodepools in {CLUSTERS} clusters ({mixed} spot with "
                      f"on-demand fallback) in {time.perf_counter() - t:.1f} s")  # fmt: skip

                def bare() -> int:
                    client.list_clusters()
                    return len(client.list_nodepools())

                proc, base, token = start_jupyter(root / "cp", root)
                web = httpx.Client(headers={"Authorization": f"token {token}"}, timeout=300)

                def refresh() -> int:
                    r = web.get(f"{base}/compute-widgets/api/clusters", params={"backend": "local"})
                    if r.status_code != 200:
                        raise SystemExit(f"the endpoint answered {r.status_code}: {r.text}")
                    return r.json()["totals"]["nodepools"]

                assert bare() == args.pools
                base_all, panel_all, panel_first = interleaved(bare, refresh, args.runs)
                assert refresh() == args.pools
        finally:
            if proc is not None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(30)
            stop_server(handle)

    base_s, panel_s = statistics.median(base_all), statistics.median(panel_all)
    ratio = panel_s / base_s
    print(f"{'what':<58} {'median':>9}  runs")
    print(f"{'baseline: ComputeClient list_clusters + list_nodepools':<58} {base_s * 1000:8.0f} ms  "
          + ", ".join(f"{x * 1000:.0f}" for x in base_all))  # fmt: skip
    print(f"{'panel refresh: GET /compute-widgets/api/clusters':<58} {panel_s * 1000:8.0f} ms  "
          + ", ".join(f"{x * 1000:.0f}" for x in panel_all))  # fmt: skip
    print(f"{'first panel refresh (every spot/on-demand split asked)':<58} {panel_first * 1000:8.0f} ms  "
          f"({panel_first / base_s:.2f}x)")  # fmt: skip
    verdict = "met" if ratio <= GOAL else "not met"
    print(f"ratio {ratio:.2f}x the bare listing (goal <= {GOAL}x: {verdict})")


if __name__ == "__main__":
    main()
