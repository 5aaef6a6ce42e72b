"""Wire parsing and emitting of 1,000 nodepools: our models beside protobuf's JSON codec.

The local server parses and emits every request with api/models.py, so this is its per-request
model cost. The side-by-side is clarifai-grpc's own path (json_format.ParseDict / MessageToDict
on resources_pb2.Nodepool), when installed. Target: parse 1,000 nodepools well under 100 ms.

    /work/venv/bin/python benchmarks/bench_models.py [--n 1000] [--runs 7]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from compute_widgets.api.models import Nodepool

NODEPOOL: dict[str, Any] = {
    "id": "np",
    "description": "one A10G per node",
    "created_at": "2026-11-28T01:02:03.123456Z",
    "compute_cluster": {"id": "demo-cluster", "user_id": "alice"},
    "node_capacity_type": {"capacity_types": [2, 1]},
    "instance_types": [{
        "id": "g5.xlarge",
        "compute_info": {"cpu_limit": "3535m", "cpu_memory": "13878Mi", "num_accelerators": 1,
                         "accelerator_memory": "23028Mi", "accelerator_type": ["NVIDIA-A10G"]},
        "price": "35.000000",
    }],
    "min_instances": 1,
    "max_instances": 3,
    "visibility": {"gettable": 10},
    "metadata": {"owner": "team-a"},
    "node_count": 1,
    "status": 2,
}


def best_ms(fn: Callable[[], Any], runs: int) -> tuple[float, float]:
    fn()  # warm up
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times) * 1000, statistics.median(times) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    data = [{**NODEPOOL, "id": f"np-{i}"} for i in range(args.n)]
    pools = [Nodepool.from_wire(d) for d in data]
    rows = {
        "from_wire": best_ms(lambda: [Nodepool.from_wire(d) for d in data], args.runs),
        "to_wire": best_ms(lambda: [p.to_wire() for p in pools], args.runs),
        "problems": best_ms(lambda: [p.problems() for p in pools], args.runs),
    }
    try:
        from clarifai_grpc.grpc.api import resources_pb2
        from google.protobuf import json_format
    except ImportError:
        theirs = {}
    else:
        msgs = [json_format.ParseDict(d, resources_pb2.Nodepool()) for d in data]
        theirs = {
            "from_wire": best_ms(lambda: [json_format.ParseDict(d, resources_pb2.Nodepool())
                                          for d in data], args.runs),
            "to_wire": best_ms(lambda: [json_format.MessageToDict(m, preserving_proto_field_name=True,
                                                                  use_integers_for_enums=True)
                                        for m in msgs], args.runs),
        }
    print(f"{args.n} nodepools, best / median of {args.runs} runs (ms)")
    print(f"{'':12} {'ours':>16} {'protobuf json':>16} {'ratio':>7}")
    for name, (best, med) in rows.items():
        other = theirs.get(name)
        cell = f"{other[0]:7.1f} / {other[1]:6.1f}" if other else f"{'-':>16}"
        ratio = f"{best / other[0]:6.2f}x" if other else ""
        print(f"{name:12} {best:7.1f} / {med:6.1f} {cell} {ratio:>7}")
    verdict = "ok" if rows["from_wire"][0] < 100 else "SLOW"
    print(f"parse target (< 100 ms for 1,000): {verdict}")


if __name__ == "__main__":
    main()
