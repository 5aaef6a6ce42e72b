"""The forms' words: API problems and errors reworded for the person at the form.

The rules and their messages live in api/models.py and are worded for code ("min_instances (5)
is above max_instances (2): lower min_instances or raise max_instances"); a form shows the same
problem with its own field names ("The minimum (5) is above the maximum (2): …"). Server errors
lead with what happened and what to do; the status code and req_id follow, for a bug report.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["error_line", "in_words"]

NODEPOOL_WORDS = {
    "id": "the nodepool ID",
    "description": "the description",
    "min_instances": "the minimum",
    "max_instances": "the maximum",
    "node_capacity_type.capacity_types": "the capacity type",
    "instance_types": "the instance type",
}
CLUSTER_WORDS = {
    "id": "the cluster ID",
    "description": "the description",
    "cloud_provider.id": "the cloud provider",
    "cloud_provider": "the cloud provider",
    "region": "the region",
}
DEPLOYMENT_WORDS = {
    "id": "the deployment ID",
    "description": "the description",
    "autoscale_config.min_replicas": "the minimum",
    "autoscale_config.max_replicas": "the maximum",
    "autoscale_config.scale_down_delay_seconds": "the scale-down delay",
    "autoscale_config.scale_to_zero_delay_seconds": "the scale-to-zero delay",
    "autoscale_config.scale_up_delay_seconds": "the scale-up delay",
    "autoscale_config.traffic_history_seconds": "the traffic history",
    "worker.model.id": "the model ID",
    "worker.model.app_id": "the app ID",
    "worker.model.user_id": "the user ID",
    "worker.model": "the model",
}


def in_words(message: str, words: dict[str, str]) -> str:
    """``message`` with API field names replaced by the form's words, as a sentence."""
    names = sorted(words, key=len, reverse=True)
    pattern = re.compile(r"(?<![\w.])(" + "|".join(re.escape(n) for n in names) + r")(?![\w])")
    text = pattern.sub(lambda m: words[m.group(1)], message.strip())
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "?", "!", ")")) else text + "."


_HINTS = {
    "DATABASE_DUPLICATE_KEY": "choose another ID",
    "CONN_KEY_INVALID": "check the token of your connection",
    "CONN_KEY_NOT_FOUND": "check the token of your connection",
    "CONN_CREDENTIALS_INVALID": "check the token of your connection",
    "CONN_INSUFFICIENT_SCOPES": "the token lacks a scope this needs: use a PAT with all scopes",
    "CONN_THROTTLED": "too many requests: try again in a moment",
    "CONN_EXCEED_HOURLY_LIMIT": "hourly limit reached: try again later",
    "TRY_AGAIN": "try again in a moment",
}


def _hint(code_name: str) -> str:
    if code_name in _HINTS:
        return _HINTS[code_name]
    if code_name.endswith("_DOES_NOT_EXIST"):
        return "it may have been deleted: press Refresh"
    return ""


def error_line(exc: Any) -> str:
    """An ApiError as a person's sentence, its code second:

    "Compute cluster 'x' already exists: choose another ID. (DATABASE_DUPLICATE_KEY 40010, req_id …)"
    """
    text = " ".join(f"{exc.description or ''}".split()).rstrip(".")
    details = " ".join(f"{exc.details or ''}".split()).rstrip(".")
    if details and details != text:
        text = f"{text}: {details}" if text else details
    if not text:
        text = exc.code_name.replace("_", " ").capitalize()
    hint = _hint(exc.code_name)
    if hint and hint not in text:
        text = f"{text}: {hint}"
    ref = f"{exc.code_name} {exc.code}" + (f", req_id {exc.req_id}" if exc.req_id else "")
    return f"{text}. ({ref})"
