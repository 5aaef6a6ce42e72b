"""Local control plane and client throughput, each figure beside a baseline measured in the same run.

    /work/venv/bin/python benchmarks/bench_server.py [--seconds 3]

1. Server: requests/s of GET nodepool and of listing 1,000 nodepools (8 pages of 128) against
   our control plane, beside a bare uvicorn hello-world app (raw ASGI, same uvicorn defaults)
   started on the same machine. Goal: GET nodepool >= 0.5x hello-world. Load: a fixed
   duration, a few threads each with its own keep-alive httpx client.
2. Client: our ComputeClient vs the official clarifai-grpc JSON channel (reference §4.4),
   both against our server: list 2,000 nodepools, create 200 (one per call). Goal: ours faster;
   our AsyncComputeClient creating the same 200 with concurrency >= 3x the official client.

Prints every figure, its baseline and the ratio. A full run takes well under two minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from compute_widgets.api.client import AsyncComputeClient, ComputeClient
from compute_widgets.api.models import (
    CapacityType,
    ComputeCluster,
    InstanceType,
    NodeCapacityType,
    Nodepool,
)
from compute_widgets.local.runtime import start_server, stop_server

THREADS = 4

HELLO_APP = textwrap.dedent(
    """
    import json, sys, uvicorn
    BODY = json.dumps({"status": {"code": 10000, "description": "Ok"}, "hello": "world"}).encode()
    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": BODY})
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
    """
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_hello() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", HELLO_APP, str(port)])
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(url + "/", timeout=1)
            return proc, url
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("hello-world uvicorn did not start")


def load(url: str, headers: dict[str, str], seconds: float, threads: int = THREADS) -> float:
    """Requests/s of GET `url` for `seconds`, from `threads` keep-alive clients."""
    counts = [0] * threads
    stop = time.monotonic() + seconds

    def worker(i: int) -> None:
        with httpx.Client(headers=headers, timeout=30) as c:
            while time.monotonic() < stop:
                r = c.get(url)
                assert r.status_code == 200, r.text[:200]
                counts[i] += 1

    started = time.monotonic()
    ts = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sum(counts) / (time.monotonic() - started)


def repeat(fn: Callable[[], object], seconds: float) -> float:
    """Calls/s of `fn` over about `seconds` (at least one call)."""
    n, started = 0, time.monotonic()
    while True:
        fn()
        n += 1
        if time.monotonic() - started >= seconds:
            return n / (time.monotonic() - started)


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def nodepool(np_id: str) -> Nodepool:
    return Nodepool(
        id=np_id,
        node_capacity_type=NodeCapacityType(capacity_types=[CapacityType.ON_DEMAND_TYPE]),
        instance_types=[InstanceType(id="t3a.medium")],
        max_instances=2,
    )


def row(what: str, ours: float, base: float, unit: str, base_name: str, goal: str = "") -> None:
    ratio = ours / base if base else float("nan")
    print(
        f"  {what:<44} {ours:>9.1f} {unit:<6} {base_name:<22} {base:>9.1f} {unit:<6} x{ratio:5.2f} {goal}"
    )


def official_stub(url: str):  # the clarifai-grpc JSON channel, reference §4.4
    from clarifai_grpc.channel.clarifai_channel import ClarifaiChannel
    from clarifai_grpc.grpc.api import service_pb2_grpc

    return service_pb2_grpc.V2Stub(ClarifaiChannel.get_json_channel(base_url=url))


def seed(c: ComputeClient) -> None:
    """The benchmarks' two clusters: "bench" with 1,000 nodepools, "bench2k" with 2,000."""
    for cc_id, pools in (("bench", 1000), ("bench2k", 2000)):
        c.create_cluster(ComputeCluster(id=cc_id, cloud_provider={"id": "aws"}, region="us-east-1"))
        c.create_nodepools(cc_id, [nodepool(f"np-{i:04d}") for i in range(pools)])


def official_list_ids(stub, md, cc_id: str) -> list[str]:
    """Nodepool ids from the official stub paging ListNodepools by 128 (no SDK objects)."""
    from clarifai_grpc.grpc.api import resources_pb2, service_pb2

    ids: list[str] = []
    page = 1
    while True:
        r = stub.ListNodepools(
            service_pb2.ListNodepoolsRequest(
                user_app_id=resources_pb2.UserAppIDSet(user_id="me"),
                compute_cluster_id=cc_id,
                page=page,
                per_page=128,
            ),
            metadata=md,
        )
        assert r.status.code == 10000, r.status
        ids += [n.id for n in r.nodepools]
        if len(r.nodepools) < 128:
            return ids
        page += 1


def official_create(stub, md, cc_id: str, ids: list[str]) -> None:
    from clarifai_grpc.grpc.api import resources_pb2, service_pb2

    for np_id in ids:
        r = stub.PostNodepools(
            service_pb2.PostNodepoolsRequest(
                user_app_id=resources_pb2.UserAppIDSet(user_id="me"),
                compute_cluster_id=cc_id,
                nodepools=[
                    resources_pb2.Nodepool(
                        id=np_id,
                        node_capacity_type=resources_pb2.NodeCapacityType(capacity_types=[1]),
                        instance_types=[resources_pb2.InstanceType(id="t3a.medium")],
                        max_instances=2,
                    )
                ],
            ),
            metadata=md,
        )
        assert r.status.code == 10000, r.status


