"""The Pareto front of (cost, latency): the candidates no other one beats on both."""

from __future__ import annotations

import numpy as np


def pareto_mask(cost: np.ndarray, latency: np.ndarray) -> np.ndarray:
    """True for each point no other point dominates (<= on both and < on one). Equal points
    are all kept. O(n log n): sweep by cost, keep a point when it is the best latency at its
    cost and beats every cheaper point's latency."""
    cost = np.asarray(cost, dtype=np.float64)
    latency = np.asarray(latency, dtype=np.float64)
    keep = np.zeros(len(cost), dtype=bool)
    order = np.lexsort((latency, cost))
    best_cheaper = np.inf  # lowest latency among strictly cheaper points
    i = 0
    while i < len(order):
        j = i
        while j < len(order) and cost[order[j]] == cost[order[i]]:
            j += 1
        group = order[i:j]
        low = latency[group].min()
        if low < best_cheaper:
            keep[group[latency[group] == low]] = True
        best_cheaper = min(best_cheaper, low)
        i = j
    return keep
