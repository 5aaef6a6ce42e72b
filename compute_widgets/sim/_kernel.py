"""The time-stepped fluid kernel (autoscaling.md §3.2), compiled with numba.

Everything a run needs to continue lives in plain arrays owned by the caller, so a run can be
resumed step for step (the local control plane advances each nodepool to "now" in chunks):

    pp[P, NPP]        pool parameters            ps[P, NPS]          pool state
    dp[P, D, NDP]     deployment parameters      ds[P, D, NDS]       deployment state
    ring[P, 3, R]     pending spot / pending on-demand / draining nodes, by absolute step % R
    trace[rows, D, n] requests/s per step of traced deployments (or arrivals, noise mode 2);
                      pool p reads row pp[p, P_TRACE_ROW], so pools can share a row
    out[P, rows, NOUT_POOL + D*NOUT_DEP]   records (one per `rec` steps)
    ev[P, EMAX, 5]    events (abs step, kind, count, capacity, reason); ev_n[P] how many

Random numbers come from a counter-based hash of (pool seed, absolute step, stream), so the
same step gets the same draws whatever the chunking, and pools are independent under prange.
The plain-Python reference (`reference_run`) executes this same source in CPython.
"""

from __future__ import annotations

import math
import types

import numpy as np
from numba import njit, prange

# ---- pool parameters ----
P_MIN, P_MAX, P_SPOT, P_STRICT, P_PROV, P_NOTICE, P_HAZARD, P_ICE_P, P_ICE_TTL = range(9)
P_FAIL_P, P_BACKOFF0, P_BACKOFF_MAX, P_UNNEEDED, P_AFTER_ADD, P_BULK, P_UP_DELAY = range(9, 16)
P_SEED, P_NDEP, P_VCPU, P_MEM, P_GPUS, P_GPU_MEM, P_DRAIN_TAU, P_TRACE_ROW = range(16, 24)
NPP = 24
# ---- deployment parameters ----
D_ACTIVE, D_MINR, D_MAXR, D_UPD, D_DOWND, D_ZEROD, D_HIST, D_RPN, D_PACK = range(9)
D_BASE, D_AMP, D_PEAK, D_WEEKEND, D_BURSTS, D_BMIN, D_BMAX, D_BLO, D_BHI = range(9, 18)
D_SERVICE, D_CONC, D_TUTIL, D_TRACE, D_CPU, D_MEMR, D_GPUR, D_GPUMEMR, D_NOISE = range(18, 27)
NDP = 27
# ---- pool state ----
S_RS, S_RO, S_PS, S_PO, S_DRAIN, S_ICE_UNTIL, S_BACKOFF, S_LAST_UP, S_UNNEEDED = range(9)
S_UPWAIT, S_FALLBACK, S_SWAP_DUE, S_SWAP_N, S_EVER_READY, S_DESIRED = range(9, 15)
NPS = 15
# ---- deployment state ----
X_Q, X_EWMA, X_TARGET, X_UP, X_DOWN, X_BURST_END, X_BURST_MULT, X_WAIT, X_RUN = range(9)
NDS = 9
# ---- outputs per record: pool columns, then per deployment ----
O_RS, O_RO, O_PS, O_PO, O_DRAIN, O_DESIRED, O_MIN, O_MAX, O_CPU, O_MEM, O_GPU, O_GPUMEM = range(12)
O_REPLICAS, O_QUEUE, O_LAT, O_REQ, O_SERVED, O_NS_SPOT, O_NS_OD = range(12, 19)
NOUT_POOL = 19
Q_ARR, Q_SERVED, Q_QUEUE, Q_REP, Q_TARGET, Q_LAT = range(6)
NOUT_DEP = 6
# how a column is reduced over the `rec` steps of one record: 0 mean, 1 last, 2 sum
POOL_MODE = np.array([1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 0, 2, 2, 2, 2], dtype=np.int64)
DEP_MODE = np.array([2, 2, 1, 1, 1, 0], dtype=np.int64)
# ---- events ----
K_SCALE_UP, K_SCALE_DOWN, K_PREEMPTION, K_FALLBACK, K_LAUNCH_FAIL, K_COLD, K_RETURN = range(7)
KINDS = ("scale_up", "scale_down", "preemption", "spot_fallback", "launch_failure", "cold_start", "spot_return")
C_NONE, C_SPOT, C_OD = 0, 1, 2
CAPS = ("", "spot", "on_demand")
R_DEMAND, R_MIN, R_REPLACE, R_RETURN, R_UNDER, R_EMPTY, R_ABOVE_MAX, R_SPOT_INT, R_ICE, R_PROVIDER = range(10)
R_ICE_WINDOW, R_TRAFFIC_AT_ZERO, R_RETURNED = range(10, 13)
REASONS = (
    "pending replicas need capacity",
    "below min_nodes",
    "replacing preempted spot nodes",
    "spot capacity is back",
    "underutilized",
    "empty",
    "above max_nodes",
    "spot interruption notice",
    "spot capacity unavailable (ICE)",
    "provider launch error",
    "spot skipped after ICE",
    "traffic arrived with no nodes",
    "on-demand fallback nodes replaced by spot",
)
EV_COLS = 5

