"""The simulated clock: pinned start for deterministic runs, and a cap on how far it may run ahead."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from compute_widgets.local.clock import (
    ANCHOR_ENV,
    MAX_ADVANCE_SECONDS,
    MAX_OFFSET_SECONDS,
    START_ENV,
    Clock,
)
from compute_widgets.local.store import Store

TEN_YEARS = 10 * 365 * 86400.0


class Wall:
    """A wall clock the test moves by hand."""

    def __init__(self, at: str) -> None:
        self.t = datetime.fromisoformat(at)

    def __call__(self) -> datetime:
        return self.t


def test_pinned_clock_starts_at_start_and_runs_with_the_wall_from_the_anchor():
    wall = Wall("2026-11-30T15:00:00+00:00")
    clock = Clock(120.0, wall=wall, start="2026-01-05T09:00:00Z")
    assert clock.pinned and clock.now() == datetime(2026, 1, 5, 9, 2, tzinfo=UTC)
    wall.t += timedelta(hours=3)
    assert clock.now() == datetime(2026, 1, 5, 12, 2, tzinfo=UTC)
    clock.advance(3600)
    assert clock.now() == datetime(2026, 1, 5, 13, 2, tzinfo=UTC) and clock.offset_seconds == 3720
    # an anchor in the past: the simulated time has run on since then (a restarted server)
    anchor = wall().timestamp() - 600
    later = Clock(0.0, wall=wall, start="2026-01-05T09:00:00Z", anchor=anchor)
    assert later.now() == datetime(2026, 1, 5, 9, 10, tzinfo=UTC)


def test_unpinned_clock_is_wall_plus_offset():
    wall = Wall("2026-11-30T15:00:00+00:00")
    clock = Clock(60.0, wall=wall)
    assert not clock.pinned and clock.now() == datetime(2026, 11, 30, 15, 1, tzinfo=UTC)


def test_from_env_reads_start_and_anchor_and_names_a_bad_value():
    env = {START_ENV: "2026-11-28T03:00:00Z", ANCHOR_ENV: repr(time.time())}
    clock = Clock.from_env(0.0, environ=env)
    assert clock.pinned and abs(clock.now() - datetime(2026, 11, 28, 3, tzinfo=UTC)) < timedelta(
        minutes=1
    )
    assert not Clock.from_env(0.0, environ={}).pinned
    bad = [
        ({START_ENV: "Monday 9am"}, "RFC 3339"),
        ({START_ENV: "2026-01-05T09:00:00"}, "time zone"),
        ({START_ENV: "9999-01-05T09:00:00Z"}, "between 1970 and 9000"),
        ({START_ENV: "2026-01-05T09:00:00Z", ANCHOR_ENV: "yesterday"}, "POSIX seconds"),
        ({ANCHOR_ENV: "1764000000"}, START_ENV),
    ]
    for environ, words in bad:
        with pytest.raises(ValueError) as e:
            Clock.from_env(0.0, environ=environ)
        assert words in str(e.value) and "\n" not in str(e.value)
        assert (START_ENV in str(e.value)) or (ANCHOR_ENV in str(e.value))


def test_offset_is_capped_at_100_years_with_an_error_that_says_the_limit():
    saved = []
    clock = Clock(0.0, on_change=saved.append)
    for _ in range(10):
        clock.advance(TEN_YEARS)
    assert clock.offset_seconds == MAX_OFFSET_SECONDS == 10 * TEN_YEARS
    with pytest.raises(ValueError) as e:
        clock.advance(1)
    assert "100 years" in str(e.value) and "at most 0 more seconds" in str(e.value)
    assert clock.offset_seconds == MAX_OFFSET_SECONDS and len(saved) == 10  # nothing written
    clock.now()  # still tells the time
    for bad in (-1, float("nan"), float("inf"), MAX_ADVANCE_SECONDS + 1):
        with pytest.raises(ValueError, match="seconds must be between 0"):
            Clock().advance(bad)


def test_an_offset_saved_beyond_the_cap_is_kept_but_cannot_grow():
    # 797 ten-year advances (year 9991) were accepted before the cap; the 798th overflowed now()
    clock = Clock(797 * TEN_YEARS)
    assert clock.offset_seconds == 797 * TEN_YEARS and clock.now().year >= 9990
    with pytest.raises(ValueError, match="at most 0 more seconds"):
        clock.advance(TEN_YEARS)
    assert clock.now().year >= 9990  # the refused advance changed nothing
    assert Clock(float("nan")).offset_seconds == 0.0 and Clock(-5.0).offset_seconds == 0.0
    with pytest.raises(ValueError, match="past year 9999"):
        Clock(1e300)


def _post(url, token, path, body=None):
    with httpx.Client(
        base_url=url, headers={"Authorization": f"Key {token}"}, timeout=30, trust_env=False
    ) as h:
        return h.post(path, json=body) if body is not None else h.get(path)


def test_server_answers_400_past_the_cap_and_stays_healthy(fresh_server):
    url, token = fresh_server.url, fresh_server.token
    for _ in range(10):
        assert _post(url, token, "/local/clock/advance", {"seconds": TEN_YEARS}).status_code == 200
    r = _post(url, token, "/local/clock/advance", {"seconds": TEN_YEARS})
    assert r.status_code == 400
    message = r.json()["status"]["description"] + " " + r.json()["status"].get("details", "")
    assert "100 years" in message and "seconds" in message
    health = _post(url, token, "/local/health")
    assert health.status_code == 200
    assert _post(url, token, "/local/clock").json()["offset_seconds"] == MAX_OFFSET_SECONDS


def test_server_with_797_ten_year_advances_saved_refuses_the_next_with_400(tmp_path):
    """The reported attack: after 797 ten-year advances the next one answered 500
    (OverflowError) and /local/health stayed 500; now a 400 and the server stays healthy."""
    from compute_widgets.local.runtime import STORE_FILE, start_server, stop_server

    handle = start_server(data_dir=tmp_path / "cp", port=0)
    stop_server(handle)
    store = Store(handle.data_dir / STORE_FILE)
    store.set_clock_offset(797 * TEN_YEARS)  # what 797 advances saved before the cap existed
    store.close()
    handle = start_server(data_dir=tmp_path / "cp", port=0)
    try:
        r = _post(handle.url, handle.token, "/local/clock/advance", {"seconds": TEN_YEARS})
        assert r.status_code == 400 and "100 years" in r.json()["status"]["description"]
        health = _post(handle.url, handle.token, "/local/health")
        assert health.status_code == 200 and health.json()["now"] >= "9990"
    finally:
        stop_server(handle)


def test_session_servers_run_on_the_pinned_clock(server):
    """tests/conftest.py pins the clock: the server's now is the start plus the time since the
    anchor plus what tests advanced, whatever the wall clock says."""
    import os

    start = datetime.fromisoformat(os.environ[START_ENV].replace("Z", "+00:00"))
    anchor = float(os.environ[ANCHOR_ENV])
    body = _post(server.url, server.token, "/local/clock").json()
    now = datetime.fromisoformat(body["now"].replace("Z", "+00:00"))
    expected = start + timedelta(seconds=time.time() - anchor + body["offset_seconds"])
    assert abs((now - expected).total_seconds()) < 120  # unpinned: months away
