"""Words a person reads for wire values: enum members, cloud providers, counts.

Display only: the wire names (``NODEPOOL_STATUS_PENDING``, ``aws``) stay what the API sends and
what code compares against; tables, cards and forms show these labels instead. Unset enum
values (the proto's ``UNKNOWN_*`` zero) have no label: callers show them as "not set" or omit
them, never as ``UNKNOWN_VISIBILITY``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["enum_label", "plural", "provider_label"]

PROVIDER_NAMES = {
    "aws": "AWS",
    "gcp": "Google Cloud",
    "azure": "Azure",
    "oracle": "Oracle Cloud",
    "vultr": "Vultr",
    "lambda": "Lambda",
    "local": "Local",
}
"""Clarifai's ListCloudProviders sends ``name`` equal to the id ("aws"); the console shows these."""

_PREFIXES = ("NODEPOOL_STATUS_",)

_SPECIAL = {
    "ON_DEMAND_TYPE": "on-demand",
    "SPOT_TYPE": "spot",
    "PREFER_ONDEMAND": "prefer on-demand",
    "PREFER_SPOT": "prefer spot",
    "ORG": "organization",
}


def enum_label(value: Any) -> str:
    """ "pending", "prefer spot", "private"; "" for an unset (zero / UNKNOWN_*) value."""
    if value is None:
        return ""
    name = getattr(value, "name", None)
    if name is None:
        return str(value)
    if int(value) == 0 and ("UNKNOWN" in name or "UKNOWN" in name or "NOT_SET" in name):
        return ""
    if name in _SPECIAL:
        return _SPECIAL[name]
    for prefix in _PREFIXES:
        name = name.removeprefix(prefix)
    return name.replace("_", " ").lower()


def provider_label(provider: Any) -> str:
    """ "AWS", "Google Cloud" from a CloudProvider, its id, or None ("" when unknown)."""
    if provider is None:
        return ""
    pid = provider if isinstance(provider, str) else getattr(provider, "id", "") or ""
    name = "" if isinstance(provider, str) else getattr(provider, "name", "") or ""
    if pid in PROVIDER_NAMES:
        return PROVIDER_NAMES[pid]
    return name if name and name != pid else pid


def plural(n: int, word: str, many: str | None = None) -> str:
    """ "1 nodepool", "3 nodepools", "0 instance types"."""
    return f"{n} {word if n == 1 else (many or word + 's')}"
