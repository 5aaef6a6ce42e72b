"""Turn our exceptions into one-line `UsageError`s that say what to fix (no traceback).

IPython shows a `UsageError` as `UsageError: <message>` on stderr, without a traceback.
Every message passes through `scrub()`, so a token can never reach the notebook.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from IPython.core.error import UsageError

_HINTS_BY_HTTP = {
    401: "the server refused the token: set CLARIFAI_PAT in the environment, then `%compute connect`",
    403: "the token lacks a scope for this call: create a PAT with the compute orchestration scopes",
    404: "check the ID (`%compute clusters list`, `%compute np list CC`, `%compute dp list`)",
    409: "it already exists: pick another ID, or use `%%compute --apply` to update it",
    429: "the server is throttling requests: wait a moment and run the cell again",
}


def secrets(client: Any = None) -> list[str]:
    """Every token we know of (the environment's PAT and the client's), to scrub from text."""
    found = []
    pat = os.environ.get("CLARIFAI_PAT")
    if pat:
        found.append(pat)
    secret = getattr(client, "secret", None) if client is not None else None
    if secret is not None and hasattr(secret, "reveal") and secret:
        found.append(secret.reveal())
    return found


def scrub(text: str, client: Any = None) -> str:
    """One line, with every known token replaced by `***`."""
    for secret in secrets(client):
        if len(secret) >= 4:
            text = text.replace(secret, "***")
    return " ".join(text.split())


def to_usage_error(exc: BaseException, client: Any = None) -> UsageError | None:
    """The `UsageError` for one of our errors, or None for anything else (a bug: keep its traceback).

    Error classes are looked up in sys.modules: if `api.errors` was never imported, the
    exception cannot be one of its classes, and we avoid importing it on the error path.
    """
    if isinstance(exc, UsageError):
        return UsageError(scrub(str(exc), client))
    api_errors = sys.modules.get("compute_widgets.api.errors")
    if api_errors is None:
        return None
    if isinstance(exc, api_errors.ApiError):
        hint = _HINTS_BY_HTTP.get(getattr(exc, "http_status", 0) or 0)
        text = f"{exc}" + (f" -> {hint}" if hint else "")
        return UsageError(scrub(text, client))
    if isinstance(exc, api_errors.InvalidInput):
        config_error = _config_error_class()
        prefix = "config" if config_error and isinstance(exc, config_error) else "invalid input"
        return UsageError(scrub(f"{prefix}: {exc}", client))
    if isinstance(exc, api_errors.ConnectionFailed):
        return UsageError(
            scrub(
                f"cannot reach the server: {exc} -> check `%compute status`, or "
                "`%compute connect --local` for the local control plane",
                client,
            )
        )
    if isinstance(exc, api_errors.NotConfigured):
        return UsageError(
            scrub(
                f"no backend: {exc} -> `%compute connect --local`, or set CLARIFAI_PAT "
                "in the environment and `%compute connect`",
                client,
            )
        )
    if isinstance(exc, api_errors.ComputeError):
        return UsageError(scrub(str(exc) or type(exc).__name__, client))
    return None


def _config_error_class() -> type | None:
    config = sys.modules.get("compute_widgets.api.config")
    return getattr(config, "ConfigError", None) if config else None


@contextmanager
def user_errors(client_getter: Any = None) -> Iterator[None]:
    """Re-raise our errors as `UsageError` (from None: no chained traceback)."""
    try:
        yield
    except Exception as exc:
        client = client_getter() if callable(client_getter) else client_getter
        usage = to_usage_error(exc, client)
        if usage is None:
            raise
        raise usage from None