_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xBF58476D1CE4E5B9)
_M3 = np.uint64(0x94D049BB133111EB)
_M4 = np.uint64(0xD6E8FEB86659FD93)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_INV53 = 1.0 / 9007199254740992.0

# random streams (pool-level below 16, deployment d uses 16 + 8 d + k)
ST_PREEMPT, ST_ICE, ST_FAIL, ST_RETURN_ICE = 1, 2, 3, 4


def _uniform(seed, step, stream):
    """Uniform [0, 1) from a splitmix64 hash of (seed, step, stream)."""
    x = np.uint64(seed) * _M4 + np.uint64(step) * _M1 + np.uint64(stream) * _M2
    x = (x ^ (x >> _S30)) * _M2
    x = (x ^ (x >> _S27)) * _M3
    x = x ^ (x >> _S31)
    return float(x >> _S11) * _INV53


def _poisson(mean, seed, step, stream):
    if mean <= 0.0:
        return 0.0
    if mean < 12.0:  # inverse transform, one uniform; above: normal approximation
        u = _uniform(seed, step, stream)
        k = 0
        p = math.exp(-mean)
        c = p
        while u > c and k < 200:
            k += 1
            p *= mean / k
            c += p
        return float(k)
    u1 = _uniform(seed, step, stream)
    u2 = _uniform(seed, step, stream + 100000)
    z = math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)
    return max(0.0, math.floor(mean + math.sqrt(mean) * z + 0.5))


def _binomial(n, p, seed, step, stream):
    """Inverse-transform binomial with one uniform (n is small: nodes of one pool)."""
    if n <= 0.0 or p <= 0.0:
        return 0.0
    if p >= 1.0:
        return n
    u = _uniform(seed, step, stream)
    if u < 1.0 - n * p:  # (1-p)^n >= 1 - n p: most steps end here without a pow()
        return 0.0
    q = 1.0 - p
    pk = q ** n
    c = pk
    k = 0.0
    while u > c and k < n:
        pk *= (n - k) / (k + 1.0) * p / q
        k += 1.0
        c += pk
    return k


def _event(ev, ev_n, p, step, kind, count, cap, reason):
    i = ev_n[p]
    if i < ev.shape[1]:
        ev[p, i, 0] = step
        ev[p, i, 1] = kind
        ev[p, i, 2] = count
        ev[p, i, 3] = cap
        ev[p, i, 4] = reason
    ev_n[p] = i + 1


def _launch(pp, ps, ring, ev, ev_n, p, step, t, n, reason, allow_spot):
    """Launch n nodes: spot first (unless in the ICE skip window), else on-demand fallback."""
    R = ring.shape[2]
    prov = int(pp[p, P_PROV])
    if prov > R - 1:
        prov = R - 1
    slot = (step + prov) % R
    seed = pp[p, P_SEED]
    cap = C_OD
    if pp[p, P_SPOT] > 0.5 and allow_spot:
        if t >= ps[p, S_ICE_UNTIL]:
            if _uniform(seed, step, ST_ICE) < pp[p, P_ICE_P]:
                ps[p, S_ICE_UNTIL] = t + pp[p, P_ICE_TTL]
                _event(ev, ev_n, p, step, K_FALLBACK, n, C_OD, R_ICE)
            else:
                cap = C_SPOT
        if cap == C_OD:
            if pp[p, P_STRICT] > 0.5:
                return 0.0
            ps[p, S_FALLBACK] += n
    if cap == C_SPOT:
        ring[p, 0, slot] += n
        ps[p, S_PS] += n
    else:
        ring[p, 1, slot] += n
        ps[p, S_PO] += n
    _event(ev, ev_n, p, step, K_SCALE_UP, n, cap, reason)
    return n


