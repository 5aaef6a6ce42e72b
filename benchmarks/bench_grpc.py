"""The local control plane's gRPC door, each figure beside a baseline measured in the same run.

    python benchmarks/bench_grpc.py [--seconds 3]

1. Door throughput: GetNodepool calls/s through our gRPC door (a background server on a temp
   data dir, one cluster of 1,000 nodepools), beside a grpcio hello-world servicer in a separate
   process on the same machine: `grpc.aio` server, the door's server options, one unary method
   with bytes (identity) serializers that answers the very bytes our GetNodepool answered, so the
   wire load is equal and the difference is our door's work. Same client for both: one sync
   `grpc.insecure_channel` (same options), a fixed duration, 1 and 4 threads each calling in
   sequence and parsing a SingleNodepoolResponse. Goal: ours >= 0.5x hello-world. The two take
   turns in short slices, so a burst of other load on a shared machine hits both alike; each
   server's CPU time per call (/proc) is printed too, as it moves less with that load.
2. Listing 2,000 nodepools: the official `clarifai` SDK (`ComputeCluster.list_nodepools()`, which
   sends per_page unset -> our default 128 and pages until an empty page) against our gRPC door,
   beside our REST door with our `ComputeClient`. Both must return the same 2,000 ids (asserted)
   before any figure prints. For where the SDK's time goes, also: the official stub paging the
   gRPC door by 128 without the SDK's objects.

Prints every figure, its baseline and the ratio, and the machine's load average (the figures
move with other load; the ratios less). A full run takes about a minute.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import grpc

# the same seeded pools, timer and stub pager as the REST benchmark
from bench_server import official_list_ids, seed, timed
from clarifai_grpc.grpc.api import resources_pb2, service_pb2, service_pb2_grpc
from clarifai_grpc.grpc.api.status import status_code_pb2

from compute_widgets.api.client import ComputeClient
from compute_widgets.local.runtime import start_server, stop_server
from compute_widgets.local.wire import MAX_BODY

THREADS = (1, 4)
SLICES = 6  # each load phase is cut in slices, ours and the baseline taking turns
GET_NODEPOOL = "/clarifai.api.V2/GetNodepool"
HELLO_METHOD = "/hello.Hello/Say"
# the client's channel, for both servers (the SDK's channel adds a retry policy, not used here)
CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 128 * 1024 * 1024),
    ("grpc.max_send_message_length", 128 * 1024 * 1024),
]

# A grpc.aio server with the door's options (grpc_door.GrpcDoor.start) and one unary method that
# answers fixed bytes (argv[1], hex) without parsing the request: transport and grpcio only.
HELLO_SERVER = textwrap.dedent(
    """
    import asyncio, sys, grpc
    ANSWER = bytes.fromhex(sys.argv[1])
    async def say(request, context):
        return ANSWER
    async def main():
        server = grpc.aio.server(options=[("grpc.max_receive_message_length", int(sys.argv[2])),
                                          ("grpc.so_reuseport", 0)])
        handler = grpc.method_handlers_generic_handler(
            "hello.Hello", {"Say": grpc.unary_unary_rpc_method_handler(say)})
        server.add_generic_rpc_handlers((handler,))
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        print(port, flush=True)
        await server.wait_for_termination()
    asyncio.run(main())
    """
)


def start_hello(answer: bytes) -> tuple[subprocess.Popen[str], str]:
    """The hello-world servicer process and its `host:port` (it prints its port when ready)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HELLO_SERVER, answer.hex(), str(MAX_BODY)],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline() if proc.stdout else ""
    if not line.strip().isdigit():
        proc.kill()
        raise SystemExit("the hello-world gRPC server did not start")
    return proc, f"127.0.0.1:{line.strip()}"


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process `pid` has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Phase:
    """Calls made, wall seconds and the server's CPU seconds, summed over interleaved slices."""

    def __init__(self, call: Callable[[], None], pid: int) -> None:
        self.call, self.pid = call, pid
        self.calls, self.wall, self.cpu = 0, 0.0, 0.0

    def slice(self, seconds: float, threads: int) -> None:
        cpu0, t0 = cpu_seconds(self.pid), time.monotonic()
        self.calls += count(self.call, seconds, threads)
        self.wall += time.monotonic() - t0
        self.cpu += cpu_seconds(self.pid) - cpu0

    @property
    def per_second(self) -> float:
        return self.calls / self.wall

    @property
    def cpu_us(self) -> float:
        """The server's CPU microseconds per call (less moved by other load than calls/s)."""
        return self.cpu / self.calls * 1e6