async def async_create(url: str, token: str, cc_id: str, ids: list[str], concurrency: int) -> float:
    """Seconds for `ids` single creates, `concurrency` at a time, on a warm async client."""
    async with AsyncComputeClient(url, token, max_concurrency=concurrency) as c:
        await c.get_cluster(cc_id)  # warm the connection pool, like the sync clients' pools
        limit = asyncio.Semaphore(concurrency)

        async def one(np_id: str) -> None:
            async with limit:
                await c.create_nodepool(cc_id, nodepool(np_id))

        t0 = time.perf_counter()
        await asyncio.gather(*(one(i) for i in ids))
        return time.perf_counter() - t0


async def async_bulk(url: str, token: str, cc_id: str, pools: list[Nodepool]) -> float:
    """Seconds for a bulk create (2 batches of 100, sent concurrently) on a warm async client."""
    async with AsyncComputeClient(url, token, max_concurrency=8) as c:
        await c.get_cluster(cc_id)
        t0 = time.perf_counter()
        await c.create_nodepools(cc_id, pools, batch_size=100)
        return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0, help="duration of each load phase")
    args = ap.parse_args()
    secs = args.seconds

    tmp = Path(tempfile.mkdtemp(prefix="bench-server-"))
    os.environ.setdefault("JUPYTER_RUNTIME_DIR", str(tmp / "runtime"))
    handle = start_server(data_dir=tmp / "cp", port=0)
    hello, hello_url = start_hello()
    try:
        url, token = handle.url, handle.token
        auth = {"Authorization": f"Key {token}"}
        c = ComputeClient(url, token)
        seed(c)

        print(
            f"\n1. Server throughput ({THREADS} threads x {secs:.0f} s, keep-alive httpx; 2-core machine)"
        )
        hello_rps = load(hello_url + "/", {}, secs)
        get_rps = load(f"{url}/v2/users/me/compute_clusters/bench/nodepools/np-0007", auth, secs)
        row("GET nodepool", get_rps, hello_rps, "req/s", "hello-world uvicorn", "(goal >= 0.5)")
        page_rps = load(
            f"{url}/v2/users/me/compute_clusters/bench/nodepools?page=3&per_page=128", auth, secs
        )
        row("GET a page of 128 nodepools", page_rps, hello_rps, "req/s", "hello-world uvicorn")
        lists = repeat(lambda: c.list_nodepools("bench"), secs)
        row(
            "list 1,000 nodepools (8 pages, ComputeClient)",
            lists,
            hello_rps / 8,
            "list/s",
            "hello-world / 8 req",
        )

        print("\n2. Client: ours vs the official clarifai-grpc JSON channel (same server)")
        stub = official_stub(url)
        md = (("authorization", f"Key {token}"),)
        assert len(official_list_ids(stub, md, "bench2k")) == 2000
        assert len(c.list_nodepools("bench2k")) == 2000
        t_off = min(timed(lambda: official_list_ids(stub, md, "bench2k")) for _ in range(3))
        t_ours = min(timed(lambda: c.list_nodepools("bench2k")) for _ in range(3))
        row(
            "list 2,000 nodepools: official / ours (s)",
            t_off,
            t_ours,
            "s",
            "ComputeClient",
            "(>1 = ours faster)",
        )

        kinds = ("off", "sync", "async1", "asyncbulk", "batch")
        for cc in kinds:
            c.create_cluster(
                ComputeCluster(id=f"create-{cc}", cloud_provider={"id": "aws"}, region="us-east-1")
            )
        ids = [f"np-{i:03d}" for i in range(200)]
        pools = [nodepool(i) for i in ids]
        t_off = timed(lambda: official_create(stub, md, "create-off", ids))
        t_sync = timed(lambda: [c.create_nodepool("create-sync", p) for p in pools])
        t_async1 = asyncio.run(async_create(url, token, "create-async1", ids, 8))
        t_bulk = asyncio.run(async_bulk(url, token, "create-asyncbulk", pools))
        t_batch = timed(lambda: c.create_nodepools("create-batch", pools))
        print(
            f"  create 200 nodepools: official client, one per call: {t_off:.2f} s ({200 / t_off:.0f}/s)"
        )
        row(
            "ComputeClient, one per call", 200 / t_sync, 200 / t_off, "/s", "official", "(goal > 1)"
        )
        row(
            "AsyncComputeClient bulk: 2 batches of 100, conc.",
            200 / t_bulk,
            200 / t_off,
            "/s",
            "official",
            "(goal >= 3)",
        )
        row(
            "AsyncComputeClient, 8 single creates at once",
            200 / t_async1,
            200 / t_off,
            "/s",
            "official",
            "(info)",
        )
        row(
            "ComputeClient.create_nodepools, 2 batches",
            200 / t_batch,
            200 / t_off,
            "/s",
            "official",
            "(info)",
        )
        for cc in kinds:
            assert len(c.list_nodepools(f"create-{cc}")) == 200
        c.close()
    finally:
        hello.terminate()
        hello.wait(10)
        stop_server(handle)


if __name__ == "__main__":
    main()