def _remove_ready(ps, p, n, od_first):
    """Remove up to n ready nodes (on-demand first: cheaper to keep spot). Returns (spot, od)."""
    ro = 0.0
    rs = 0.0
    if od_first:
        ro = min(n, ps[p, S_RO])
        rs = min(n - ro, ps[p, S_RS])
    else:
        rs = min(n, ps[p, S_RS])
        ro = min(n - rs, ps[p, S_RO])
    ps[p, S_RO] -= ro
    ps[p, S_RS] -= rs
    if ps[p, S_FALLBACK] > ps[p, S_RO] + ps[p, S_PO]:
        ps[p, S_FALLBACK] = ps[p, S_RO] + ps[p, S_PO]
    return rs, ro


def _run_pool(p, pp, dp, ps, ds, ring, trace, step0, n, dt, origin, rec, out, ev, ev_n):
    R = ring.shape[2]
    D = dp.shape[1]
    seed = pp[p, P_SEED]
    inv_rec = 1.0 / rec
    for i in range(n):
        step = step0 + i
        t = origin + step * dt
        slot = step % R
        row = i // rec
        last = (i % rec) == rec - 1
        # 1. pending launches land; some fail and retry after a backoff (still pending)
        ls = ring[p, 0, slot]
        lo = ring[p, 1, slot]
        ld = ring[p, 2, slot]
        ring[p, 0, slot] = 0.0
        ring[p, 1, slot] = 0.0
        ring[p, 2, slot] = 0.0
        if ls + lo > 0.0:
            k = _binomial(ls + lo, pp[p, P_FAIL_P], seed, step, ST_FAIL)
            ks = 0.0
            ko = 0.0
            if k > 0.0:
                ks = min(ls, math.floor(k * ls / (ls + lo) + 0.5))
                ko = min(lo, k - ks)
                ks = k - ko
                b = ps[p, S_BACKOFF]
                if b <= 0.0:
                    b = pp[p, P_BACKOFF0]
                bsteps = int(math.ceil(b / dt))
                if bsteps > R - 1:
                    bsteps = R - 1
                if bsteps < 1:
                    bsteps = 1
                rslot = (step + bsteps) % R
                ring[p, 0, rslot] += ks
                ring[p, 1, rslot] += ko
                ps[p, S_BACKOFF] = min(2.0 * b, pp[p, P_BACKOFF_MAX])
                _event(ev, ev_n, p, step, K_LAUNCH_FAIL, k, C_SPOT if ks >= ko else C_OD, R_PROVIDER)
            if ls + lo - k > 0.0:
                ps[p, S_BACKOFF] = 0.0 if k == 0.0 else ps[p, S_BACKOFF]
                ps[p, S_EVER_READY] = 1.0
            ps[p, S_RS] += ls - ks
            ps[p, S_RO] += lo - ko
            ps[p, S_PS] -= ls - ks
            ps[p, S_PO] -= lo - ko
        ps[p, S_DRAIN] -= ld
        # spot return: once the replacement spot nodes are up, retire the fallback on-demand ones
        if ps[p, S_SWAP_N] > 0.0 and t >= ps[p, S_SWAP_DUE]:
            m = min(ps[p, S_SWAP_N], ps[p, S_FALLBACK], ps[p, S_RO])
            if m > 0.0:
                ps[p, S_RO] -= m
                ps[p, S_FALLBACK] -= m
                _event(ev, ev_n, p, step, K_SCALE_DOWN, m, C_OD, R_RETURNED)
            ps[p, S_SWAP_N] = 0.0
        # 2. spot preemption: nodes drain for the notice, replacements launch now (Karpenter)
        if ps[p, S_RS] > 0.0 and pp[p, P_HAZARD] > 0.0:
            k = _binomial(ps[p, S_RS], pp[p, P_HAZARD] * dt, seed, step, ST_PREEMPT)
            if k > 0.0:
                ps[p, S_RS] -= k
                nsteps = int(pp[p, P_NOTICE])
                if nsteps > 0:
                    if nsteps > R - 1:
                        nsteps = R - 1
                    ring[p, 2, (step + nsteps) % R] += k
                    ps[p, S_DRAIN] += k
                _event(ev, ev_n, p, step, K_PREEMPTION, k, C_SPOT, R_SPOT_INT)
                _launch(pp, ps, ring, ev, ev_n, p, step, t, k, R_REPLACE, True)
        # 3. demand, replica autoscaling, placement and serving, per deployment
        avail = ps[p, S_RS] + ps[p, S_RO]
        need_units = 0.0
        cpu_used = 0.0
        mem_used = 0.0
        gpu_used = 0.0
        gmem_used = 0.0
        rep_sum = 0.0
        q_sum = 0.0
        lat_max = 0.0
        arr_sum = 0.0
        srv_sum = 0.0
        hour = (t / 3600.0) % 24.0
        dow = int(math.floor(t / 86400.0 + 4.0)) % 7  # 1970-01-01 was a Thursday; 0 = Sunday
        for d in range(D):
            if dp[p, d, D_ACTIVE] < 0.5:
                continue
            st = 16 + 8 * d
            if dp[p, d, D_TRACE] > 0.5:
                lam = trace[int(pp[p, P_TRACE_ROW]), d, i]  # rows may be shared by pools
            else:
                lam = dp[p, d, D_BASE] * (
                    1.0 + dp[p, d, D_AMP] * math.cos(2.0 * math.pi * (hour - dp[p, d, D_PEAK]) / 24.0)
                )
                if dow == 0 or dow == 6:
                    lam *= dp[p, d, D_WEEKEND]
                if t >= ds[p, d, X_BURST_END] and (
                    _uniform(seed, step, st + 1) < dp[p, d, D_BURSTS] * dt / 86400.0
                ):
                    ds[p, d, X_BURST_END] = t + dp[p, d, D_BMIN] + _uniform(seed, step, st + 2) * (
                        dp[p, d, D_BMAX] - dp[p, d, D_BMIN]
                    )
                    ds[p, d, X_BURST_MULT] = dp[p, d, D_BLO] + _uniform(seed, step, st + 3) * (
                        dp[p, d, D_BHI] - dp[p, d, D_BLO]
                    )
                if t < ds[p, d, X_BURST_END]:
                    lam *= ds[p, d, X_BURST_MULT]
            if lam < 0.0:
                lam = 0.0
            if dp[p, d, D_NOISE] > 1.5:
                a = lam  # the trace holds this step's arrivals, drawn beforehand (draw_arrivals)
            elif dp[p, d, D_NOISE] > 0.5:
                a = _poisson(lam * dt, seed, step, st)
            else:
                a = lam * dt
            hist = dp[p, d, D_HIST]
            alpha = 1.0 if hist <= dt else dt / hist
            ds[p, d, X_EWMA] += alpha * (a / dt - ds[p, d, X_EWMA])
            q = ds[p, d, X_Q]
            service = dp[p, d, D_SERVICE]
            conc = dp[p, d, D_CONC]
            rate_rep = conc / service
            want = math.ceil(
                (ds[p, d, X_EWMA] + q / pp[p, P_DRAIN_TAU]) / (rate_rep * dp[p, d, D_TUTIL]) - 1e-9
            )
            want = min(max(want, dp[p, d, D_MINR]), dp[p, d, D_MAXR])
            target = ds[p, d, X_TARGET]
            if target < 0.5 and (a > 0.0 or q > 0.0) and dp[p, d, D_MAXR] >= 1.0:
                target = max(1.0, want)  # activation from zero is immediate (KEDA, AS §1.7)
                ds[p, d, X_UP] = 0.0
                ds[p, d, X_DOWN] = 0.0
            elif want > target:
                ds[p, d, X_UP] += dt
                ds[p, d, X_DOWN] = 0.0
                if ds[p, d, X_UP] >= dp[p, d, D_UPD]:
                    target = want
                    ds[p, d, X_UP] = 0.0
            elif want < target:
                ds[p, d, X_DOWN] += dt
                ds[p, d, X_UP] = 0.0
                if want < 0.5:
                    if ds[p, d, X_DOWN] >= dp[p, d, D_ZEROD]:
                        target = 0.0
                        ds[p, d, X_DOWN] = 0.0
                    elif ds[p, d, X_DOWN] >= dp[p, d, D_DOWND] and target > 1.0:
                        target = 1.0
                elif ds[p, d, X_DOWN] >= dp[p, d, D_DOWND]:
                    target = want
                    ds[p, d, X_DOWN] = 0.0
            else:
                ds[p, d, X_UP] = 0.0
                ds[p, d, X_DOWN] = 0.0
            ds[p, d, X_TARGET] = target
            # placement on ready nodes, in deployment order
            rpn = dp[p, d, D_RPN]
            run = 0.0
            if rpn > 0.0:
                f = 1.0 / rpn if dp[p, d, D_PACK] > 0.5 else 1.0
                run = min(target, math.floor(avail / f + 1e-9))
                avail -= run * f
                need_units += target * f
            ds[p, d, X_RUN] = run
            # serve (fluid): capacity of the running replicas this step
            cap = run * conc * dt / service
            total = q + a
            served = min(total, cap)
            q = total - served
            ds[p, d, X_Q] = q
            busy = served / cap if cap > 0.0 else 0.0
            if q > 0.0 and cap <= 0.0:
                ds[p, d, X_WAIT] += dt
                lat = service + ds[p, d, X_WAIT]
            else:
                ds[p, d, X_WAIT] = 0.0
                lat = service + (q * dt / served if served > 0.0 else 0.0)
            # hardware use (assumed shares of the replica's request; see _run.py docstring)
            cpu_used += run * dp[p, d, D_CPU] * (0.1 + 0.9 * busy)
            mem_used += run * dp[p, d, D_MEMR] * (0.6 + 0.4 * busy)
            gpu_used += run * dp[p, d, D_GPUR] * busy
            gmem_used += run * dp[p, d, D_GPUMEMR] * (0.8 + 0.2 * busy)
            rep_sum += run
            q_sum += q
            arr_sum += a
            srv_sum += served
            if lat > lat_max:
                lat_max = lat
            base = NOUT_POOL + d * NOUT_DEP
            out[p, row, base + Q_ARR] += a
            out[p, row, base + Q_SERVED] += served
            out[p, row, base + Q_LAT] += lat * inv_rec
            if last:
                out[p, row, base + Q_QUEUE] = q
                out[p, row, base + Q_REP] = run
                out[p, row, base + Q_TARGET] = target
        # 4. desired nodes: what the target replicas need, within [min, max]
        desired = math.ceil(need_units - 1e-9)
        desired = min(max(desired, pp[p, P_MIN]), pp[p, P_MAX])
        ps[p, S_DESIRED] = desired
        total_nodes = ps[p, S_RS] + ps[p, S_RO] + ps[p, S_PS] + ps[p, S_PO]
        # 5. scale-up (possibly a cold start of an empty pool)
        if desired > total_nodes:
            ps[p, S_UPWAIT] += dt
            if ps[p, S_UPWAIT] >= pp[p, P_UP_DELAY]:
                nnew = desired - total_nodes
                if total_nodes <= 0.0 and need_units > 0.0:
                    _event(ev, ev_n, p, step, K_COLD, nnew, C_NONE, R_TRAFFIC_AT_ZERO)
                reason = R_MIN if total_nodes < pp[p, P_MIN] and need_units <= total_nodes else R_DEMAND
                if _launch(pp, ps, ring, ev, ev_n, p, step, t, nnew, reason, True) > 0.0:
                    ps[p, S_LAST_UP] = t
                ps[p, S_UPWAIT] = 0.0
        else:
            ps[p, S_UPWAIT] = 0.0
        total_nodes = ps[p, S_RS] + ps[p, S_RO] + ps[p, S_PS] + ps[p, S_PO]
        # 5b. max lowered (a PATCH): cancel pending launches first, then remove ready nodes
        if total_nodes > pp[p, P_MAX]:
            excess = total_nodes - pp[p, P_MAX]
            for j in range(R - 1, 0, -1):
                if excess <= 0.0:
                    break
                js = (step + j) % R
                for c in range(2):
                    m = min(excess, ring[p, c, js])
                    ring[p, c, js] -= m
                    ps[p, S_PS + c] -= m
                    excess -= m
            if excess > 0.0:
                _remove_ready(ps, p, excess, True)
            _event(ev, ev_n, p, step, K_SCALE_DOWN, total_nodes - pp[p, P_MAX], C_NONE, R_ABOVE_MAX)
            total_nodes = pp[p, P_MAX]
            if ps[p, S_FALLBACK] > ps[p, S_RO] + ps[p, S_PO]:
                ps[p, S_FALLBACK] = ps[p, S_RO] + ps[p, S_PO]
        # 6. scale-down after the unneeded time, and not too soon after a scale-up (CA)
        if desired < total_nodes:
            ps[p, S_UNNEEDED] += dt
            if ps[p, S_UNNEEDED] >= pp[p, P_UNNEEDED] and t - ps[p, S_LAST_UP] >= pp[p, P_AFTER_ADD]:
                rm = min(total_nodes - desired, pp[p, P_BULK])
                rs, ro = _remove_ready(ps, p, rm, True)
                if ro > 0.0:
                    _event(ev, ev_n, p, step, K_SCALE_DOWN, ro, C_OD, R_EMPTY if rep_sum <= 0.0 else R_UNDER)
                if rs > 0.0:
                    _event(ev, ev_n, p, step, K_SCALE_DOWN, rs, C_SPOT, R_EMPTY if rep_sum <= 0.0 else R_UNDER)
                ps[p, S_UNNEEDED] = 0.0
        else:
            ps[p, S_UNNEEDED] = 0.0
        # 7. back to spot after the ICE skip window: launch spot for the fallback on-demand nodes
        if (
            pp[p, P_SPOT] > 0.5
            and ps[p, S_FALLBACK] > 0.0
            and ps[p, S_SWAP_N] <= 0.0
            and t >= ps[p, S_ICE_UNTIL]
        ):
            total_nodes = ps[p, S_RS] + ps[p, S_RO] + ps[p, S_PS] + ps[p, S_PO]
            k = min(ps[p, S_FALLBACK], ps[p, S_RO], pp[p, P_MAX] - total_nodes)
            if k > 0.0:
                if _uniform(seed, step, ST_RETURN_ICE) < pp[p, P_ICE_P]:
                    ps[p, S_ICE_UNTIL] = t + pp[p, P_ICE_TTL]
                else:
                    prov = int(pp[p, P_PROV])
                    if prov > R - 1:
                        prov = R - 1
                    ring[p, 0, (step + prov) % R] += k
                    ps[p, S_PS] += k
                    ps[p, S_SWAP_N] = k
                    ps[p, S_SWAP_DUE] = t + prov * dt
                    _event(ev, ev_n, p, step, K_RETURN, k, C_SPOT, R_RETURN)
        # 8. record (node counts at the end of the step; paid node-seconds include boot and drain)
        if ps[p, S_RS] + ps[p, S_RO] > 0.0:
            ps[p, S_EVER_READY] = 1.0
        ready = ps[p, S_RS] + ps[p, S_RO]
        if ready > 0.0:
            if pp[p, P_VCPU] > 0.0:
                out[p, row, O_CPU] += 100.0 * min(1.0, cpu_used / (ready * pp[p, P_VCPU])) * inv_rec
            if pp[p, P_MEM] > 0.0:
                out[p, row, O_MEM] += 100.0 * min(1.0, mem_used / (ready * pp[p, P_MEM])) * inv_rec
            if pp[p, P_GPUS] > 0.0:
                out[p, row, O_GPU] += 100.0 * min(1.0, gpu_used / (ready * pp[p, P_GPUS])) * inv_rec
                if pp[p, P_GPU_MEM] > 0.0:
                    out[p, row, O_GPUMEM] += (
                        100.0 * min(1.0, gmem_used / (ready * pp[p, P_GPUS] * pp[p, P_GPU_MEM])) * inv_rec
                    )
        out[p, row, O_LAT] += lat_max * inv_rec
        out[p, row, O_REQ] += arr_sum
        out[p, row, O_SERVED] += srv_sum
        out[p, row, O_NS_SPOT] += (ps[p, S_RS] + ps[p, S_PS] + ps[p, S_DRAIN]) * dt
        out[p, row, O_NS_OD] += (ps[p, S_RO] + ps[p, S_PO]) * dt
        if last:
            out[p, row, O_RS] = ps[p, S_RS]
            out[p, row, O_RO] = ps[p, S_RO]
            out[p, row, O_PS] = ps[p, S_PS]
            out[p, row, O_PO] = ps[p, S_PO]
            out[p, row, O_DRAIN] = ps[p, S_DRAIN]
            out[p, row, O_DESIRED] = desired
            out[p, row, O_MIN] = pp[p, P_MIN]
            out[p, row, O_MAX] = pp[p, P_MAX]
            out[p, row, O_REPLICAS] = rep_sum
            out[p, row, O_QUEUE] = q_sum