def count(call: Callable[[], None], seconds: float, threads: int) -> int:
    """Calls of `call` made in `seconds` by `threads` threads each calling in sequence."""
    counts = [0] * threads
    stop = time.monotonic() + seconds

    def worker(i: int) -> None:
        while time.monotonic() < stop:
            call()
            counts[i] += 1

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sum(counts)




def row(what: str, ours: float, base: float, unit: str, base_name: str, goal: str = "") -> None:
    ratio = ours / base if base else float("nan")
    print(
        f"  {what:<44} {ours:>9.2f} {unit:<7} {base_name:<24} {base:>9.2f} {unit:<7} x{ratio:5.2f} {goal}"
    )


def sdk_list(grpc_url: str, token: str, cc_id: str) -> tuple[list[str], int, float]:
    """Ids from the official SDK's `list_nodepools()`, how many requests it sent, and the
    seconds spent inside them (the rest is the SDK's own work: a client object per item)."""
    from clarifai.client.compute_cluster import ComputeCluster as SdkCluster

    cluster = SdkCluster(compute_cluster_id=cc_id, user_id="me", base_url=grpc_url, pat=token)
    sent, inside = 0, 0.0
    real = cluster._grpc_request

    def counted(method, argument):  # count and time the pages; the call is the SDK's own
        nonlocal sent, inside
        sent += 1
        t0 = time.perf_counter()
        try:
            return real(method, argument)
        finally:
            inside += time.perf_counter() - t0

    cluster._grpc_request = counted  # type: ignore[method-assign]
    return [np.id for np in cluster.list_nodepools()], sent, inside


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0, help="duration of each load phase")
    args = ap.parse_args()
    secs = args.seconds

    tmp = Path(tempfile.mkdtemp(prefix="bench-grpc-"))
    os.environ.setdefault("JUPYTER_RUNTIME_DIR", str(tmp / "runtime"))
    handle = start_server(data_dir=tmp / "cp", port=0, background=True)
    hello = None
    try:
        assert handle.grpc_url.startswith("http://127.0.0.1:"), "the plane has no gRPC door"
        url, token, grpc_url = handle.url, handle.token, handle.grpc_url
        md = (("authorization", f"Key {token}"),)
        c = ComputeClient(url, token)
        seed(c)

        ours_ch = grpc.insecure_channel(grpc_url.removeprefix("http://"), CHANNEL_OPTIONS)
        request = service_pb2.GetNodepoolRequest(
            user_app_id=resources_pb2.UserAppIDSet(user_id="me"),
            compute_cluster_id="bench",
            nodepool_id="np-0007",
        ).SerializeToString()
        raw_get = ours_ch.unary_unary(GET_NODEPOOL)  # bytes in, bytes out
        answer = raw_get(request, metadata=md)
        first = service_pb2.SingleNodepoolResponse.FromString(answer)
        assert first.status.code == status_code_pb2.SUCCESS, first.status
        assert first.nodepool.id == "np-0007", first.nodepool
        hello, hello_addr = start_hello(answer)
        hello_ch = grpc.insecure_channel(hello_addr, CHANNEL_OPTIONS)
        raw_hello = hello_ch.unary_unary(HELLO_METHOD)
        assert raw_hello(request) == answer  # the baseline answers the same bytes

        def get_ours() -> None:
            r = service_pb2.SingleNodepoolResponse.FromString(raw_get(request, metadata=md))
            assert r.status.code == status_code_pb2.SUCCESS, r.status

        def get_hello() -> None:
            r = service_pb2.SingleNodepoolResponse.FromString(raw_hello(request, metadata=md))
            assert r.status.code == status_code_pb2.SUCCESS, r.status

        load = os.getloadavg()[0]
        busy = "a busy machine" if load > (os.cpu_count() or 1) else "below the cores: quiet"
        print(f"\nload average {load:.1f} on {os.cpu_count()} cores ({busy})")
        print(
            f"\n1. gRPC door throughput ({secs:.0f} s per phase, one sync channel, "
            f"{len(first.SerializeToString())}-byte answers; 2-core machine)"
        )
        for threads in THREADS:
            count(get_ours, 0.3, threads)  # warm both ends
            count(get_hello, 0.3, threads)
            ours, base = Phase(get_ours, handle.pid), Phase(get_hello, hello.pid)
            for _ in range(SLICES):  # interleaved, so a burst of other load hits both alike
                base.slice(secs / SLICES, threads)
                ours.slice(secs / SLICES, threads)
            what = f"GetNodepool, {threads} thread{'s' if threads > 1 else ''}"
            row(
                what,
                ours.per_second,
                base.per_second,
                "calls/s",
                "hello-world grpc.aio",
                "(goal >= 0.5)",
            )
            row(
                "  server CPU per call",
                ours.cpu_us,
                base.cpu_us,
                "us",
                "hello-world grpc.aio",
                "(info)",
            )

        print("\n2. List 2,000 nodepools: official SDK over gRPC vs ComputeClient over REST")
        t_sdk = time.perf_counter()
        ids_sdk, pages, in_rpcs = sdk_list(grpc_url, token, "bench2k")
        t_sdk = time.perf_counter() - t_sdk
        ids_rest = [p.id for p in c.list_nodepools("bench2k")]
        stub = service_pb2_grpc.V2Stub(ours_ch)
        ids_stub = official_list_ids(stub, md, "bench2k")
        expected = [f"np-{i:04d}" for i in range(2000)]
        assert sorted(ids_sdk) == expected, (len(ids_sdk), ids_sdk[:3])
        assert sorted(ids_rest) == expected, (len(ids_rest), ids_rest[:3])
        assert sorted(ids_stub) == expected, (len(ids_stub), ids_stub[:3])
        t_sdk2 = time.perf_counter()
        _, _, in_rpcs2 = sdk_list(grpc_url, token, "bench2k")  # a second run: it is slow
        t_sdk2 = time.perf_counter() - t_sdk2
        t_sdk, in_rpcs = min((t_sdk, in_rpcs), (t_sdk2, in_rpcs2))
        print(
            f"  the SDK sent {pages} ListNodepools requests (per_page unset: our default 128, "
            f"then an empty page); {in_rpcs:.2f} s of its {t_sdk:.2f} s inside them, the rest "
            "its own work (a client object, with a new channel and stub, per nodepool)"
        )
        t_rest = min(timed(lambda: c.list_nodepools("bench2k")) for _ in range(3))
        t_stub = min(timed(lambda: official_list_ids(stub, md, "bench2k")) for _ in range(3))
        row(
            "official SDK over our gRPC door (s)",
            t_sdk,
            t_rest,
            "s",
            "ComputeClient over REST",
            "(info: <1 = SDK faster)",
        )
        row(
            "official stub over gRPC door, 16 pages (s)",
            t_stub,
            t_rest,
            "s",
            "ComputeClient over REST",
            "(info: the door alone)",
        )
        c.close()
        ours_ch.close()
        hello_ch.close()
    finally:
        if hello is not None:
            hello.terminate()
            hello.wait(10)
        stop_server(handle)


if __name__ == "__main__":
    main()
