"""The wire of the local control plane: limits, `Fail`, camelCase -> snake_case, the parsed
request `Rq` (query, paging, JSON body), and the JSON / error responses."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from compute_widgets.api.errors import StatusCode, http_status_for
from compute_widgets.api.models import visible

MAX_BODY = 1024 * 1024  # bytes
DEFAULT_PER_PAGE = 128
MAX_PER_PAGE = 1000
LOG_PER_PAGE = 32
C = StatusCode


# A read may first be tried on the event loop (`R.try_loop`): code that would have to wait for a
# lock or simulate more than a few steps then raises NeedsThread, and the call reruns in the
# threadpool. Reads only: nothing is written before the raise.
ON_LOOP: ContextVar[bool] = ContextVar("compute_widgets_on_loop", default=False)


class NeedsThread(Exception):
    """Raised on the loop by work that must not run there; the dispatcher retries in a thread."""


class Fail(Exception):
    """A request that cannot be served: answered as status {code, description, details}."""

    def __init__(self, code: int, description: str, details: str = "", http: int | None = None):
        super().__init__(description)
        self.code = int(code)
        self.description = description
        self.details = details
        self.http = http or http_status_for(self.code)


# ------------------------------------------------------------------------------------------------
# wire helpers

_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")
OPAQUE = frozenset({"metadata", "meta", "deployment_metrics"})  # free JSON: keys kept as sent


def snake(key: str) -> str:
    return _CAMEL.sub(r"_\1", key).lower() if not key.islower() else key


def snake_keys(obj: Any) -> Any:
    """camelCase keys -> snake_case, recursively, except inside free-JSON fields."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            k = snake(k) if isinstance(k, str) else k
            out[k] = v if k in OPAQUE else snake_keys(v)
        return out
    if isinstance(obj, list):
        return [snake_keys(v) for v in obj]
    return obj


def new_req_id() -> str:
    return os.urandom(8).hex()


def dumps(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def status_body(code: int, description: str, req_id: str, details: str = "") -> dict[str, Any]:
    status = {"code": code, "description": description, "req_id": req_id}
    if details:
        status["details"] = details
    return {"status": status}


def error_response(f: Fail, req_id: str) -> Response:
    # Errors echo what the client sent (IDs, paths): control characters go out escaped
    # (NUL -> \x00, ESC -> \x1b), so no terminal or notebook that shows the message acts on them.
    return Response(
        dumps(status_body(f.code, visible(f.description), req_id, visible(f.details))),
        status_code=f.http,
        media_type="application/json",
        headers={"X-Clarifai-Request-ID": req_id},
    )


def quote(ids: Iterable[str]) -> str:
    ids = [f"'{visible(i)}'" for i in ids]
    return ids[0] if len(ids) == 1 else ", ".join(ids[:-1]) + " and " + ids[-1]


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


# ------------------------------------------------------------------------------------------------
# request


_DIGITS = re.compile(r"[0-9]+")  # fullmatch: re's \d and int() take any Unicode digit


@dataclass
class Rq:
    """One parsed request: path params, query (snake keys, repeated keys as lists), JSON body."""

    path: dict[str, str]
    query: dict[str, list[str]]
    body: dict[str, Any]
    user: str

    def q1(self, key: str) -> str | None:
        values = self.query.get(key)
        return values[-1] if values else None

    def int_param(self, key: str, default: int, lo: int, hi: int) -> int:
        raw = self.q1(key)
        if raw is None and key in self.body:
            raw = self.body[key]
        if raw is None or raw == "":
            return default
        # ASCII digits only: int() would also take "٣" (Arabic-Indic 3), "1_0", " +3 "
        text = str(raw) if isinstance(raw, int) and not isinstance(raw, bool) else raw
        if not isinstance(text, str) or not _DIGITS.fullmatch(text):
            shown = repr(raw) if len(repr(raw)) <= 40 else repr(raw)[:37] + "…"
            raise Fail(
                C.BAD_REQUEST,
                f"{key} must be a whole number between {lo} and {hi} in ASCII digits 0-9, "
                f"got {shown}.",
            )
        if len(text.lstrip("0")) > len(str(hi)):
            raise Fail(
                C.BAD_REQUEST,
                f"{key} must be between {lo} and {hi}, got a {len(text.lstrip('0'))}-digit number.",
            )
        value = int(text)
        if not lo <= value <= hi:
            raise Fail(C.BAD_REQUEST, f"{key} must be between {lo} and {hi}, got {value}.")
        return value

    def paging(self, default_per_page: int = DEFAULT_PER_PAGE) -> tuple[int, int]:
        """(page, per_page); 0 means unset (proto3: a gRPC client cannot send "absent" for an
        int, so page=0 / per_page=0 arrive for "the default")."""
        return self.page(1), self.per_page(default_per_page)

    def page(self, default: int) -> int:
        return self.int_param("page", default, 0, 10**9) or default

    def per_page(self, default: int) -> int:
        return self.int_param("per_page", default, 0, MAX_PER_PAGE) or default

    def flag(self, key: str) -> bool:
        """A bool request field from the query or body (proto3: false and absent are one)."""
        raw = self.q1(key) if key in self.query else self.body.get(key)
        if raw is None or raw is False or raw == "":
            return False
        if raw is True or str(raw).lower() in ("true", "1"):
            return True
        if str(raw).lower() in ("false", "0"):
            return False
        raise Fail(C.BAD_REQUEST, f"{key} must be true or false, got {str(raw)[:40]!r}.")

    def values(self, key: str) -> list[str]:
        """A repeated request field (query keys repeat; a body gives a list), empties dropped."""
        raw = self.query.get(key) if key in self.query else self.body.get(key)
        if raw is None:
            return []
        items = raw if isinstance(raw, list) else [raw]
        return [str(v) for v in items if v not in (None, "")]


def parse_query(request: Request) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for k, v in request.query_params.multi_items():
        out.setdefault(snake(k), []).append(v)
    return out


async def read_body(request: Request) -> dict[str, Any]:
    return parse_body(await read_raw_body(request))


async def read_raw_body(request: Request) -> bytes:
    """The body's bytes, at most `MAX_BODY` (parsing is separate: it may run off the loop)."""
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise Fail(
                C.CONN_BAD_REQUEST_FORMAT,
                f"The request body is larger than {MAX_BODY} bytes; send smaller batches.",
                http=413,
            )
        chunks.append(chunk)
    return b"".join(chunks)


def parse_body(raw: bytes) -> dict[str, Any]:
    """The JSON object of a request body, keys in snake_case; `Fail` if it is not one."""
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as e:
        raise Fail(C.CONN_BAD_REQUEST_FORMAT, f"The request body is not valid JSON: {e}.") from None
    if not isinstance(data, dict):
        raise Fail(
            C.CONN_BAD_REQUEST_FORMAT,
            f"The request body must be a JSON object, got {type(data).__name__}.",
        )
    try:
        return snake_keys(data)
    except RecursionError:
        raise Fail(C.CONN_BAD_REQUEST_FORMAT, "The request body is nested too deeply.") from None