def _draw_arrivals(rates, seed, step0, dt, slot, out):
    """The Poisson arrivals deployment `slot` of a pool with `seed` draws at each step of a
    trace: the kernel's own draws, so a run fed these (noise mode 2) is the same run."""
    st = 16 + 8 * slot
    for i in range(rates.shape[0]):
        lam = rates[i]
        if lam < 0.0:
            lam = 0.0
        out[i] = _poisson(lam * dt, seed, step0 + i, st)


def _run_all(pp, dp, ps, ds, ring, trace, step0, n, dt, origin, rec, out, ev, ev_n):
    for p in prange(pp.shape[0]):
        _run_pool(p, pp, dp, ps, ds, ring, trace, step0, n, dt, origin, rec, out, ev, ev_n)


def _run_each(pp, dp, ps, ds, ring, trace, step0, n, dt, origin, rec, out, ev, ev_n):
    for p in range(pp.shape[0]):
        _run_pool(p, pp, dp, ps, ds, ring, trace, step0, n, dt, origin, rec, out, ev, ev_n)


# ---- compiled versions (cached on disk) and the plain-Python twin ----------------------------
_PY = {
    "_uniform": _uniform,
    "_poisson": _poisson,
    "_binomial": _binomial,
    "_event": _event,
    "_launch": _launch,
    "_remove_ready": _remove_ready,
    "_run_pool": _run_pool,
    "_run_all": _run_all,
}


