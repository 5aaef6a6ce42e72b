"""Traffic in: a request rate (requests/second) at regular steps, from whatever the user has.

How a rate is derived from each source (the docstring of `traffic_from` says the same):

- a built-in pattern: a formula (see PATTERNS), its mean `rps`, bursts from a pinned seed;
- request rates (a Series, a DataFrame column, a CSV column): each sample holds until the next
  one; samples closer than `step` are averaged into the step;
- request timestamps (a datetime Series/Index, a DataFrame/CSV column of them): requests
  counted in each step, divided by the step;
- a nodepool's recorded history: MODEL_REQUEST_COUNT through PostMetricsQuery (the deployments
  on the pool summed), requests per bucket / bucket seconds, held over the bucket's steps.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from compute_widgets.api.models import parse_duration

from .errors import TrafficError

# A fixed Monday 00:00 UTC: built-in patterns are the same whatever the date (weekday effects).
PATTERN_START = datetime(2026, 1, 5, tzinfo=UTC)
DEFAULT_RPS = 3.0  # mean requests/s of a built-in pattern: ~2-3 one-GPU nodes at 4 s x 8 slots
PATTERNS = {
    "steady": "a constant rate",
    "diurnal": "a daily cycle, peak at 15:00 UTC, +-60 %",
    "bursty": "a steady base with ~3 bursts a day of 2-5x lasting 5-20 min",
    "weekday-weekend": "a daily cycle with weekends at 40 % of weekdays",
}
RATE_COLUMNS = ("rps", "rate", "requests_per_second")
TIME_COLUMNS = ("timestamp", "time", "ts")
GAP_FACTOR = 3.0  # a spacing over 3x the median spacing of rate samples is a gap


@dataclass(frozen=True)
class TrafficProfile:
    """Requests per second at regular `step` seconds (`rates`: a Series with a UTC
    DatetimeIndex), where it came from (`source`, in words) and how long it lasts."""

    rates: pd.Series
    source: str
    step: float

    @property
    def duration_s(self) -> float:
        return float(len(self.rates) * self.step)

    @property
    def mean_rps(self) -> float:
        return float(self.rates.mean()) if len(self.rates) else 0.0

    @property
    def peak_rps(self) -> float:
        """The highest one-minute average (what capacity has to follow)."""
        if not len(self.rates):
            return 0.0
        w = max(1, int(round(60.0 / self.step)))
        return float(self.rates.rolling(w, min_periods=1).mean().max())

    def as_trace(self, share: float = 1.0) -> pd.Series:
        """The rates indexed by seconds from the start (what the simulator's Workload.trace reads)."""
        v = self.rates.to_numpy(dtype=np.float64) * share
        return pd.Series(v, index=np.arange(len(v), dtype=np.float64) * self.step)

    def __repr__(self) -> str:
        return (
            f"TrafficProfile({self.source}: {self.duration_s / 86400:.3g} days at {self.step:g} s, "
            f"mean {self.mean_rps:.3g} rps, peak {self.peak_rps:.3g} rps)"
        )


def traffic_from(
    source: Any,
    *,
    client: Any = None,
    range: str | float | timedelta = "7d",  # noqa: A002 - the CLI's word (--range 7d)
    step: float = 10.0,
    rps: float | None = None,
) -> TrafficProfile:
    """A TrafficProfile from `source`:

    - a built-in pattern name ("steady", "diurnal", "bursty", "weekday-weekend"), `range` long
      with a mean of `rps` requests/s (default 3);
    - a pandas Series of request rates (rps; DatetimeIndex or seconds) -- each sample holds
      until the next; several samples in one step are averaged -- or of request timestamps
      (datetime values) -- requests counted per step / step;
    - a DataFrame with a rate column (rps, rate or requests_per_second) and a timestamp column
      (or a DatetimeIndex), or with only a timestamp column (one row per request);
    - a CSV file path of either;
    - a nodepool (an api Nodepool, or "cluster/nodepool" with `client`): its deployments'
      recorded MODEL_REQUEST_COUNT over the last `range` (PostMetricsQuery through the API),
      requests per bucket / bucket seconds, held over the bucket's steps.

    Bad input (empty, NaN gaps, spacing gaps, negative rates, unsorted timestamps, wrong
    columns, unknown pattern) raises TrafficError naming the problem and what to change.
    """
    step = float(step)
    if not (step > 0 and math.isfinite(step)):
        raise TrafficError(f"step={step!r}: give a positive number of seconds (e.g. 10)")
    if isinstance(source, TrafficProfile):
        return source if source.step == step else from_rates(source.rates, step=step, name=source.source)
    if isinstance(source, str) and source.lower() in PATTERNS:
        return pattern(source.lower(), duration=_seconds(range), step=step, rps=rps)
    if _is_nodepool(source, client):
        return from_nodepool(source, client=client, range=range, step=step)
    if isinstance(source, str | os.PathLike):
        return from_csv(source, step=step)
    if isinstance(source, pd.DataFrame):
        return from_frame(source, step=step, name="DataFrame")
    if isinstance(source, pd.DatetimeIndex):
        return from_timestamps(source.to_series(), step=step, name="timestamps")
    if isinstance(source, pd.Series):
        if pd.api.types.is_datetime64_any_dtype(source.dtype):
            return from_timestamps(source, step=step, name=f"timestamps {source.name or ''}".strip())
        return from_rates(source, step=step, name=f"Series {source.name or ''}".strip())
    raise TrafficError(
        f"traffic={type(source).__name__}: give a pattern name ({', '.join(PATTERNS)}), a pandas "
        f"Series/DataFrame of rates or timestamps, a CSV path, or a nodepool"
    )


def _seconds(value: str | float | timedelta) -> float:
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, str):
        try:
            return parse_duration(value)
        except ValueError as e:
            raise TrafficError(f"range={value!r}: {e}") from None
    return float(value)


