"""Loaded only by `.ci/pinned-clock` (on PYTHONPATH): make time.sleep work under libfaketime.

Debian's libfaketime 0.9.10 breaks Python 3.11 either way: with the monotonic clock faked,
threading waits with a timeout (sem_clockwait on CLOCK_MONOTONIC) never return (libfaketime
issue 390); with it left real (FAKETIME_DONT_FAKE_MONOTONIC=1), time.sleep's
clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME) gets a shifted deadline and fails with EINVAL
(issue 426). The script leaves the monotonic clock real, and this sleeps with select() instead.
"""

import os
import select
import time

if "faketime" in os.environ.get("LD_PRELOAD", "") and os.environ.get(
    "FAKETIME_DONT_FAKE_MONOTONIC"
):
    _monotonic = time.monotonic

    def _sleep(seconds: float) -> None:
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        end = _monotonic() + seconds
        while (left := end - _monotonic()) > 0:
            select.select([], [], [], left)

    time.sleep = _sleep