def _reference_namespace() -> dict:
    """The kernel's functions, rebound to a namespace where every helper is plain Python."""
    ns = dict(globals())
    ns["prange"] = range
    for name, fn in _PY.items():
        ns[name] = types.FunctionType(fn.__code__, ns, name, fn.__defaults__, fn.__closure__)
    return ns


_REF = _reference_namespace()


def reference_run(*args) -> None:
    """Plain-Python execution of the same step function (slow; for tests)."""
    with np.errstate(over="ignore"):
        _REF["_run_all"](*args)


_uniform = njit(cache=True, inline="always")(_uniform)
_poisson = njit(cache=True, error_model="numpy")(_poisson)
_binomial = njit(cache=True, error_model="numpy")(_binomial)
_event = njit(cache=True, error_model="numpy")(_event)
_launch = njit(cache=True, error_model="numpy")(_launch)
_remove_ready = njit(cache=True, error_model="numpy")(_remove_ready)
_run_pool = njit(cache=True, error_model="numpy")(_run_pool)
draw_arrivals = njit(cache=True, error_model="numpy")(_draw_arrivals)
# one pool: no thread start-up; nogil: the local server's event loop answers meanwhile
run_serial = njit(cache=True, nogil=True, error_model="numpy")(_run_each)
run_parallel = njit(cache=True, parallel=True, error_model="numpy")(_run_all)