def _profile(rates: pd.Series, source: str, step: float) -> TrafficProfile:
    if not len(rates):
        raise TrafficError(f"traffic from {source} is empty: give at least one step of traffic")
    return TrafficProfile(rates.astype(np.float64), source, step)


# ---- built-in patterns ------------------------------------------------------------------------


def pattern(name: str, *, duration: float = 7 * 86400.0, step: float = 10.0, rps: float | None = None,
            seed: int = 7) -> TrafficProfile:  # fmt: skip
    """A built-in pattern (PATTERNS) with mean `rps`; bursts come from the pinned `seed`."""
    if name not in PATTERNS:
        raise TrafficError(f"traffic={name!r} is not a built-in pattern: use one of {', '.join(PATTERNS)}")
    mean = DEFAULT_RPS if rps is None else float(rps)
    if not (mean >= 0 and math.isfinite(mean)):
        raise TrafficError(f"rps={rps!r}: give a mean rate of 0 or more requests/second")
    n = int(round(duration / step))
    if n <= 0:
        raise TrafficError(f"range={duration:g} s is shorter than one step of {step:g} s: give a longer range")
    t = np.arange(n) * step
    hour = (t / 3600.0) % 24.0
    day = (t // 86400.0 + PATTERN_START.weekday()) % 7  # 0 = Monday
    if name == "steady":
        r = np.ones(n)
    elif name in ("diurnal", "weekday-weekend"):
        r = 1.0 + 0.6 * np.cos(2 * np.pi * (hour - 15.0) / 24.0)
        if name == "weekday-weekend":
            r = r * np.where(day >= 5, 0.4, 1.0)
    else:  # bursty
        r = np.ones(n)
        rng = np.random.default_rng(seed)
        for _ in range(rng.poisson(3.0 * n * step / 86400.0)):
            at = rng.uniform(0, n * step)
            length = rng.uniform(300.0, 1200.0)
            k0, k1 = int(at // step), int(min(n, (at + length) // step + 1))
            r[k0:k1] *= rng.uniform(2.0, 5.0)
    r = r * (mean / r.mean() if r.mean() > 0 else 0.0)
    index = pd.date_range(PATTERN_START, periods=n, freq=pd.Timedelta(seconds=step), name="timestamp")
    return TrafficProfile(pd.Series(r, index=index, name="rps"), f"pattern {name!r} ({mean:g} rps mean)", step)


# ---- rates and timestamps ---------------------------------------------------------------------


def _seconds_index(index: pd.Index, what: str) -> tuple[np.ndarray, pd.Timestamp]:
    """(seconds from the first, first timestamp) of a DatetimeIndex or a numeric seconds index."""
    if isinstance(index, pd.DatetimeIndex):
        idx = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
        ns = idx.as_unit("ns").asi8
        return (ns - ns[0]) / 1e9, idx[0]
    if pd.api.types.is_numeric_dtype(index.dtype):
        secs = np.asarray(index, dtype=np.float64)
        return secs - secs[0], pd.Timestamp(PATTERN_START) + pd.Timedelta(seconds=float(secs[0]))
    raise TrafficError(f"{what} has an index of {index.dtype}: index the rates by timestamp (DatetimeIndex) or by seconds")


def from_rates(series: pd.Series, *, step: float = 10.0, name: str = "Series") -> TrafficProfile:
    """Request rates (rps) sampled at any regular spacing: each sample holds until the next;
    samples closer than `step` are averaged into their step."""
    if len(series) == 0:
        raise TrafficError(f"{name} is empty: give at least one rate sample")
    if not pd.api.types.is_numeric_dtype(series.dtype):
        raise TrafficError(f"{name} holds {series.dtype} values: give request rates as numbers (requests/second)")
    values = series.to_numpy(dtype=np.float64)
    if np.isnan(values).any():
        at = series.index[int(np.argmax(np.isnan(values)))]
        raise TrafficError(f"{name} has a missing rate (NaN) at {at}: fill it (e.g. .fillna(0) for no requests) or drop the gap")
    if not np.isfinite(values).all():
        raise TrafficError(f"{name} has an infinite rate: give finite requests/second")
    if (values < 0).any():
        at = series.index[int(np.argmax(values < 0))]
        raise TrafficError(f"{name} has a negative rate ({values[values < 0][0]:g}) at {at}: rates are requests/second, 0 or more")
    secs, first = _seconds_index(series.index, name)
    if len(secs) > 1:
        d = np.diff(secs)
        if (d <= 0).any():
            at = series.index[int(np.argmax(d <= 0)) + 1]
            raise TrafficError(f"{name} is not sorted by time (at {at}): sort it (.sort_index()) and drop duplicate timestamps")
        spacing = float(np.median(d))
        if d.max() > GAP_FACTOR * spacing:
            k = int(np.argmax(d))
            raise TrafficError(
                f"{name} has a gap of {d[k]:g} s after {series.index[k]} (samples are {spacing:g} s apart): "
                f"fill it (0 for no requests) or give the part without the gap"
            )
    else:
        spacing = step
    end = secs[-1] + spacing
    n = max(1, int(round(end / step)))
    t = np.arange(n) * step
    # hold: the sample in force at the middle of each step; average when several fall in one
    pos = np.clip(np.searchsorted(secs, t + step / 2.0, side="right") - 1, 0, len(values) - 1)
    held = values[pos]
    if spacing < step:
        bins = np.minimum((secs // step).astype(np.int64), n - 1)
        sums = np.bincount(bins, weights=values, minlength=n)
        counts = np.bincount(bins, minlength=n)
        held = np.where(counts > 0, sums / np.maximum(counts, 1), held)
    index = pd.date_range(first, periods=n, freq=pd.Timedelta(seconds=step), name="timestamp")
    return _profile(pd.Series(held, index=index, name="rps"), f"{name} of rates", step)


def from_timestamps(stamps: pd.Series, *, step: float = 10.0, name: str = "timestamps") -> TrafficProfile:
    """One row per request: requests counted in each step / step."""
    if len(stamps) == 0:
        raise TrafficError(f"{name} is empty: give at least one request timestamp")
    try:
        ts = pd.to_datetime(stamps, utc=True)
    except (ValueError, TypeError) as e:
        raise TrafficError(f"{name} has values that are not timestamps ({e}): give ISO times like 2026-01-05T10:00:00Z") from None
    if ts.isna().any():
        raise TrafficError(f"{name} has a missing timestamp (row {int(np.argmax(ts.isna().to_numpy()))}): drop the empty rows")
    ns = ts.dt.as_unit("ns").astype("int64").to_numpy()
    if len(ns) > 1 and (np.diff(ns) < 0).any():
        k = int(np.argmax(np.diff(ns) < 0)) + 1
        raise TrafficError(f"{name} is not sorted (row {k}, {ts.iloc[k]}, comes before the row above it): sort the requests by time")
    secs = (ns - ns[0]) / 1e9
    n = max(1, int(secs[-1] // step) + 1)
    counts = np.bincount((secs // step).astype(np.int64), minlength=n)[:n]
    index = pd.date_range(ts.iloc[0].floor(f"{int(step * 1000)}ms"), periods=n, freq=pd.Timedelta(seconds=step),
                          name="timestamp")  # fmt: skip
    return _profile(pd.Series(counts / step, index=index, name="rps"), f"{name} ({len(ns):,} requests)", step)


def from_frame(df: pd.DataFrame, *, step: float = 10.0, name: str = "DataFrame") -> TrafficProfile:
    """A rate column (with a timestamp column or a DatetimeIndex), or a timestamp column alone."""
    cols = {str(c).lower(): c for c in df.columns}
    rate = next((cols[c] for c in RATE_COLUMNS if c in cols), None)
    time = next((cols[c] for c in TIME_COLUMNS if c in cols), None)
    if rate is not None:
        s = df[rate]
        if time is not None:
            try:
                idx = pd.DatetimeIndex(pd.to_datetime(df[time], utc=True))
            except (ValueError, TypeError):
                raise TrafficError(f"{name} column {time!r} has values that are not timestamps: give ISO times") from None
            s = pd.Series(s.to_numpy(), index=idx, name=rate)
        return from_rates(s, step=step, name=f"{name} column {rate!r}")
    if time is not None:
        return from_timestamps(df[time], step=step, name=f"{name} column {time!r}")
    raise TrafficError(
        f"{name} has columns {list(map(str, df.columns))}: give a rate column ({', '.join(RATE_COLUMNS)}) "
        f"with a timestamp column, or a timestamp column ({', '.join(TIME_COLUMNS)}) with one row per request"
    )


def from_csv(path: str | os.PathLike, *, step: float = 10.0) -> TrafficProfile:
    """A CSV of rates or of request timestamps (the columns as `from_frame` reads them)."""
    p = os.fspath(path)
    if not os.path.isfile(p):
        raise TrafficError(f"traffic={p!r} is neither a pattern ({', '.join(PATTERNS)}) nor a file: give a CSV path that exists")
    try:
        df = pd.read_csv(p)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise TrafficError(f"{os.path.basename(p)} is not a readable CSV ({str(e).splitlines()[0]}): save it as CSV with a header row") from None
    return from_frame(df, step=step, name=os.path.basename(p))


# ---- a nodepool's recorded history -------------------------------------------------------------


def _is_nodepool(source: Any, client: Any) -> bool:
    if type(source).__name__ == "Nodepool" and hasattr(source, "to_wire"):
        return True
    return (
        client is not None
        and isinstance(source, str)
        and source.count("/") == 1
        and not source.lower().endswith(".csv")
        and not os.path.exists(source)
    )


def nodepool_ids(source: Any) -> tuple[str, str]:
    """(cluster id, nodepool id) of an api Nodepool or a "cluster/nodepool" string."""
    if isinstance(source, str):
        cc, _, np_ = source.partition("/")
        if not cc or not np_:
            raise TrafficError(f"nodepool={source!r}: write it as CLUSTER/NODEPOOL")
        return cc, np_
    cc = source.compute_cluster.id if source.compute_cluster is not None else ""
    if not cc:
        raise TrafficError(f"nodepool {source.id!r} does not say its cluster: fetch it with client.get_nodepool(cluster, id)")
    return cc, source.id


def from_nodepool(source: Any, *, client: Any, range: str | float | timedelta = "7d", step: float = 10.0) -> TrafficProfile:  # noqa: A002
    """The deployments' recorded requests on a nodepool over the last `range` (through the API)."""
    if client is None:
        raise TrafficError("traffic from a nodepool needs client=: pass the client that sees it (cw.connect())")
    cc, np_ = nodepool_ids(source)
    span = _seconds(range)
    # whole minutes, at most 20,000 points a series (the API's cap)
    res_min = max(1, math.ceil(span / 60.0 / 20000.0))
    df = client.query_metrics(
        "MODEL_REQUEST_COUNT",
        start=timedelta(seconds=span),
        resolution=f"{res_min}m",
        filters={"COMPUTE_CLUSTER_ID": cc, "NODEPOOL_ID": np_},
        aggregate="SUM",
    )
    where = f"nodepool {cc}/{np_}"
    if df is None or not len(df):
        raise TrafficError(f"{where} has no recorded requests in the last {range}: give traffic= a pattern, a Series or a CSV instead")
    per = df.groupby("timestamp")["value"].sum().sort_index()
    bucket = res_min * 60.0
    # buckets with no point between the first and last had no requests (no series sample)
    full = pd.date_range(per.index[0], per.index[-1], freq=pd.Timedelta(seconds=bucket))
    per = per.reindex(full, fill_value=0.0)
    per_step = max(1, int(round(bucket / step)))
    rates = np.repeat(per.to_numpy(dtype=np.float64) / bucket, per_step)
    index = pd.date_range(per.index[0], periods=len(rates), freq=pd.Timedelta(seconds=step), name="timestamp")
    return _profile(pd.Series(rates, index=index, name="rps"), f"{where} history ({range})", step)
