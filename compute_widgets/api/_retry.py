"""When to retry a request and how long to wait: pure decisions, no I/O.

A failed attempt falls in one of three classes:

* **not processed** — the server never acted on the request: the connection could not be
  opened (connect error/timeout, pool timeout), or the server refused it (HTTP 429 or 503,
  status CONN_THROTTLED / CONN_EXCEED_HOURLY_LIMIT). Safe to retry for every request.
* **ambiguous** — the request may have been applied: read/write timeout, dropped connection,
  HTTP 502/504 from a gateway. Retried for idempotent calls (GET, DELETE, PATCH overwrite,
  metric queries, set status) and for creates, whose IDs are chosen by the client so a repeat
  cannot make a second resource — at worst it answers "already exists" (see `client.py` for how
  that answer is reconciled). Not retried for calls marked ``once`` (advance the local clock,
  PATCH merge) where a repeat would apply twice.
* **final** — everything else, including every other 4xx: the server called the request wrong
  and repeating it cannot help.

Waits are exponential with full jitter (``uniform(0, min(cap, base * 2**n))``, AWS
architecture blog "Exponential Backoff And Jitter"); a ``Retry-After`` header from the server
wins over the computed wait. A ``Retry-After`` longer than ``max_retry_after`` is not slept
through: the error is raised at once with the wait in its message.
"""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass
from typing import Literal

import httpx

RetryMode = Literal["idempotent", "create", "once"]

# HTTP statuses that mean "the server did not process this, come back later".
NOT_PROCESSED_STATUS = frozenset({429, 503})
# Gateway answers: the upstream may or may not have applied the request.
AMBIGUOUS_STATUS = frozenset({502, 504})
# Clarifai status codes the official SDK retries on.
THROTTLE_CODES = frozenset({11005, 11003})  # CONN_THROTTLED, CONN_EXCEED_HOURLY_LIMIT

# Transport errors raised before a request reached the server.
NOT_SENT_ERRORS: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)
# Transport errors raised after (part of) the request may have been sent.
AMBIGUOUS_ERRORS: tuple[type[Exception], ...] = (
    httpx.ReadTimeout,
    httpx.WriteTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
)


@dataclass(frozen=True)
class RetryPolicy:
    """How many times to retry and how long to wait.

    ``retries`` counts retries, so a call makes at most ``retries + 1`` attempts.
    """

    retries: int = 4
    backoff: float = 0.25  # first wait's upper bound, seconds
    max_backoff: float = 8.0
    max_retry_after: float = 60.0

    def wait(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to sleep after failed attempt number `attempt` (1-based)."""
        if retry_after is not None:
            return max(0.0, retry_after)
        return random.uniform(0.0, min(self.max_backoff, self.backoff * 2 ** (attempt - 1)))


def classify_exception(exc: Exception) -> Literal["not_processed", "ambiguous", "final"]:
    """Class of a transport error (see the module docstring)."""
    if isinstance(exc, NOT_SENT_ERRORS):
        return "not_processed"
    if isinstance(exc, AMBIGUOUS_ERRORS):
        return "ambiguous"
    return "final"


def classify_response(
    http_status: int, code: int | None
) -> Literal["ok", "not_processed", "ambiguous", "final"]:
    """Class of an answer given its HTTP status and Clarifai `status.code` (None if no body)."""
    if code in THROTTLE_CODES or http_status in NOT_PROCESSED_STATUS:
        return "not_processed"
    if http_status in AMBIGUOUS_STATUS:
        return "ambiguous"
    if code == 10000 and http_status < 400:
        return "ok"
    if code is None and http_status < 300:
        return "ok"  # a body without status (local endpoints); the parser decides
    return "final"


def may_retry(mode: RetryMode, failure: str) -> bool:
    """Whether a call in `mode` may be repeated after a failure of class `failure`."""
    if failure == "not_processed":
        return True
    if failure == "ambiguous":
        return mode != "once"
    return False


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds (decimals tolerated) or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())
