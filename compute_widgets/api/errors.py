"""Every failure compute_widgets raises on purpose, documented in one place (this tree).

Exception tree (every ComputeError subclass in the package; tests/test_errors.py holds the tree
to the classes defined, so a new one is added here)::

    ComputeError                      base of everything compute_widgets raises
    ├── InvalidInput (+ ValueError)   a field failed validation; .problems lists every one
    │   └── ConfigError               ... in a YAML config file (api/config.py): file, key, line
    ├── ApiError                      the server answered with a non-success status.code
    ├── ConnectionFailed              the server could not be reached (after retries)
    ├── NotConfigured                 connect() found no backend to talk to (settings.py)
    ├── ApplyError                    a config apply failed half-way (api/config.py): .done, .item
    └── ServerError                   the local control plane could not start, be found or stop
                                      (local/runtime.py)

`ApiError` carries Clarifai's status (code, code name, description, details, req_id) and the
HTTP status; its message is one line a person can act on. No message ever contains a token:
`redact()` scrubs `Key <token>` / `Authorization:` values and any secret the caller names.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from compute_widgets.api._secrets import redact  # defined with Secret; re-exported here

__all__ = [
    "ApiError",
    "ComputeError",
    "ConnectionFailed",
    "InvalidInput",
    "NotConfigured",
    "Problem",
    "RETRYABLE_CODES",
    "StatusCode",
    "http_status_for",
    "redact",
    "status_code_name",
]


class StatusCode(IntEnum):
    """The Clarifai `status.code` values compute_widgets deals with (clarifai-api.md §2.9)."""

    SUCCESS = 10000
    MIXED_STATUS = 10010
    FAILURE = 10020
    TRY_AGAIN = 10030
    NOT_IMPLEMENTED = 10040
    MOVED = 10050
    ACCEPTED = 10070
    CONN_TOKEN_INVALID = 11001  # deprecated by Clarifai, still defined
    CONN_CREDENTIALS_INVALID = 11002
    CONN_EXCEED_HOURLY_LIMIT = 11003
    CONN_THROTTLED = 11005
    CONN_INSUFFICIENT_SCOPES = 11007
    CONN_KEY_INVALID = 11008
    CONN_KEY_NOT_FOUND = 11009
    CONN_BAD_REQUEST_FORMAT = 11100
    CONN_DOES_NOT_EXIST = 11101
    CONN_INVALID_REQUEST = 11102
    CONN_METHOD_NOT_ALLOWED = 11103
    MODEL_TRAINED = 21100  # a model version's status: ready to serve
    MODEL_DOES_NOT_EXIST = 21200  # GetModel / ListModelVersions of an unknown model or version
    RUNNER_DOES_NOT_EXIST = 25600
    RUNNER_PERMISSION_DENIED = 25601
    RUNNER_INVALID_ARGUMENT = 25602
    RUNNER_INVALID_REQUEST = 25603
    NODEPOOL_DOES_NOT_EXIST = 25700
    NODEPOOL_INVALID_ARGUMENT = 25701
    NODEPOOL_INVALID_REQUEST = 25702
    COMPUTE_CLUSTER_DOES_NOT_EXIST = 25800
    COMPUTE_CLUSTER_INVALID_ARGUMENT = 25801
    COMPUTE_CLUSTER_INVALID_REQUEST = 25802
    DEPLOYMENT_DOES_NOT_EXIST = 25900
    DEPLOYMENT_INVALID_ARGUMENT = 25901
    DEPLOYMENT_INVALID_REQUEST = 25902
    DEPLOYMENT_DISABLED = 25903
    INSTANCE_TYPE_DOES_NOT_EXIST = 26000
    INSTANCE_TYPE_INVALID_ARGUMENT = 26001
    INSTANCE_TYPE_INVALID_REQUEST = 26002
    COMPUTE_PLANE_METRICS_INVALID_REQUEST = 26100
    DATABASE_DUPLICATE_KEY = 40010
    DATABASE_CONSTRAINT_VIOLATED = 40017
    BAD_REQUEST = 90400
    SERVER_ERROR = 90500
    INTERNAL_SERVER_ISSUE = 98004
    INTERNAL_UNCATEGORIZED = 99009


# Codes worth retrying with backoff (the official SDK retries exactly these two).
RETRYABLE_CODES = frozenset({StatusCode.CONN_THROTTLED, StatusCode.CONN_EXCEED_HOURLY_LIMIT})

_BY_VALUE = {int(c): c for c in StatusCode}

# Explicit HTTP statuses; everything else is derived from the name's suffix in http_status_for().
_HTTP = {
    StatusCode.SUCCESS: 200,
    StatusCode.MIXED_STATUS: 207,
    StatusCode.ACCEPTED: 202,
    StatusCode.MOVED: 307,
    StatusCode.TRY_AGAIN: 503,
    StatusCode.NOT_IMPLEMENTED: 501,
    StatusCode.CONN_TOKEN_INVALID: 401,
    StatusCode.CONN_CREDENTIALS_INVALID: 401,
    StatusCode.CONN_KEY_INVALID: 401,
    StatusCode.CONN_KEY_NOT_FOUND: 401,
    StatusCode.CONN_INSUFFICIENT_SCOPES: 403,
    StatusCode.RUNNER_PERMISSION_DENIED: 403,
    StatusCode.CONN_METHOD_NOT_ALLOWED: 405,
    StatusCode.CONN_THROTTLED: 429,
    StatusCode.CONN_EXCEED_HOURLY_LIMIT: 429,
    StatusCode.CONN_BAD_REQUEST_FORMAT: 400,
    StatusCode.BAD_REQUEST: 400,
    StatusCode.DATABASE_DUPLICATE_KEY: 409,
    StatusCode.DATABASE_CONSTRAINT_VIOLATED: 409,
    StatusCode.DEPLOYMENT_DISABLED: 409,
    StatusCode.COMPUTE_PLANE_METRICS_INVALID_REQUEST: 400,
}


def status_code_name(code: int) -> str:
    """10000 -> "SUCCESS", 25700 -> "NODEPOOL_DOES_NOT_EXIST"; unknown codes -> "STATUS_<code>"."""
    member = _BY_VALUE.get(int(code))
    return member.name if member is not None else f"STATUS_{int(code)}"


def http_status_for(code: int) -> int:
    """The HTTP status that goes with a Clarifai status code (the local server answers with it)."""
    member = _BY_VALUE.get(int(code))
    if member is None:
        return 500
    if member in _HTTP:
        return _HTTP[member]
    name = member.name
    if name.endswith("_DOES_NOT_EXIST"):
        return 404
    if name.endswith(("_INVALID_ARGUMENT", "_INVALID_REQUEST")):
        return 400
    return 500


class ComputeError(Exception):
    """Base of every exception compute_widgets raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One validation failure. `message` names the field and says what to change."""

    field: str
    message: str

    def __str__(self) -> str:
        return self.message


class InvalidInput(ComputeError, ValueError):
    """One or more fields failed validation (before a request is sent, or while parsing).

    `problems` holds all of them, so a form can mark every bad field at once;
    `field` is the first problem's field; `str(exc)` joins the messages.
    """

    def __init__(self, problems: Problem | str | Iterable[Problem], field: str = "") -> None:
        if isinstance(problems, str):
            problems = [Problem(field, problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        if not self.problems:
            self.problems = [Problem(field, "invalid input")]
        self.field: str = self.problems[0].field
        super().__init__("; ".join(p.message for p in self.problems))

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.problems,))


class ApiError(ComputeError):
    """The server answered with a non-success `status.code`.

    str(e) is one line:
    ``NODEPOOL_DOES_NOT_EXIST (25700): Nodepool 'x' not found in cluster 'y'. [req_id abc]``
    """

    def __init__(
        self,
        code: int,
        description: str = "",
        details: str = "",
        req_id: str = "",
        http_status: int | None = None,
        *,
        secrets: Iterable[str | None] = (),
    ) -> None:
        secrets = tuple(secrets)
        self.code: int = int(code)
        self.code_name: str = status_code_name(self.code)
        self.description: str = redact(str(description or ""), secrets)
        self.details: str = redact(str(details or ""), secrets)
        self.req_id: str = str(req_id or "")
        self.http_status: int = int(http_status) if http_status else http_status_for(self.code)
        super().__init__(self._line())

    @classmethod
    def from_status(
        cls,
        status: dict[str, Any],
        http_status: int | None = None,
        *,
        secrets: Iterable[str | None] = (),
    ) -> ApiError:
        """Build from a wire `status` object (code as int, numeric string or enum name)."""
        raw = status.get("code", 0)
        if isinstance(raw, str) and not raw.strip().isdigit():
            member = StatusCode.__members__.get(raw.strip().upper())
            code = int(member) if member is not None else 0
        else:
            code = int(raw or 0)
        return cls(
            code,
            status.get("description", ""),
            status.get("details", ""),
            status.get("req_id", status.get("reqId", "")),
            http_status,
            secrets=secrets,
        )

    @property
    def retryable(self) -> bool:
        """Throttling or a transient server status: worth retrying with backoff."""
        return self.code in RETRYABLE_CODES or self.http_status in (429, 502, 503, 504)

    def _line(self) -> str:
        text = self.description.strip().rstrip(".")
        details = self.details.strip().rstrip(".")
        if details and details != text:
            text = f"{text}: {details}" if text else details
        text = " ".join(text.split())  # one line, whatever the server sent
        line = f"{self.code_name} ({self.code})"
        if text:
            line += f": {text}."
        if self.req_id:
            line += f" [req_id {self.req_id}]"
        return line

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.code, self.description, self.details, self.req_id, self.http_status))


class ConnectionFailed(ComputeError):
    """The server could not be reached (after the client's retries): a readable one-liner."""

    def __init__(self, message: str, *, url: str = "", attempts: int = 0) -> None:
        self.url = url
        self.attempts = attempts
        super().__init__(redact(message))


class NotConfigured(ComputeError):
    """connect() found no backend: no CLARIFAI_PAT and no local control plane."""
