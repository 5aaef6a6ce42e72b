"""The Clarifai v2 compute API: models, client, errors and CLI config files. Imports nothing else of ours.

Organised by concept (as httpx is): `client` (ComputeClient, AsyncComputeClient: the I/O shells),
`_base` (building each request, parsing each answer), `_results` (ResultList), `_retry` (what
may be repeated, and when), `_secrets` (Secret, redact), `_time` (rfc3339, parse_time),
`_identity` (the local server's proof), `models` (the wire resources and their rules), `errors`
(the exception tree), `config` (CLI YAML: load, dump, plan, apply), `_frames` and `_labels`
(tables and words for people). Code outside api/ imports the names below (or the public
modules), never a ``_`` module.

Importing this package is cheap: the display helpers are plain Python; the other names load
their module (httpx, pydantic, yaml) on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

# Display helpers the widgets and magics share (cheap: no pydantic, no pandas).
from compute_widgets.api._frames import html_table
from compute_widgets.api._labels import enum_label, plural, provider_label

# name -> module that defines it; imported on first attribute access (PEP 562).
_LAZY = {
    "AsyncComputeClient": "compute_widgets.api.client",
    "ComputeClient": "compute_widgets.api.client",
    "ResultList": "compute_widgets.api._results",
    "RetryPolicy": "compute_widgets.api._retry",
    "Secret": "compute_widgets.api._secrets",
    "redact": "compute_widgets.api._secrets",
    "identity_proof": "compute_widgets.api._identity",
    "refuse_clear_text": "compute_widgets.api._secrets",
    "parse_time": "compute_widgets.api._time",
    "rfc3339": "compute_widgets.api._time",
    "ApiError": "compute_widgets.api.errors",
    "ComputeError": "compute_widgets.api.errors",
    "ConnectionFailed": "compute_widgets.api.errors",
    "InvalidInput": "compute_widgets.api.errors",
    "NotConfigured": "compute_widgets.api.errors",
    "Problem": "compute_widgets.api.errors",
    "StatusCode": "compute_widgets.api.errors",
    "ApplyError": "compute_widgets.api.config",
    "ConfigError": "compute_widgets.api.config",
    "apply_config": "compute_widgets.api.config",
    "dump_config": "compute_widgets.api.config",
    "load_config": "compute_widgets.api.config",
    "load_documents": "compute_widgets.api.config",
    "plan_config": "compute_widgets.api.config",
}

__all__ = ["enum_label", "html_table", "plural", "provider_label", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'compute_widgets.api' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
