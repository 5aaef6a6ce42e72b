"""Right-sizing: which nodepool meets a p95 latency target at the lowest cost, for real traffic.

    from compute_widgets.rightsize import traffic_from, recommend
    rec = recommend("my-cluster/my-pool", client=client, target_p95="2s")   # its recorded week
    rec = recommend(traffic=traffic_from("diurnal", rps=5), client=client, provider="aws",
                    region="us-east-1")
    rec.front, rec.best.yaml, rec.best.command, rec.best.stability, rec.patch()

Traffic (traffic.py) is a request rate at regular steps; candidates (candidates.py) are the
instance types that fit the deployments x node range x capacity x scale-down delay; the search
(search.py) simulates them in batches with the simulator's kernel over one shared trace, on
several seeds, optionally on any concurrent.futures.Executor; pareto.py keeps the cost / p95
front; result.py holds the answer; hint.py the browser's one-line hint.
Imports only compute_widgets.api and compute_widgets.sim (public names), numpy and pandas.
"""

from __future__ import annotations

from .errors import RightsizeError, TrafficError
from .hint import provisioning_hint
from .pareto import pareto_mask
from .recommend import recommend
from .result import Choice, Recommendation, apply_command
from .search import SCORES, weighted_percentiles
from .traffic import PATTERNS, TrafficProfile, traffic_from

__all__ = [
    "recommend",
    "Recommendation",
    "Choice",
    "apply_command",
    "traffic_from",
    "TrafficProfile",
    "TrafficError",
    "RightsizeError",
    "PATTERNS",
    "provisioning_hint",
    "pareto_mask",
    "weighted_percentiles",
    "SCORES",
]
