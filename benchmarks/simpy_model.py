"""The same nodepool model as compute_widgets.sim, driven by SimPy (the discrete-event baseline).

One SimPy process per nodepool wakes every `step` seconds (the autoscaler's control loop) and
applies the model's step function in plain Python — the kernel's own source executed by
CPython (sim/_kernel.py `_REF`) — so both implementations produce the same records; only the
engine differs. autoscaling.md §3.4 measured this shape too ("SimPy, one process per pool
ticking every 10 s"); a request-level SimPy model is infeasible (1.3 G requests per week).
"""

from __future__ import annotations

import math

import numpy as np
import simpy

from compute_widgets.sim import _kernel as K
from compute_widgets.sim._run import deployment_params, pool_params


def run_simpy(pools, deployments, n_steps: int, dt: float, origin: float, seed: int = 0):
    """Simulate the pools for n_steps with SimPy. Returns (records[P, n_steps, cols], events, counts)."""
    P = len(pools)
    D = max([len(d) for d in deployments] + [1])
    worst = max([max(p.provisioning_delay_s, p.spot_notice_s, p.backoff_max_s) for p in pools] + [900.0])
    R = int(math.ceil(worst / dt)) + 2
    pp = np.zeros((P, K.NPP))
    dp = np.zeros((P, D, K.NDP))
    for i, (pool, deps) in enumerate(zip(pools, deployments, strict=True)):
        pp[i] = pool_params(pool, seed + i, len(deps), dt)
        for j, d in enumerate(deps):
            dp[i, j] = deployment_params(d, pool, len(deps))
    ps = np.zeros((P, K.NPS))
    ps[:, K.S_LAST_UP] = -1e18
    ds = np.zeros((P, D, K.NDS))
    ring = np.zeros((P, 3, R))
    out = np.zeros((P, n_steps, K.NOUT_POOL + D * K.NOUT_DEP), dtype=np.float32)
    ev = np.zeros((P, max(256, n_steps // 20), K.EV_COLS))
    ev_n = np.zeros(P, dtype=np.int64)
    trace = np.zeros((P, D, 1))
    step_fn = K._REF["_run_pool"]  # plain Python

    env = simpy.Environment()

    def nodepool(p: int):
        for i in range(n_steps):
            step_fn(p, pp, dp, ps, ds, ring, trace, i, 1, dt, origin, 1, out[:, i : i + 1], ev, ev_n)
            yield env.timeout(dt)

    for p in range(P):
        env.process(nodepool(p))
    with np.errstate(over="ignore"):
        env.run()
    return out, ev, ev_n
