"""Small result objects for the magics: a model shown as a two-column table.

`create` and `get` return a `ModelView`: it renders as an HTML table (any frontend, also
GitHub and static viewers) with a plain-text fallback, keeps the pydantic model in `.model`,
and forwards attribute access to it, so `np = %compute np get ...; np.max_instances` works.
"""

from __future__ import annotations

import json
from datetime import datetime
from enum import Enum
from typing import Any

from compute_widgets.api import enum_label, html_table, provider_label

_SKIP_KEYS = {"key"}  # ComputeCluster.key.id is a secret (the PAT on Clarifai)
_MAX_ROWS = 30
_MAX_VALUE = 120


_KEEP_ZEROS = ("min_instances", "max_instances", "node_count", "min_replicas", "max_replicas")
"""Counts whose 0 means something ("scale to zero"): the wire omits zeros, the table must not."""


def flatten(data: dict[str, Any], prefix: str = "", source: Any = None) -> list[tuple[str, str]]:
    """Wire dict -> [("instance_types", "g5.xlarge"), ("compute_cluster.id", "cc1"), ...].

    `source` is the model the dict came from: its enum fields are shown as words ("pending",
    not NODEPOOL_STATUS_PENDING or the wire's integer; unset ones are left out), providers by
    name ("Google Cloud (gcp)"), and meaningful zero counts (min_instances 0) are kept.
    """
    rows: list[tuple[str, str]] = []
    for key, value in _with_zeros(data, source).items():
        if key in _SKIP_KEYS:
            continue
        name = f"{prefix}{key}"
        attr = getattr(source, key, None) if source is not None else None
        if key == "cloud_provider" and isinstance(value, dict) and value.get("id"):
            label = provider_label(attr if attr is not None else value["id"])
            shown = label if label == value["id"] else f"{label} ({value['id']})"
            rows.append((name, shown))
        elif isinstance(value, dict):
            rows.extend(flatten(value, name + ".", attr))
        elif isinstance(value, list):
            if value and all(isinstance(v, dict) and "id" in v for v in value):
                rows.append((name, ", ".join(str(v["id"]) for v in value)))
            elif value and isinstance(attr, list) and all(isinstance(a, Enum) for a in attr):
                rows.append((name, ", ".join(enum_label(a) or a.name for a in attr)))
            elif value:
                rows.append((name, json.dumps(value, default=str)))
        elif isinstance(attr, Enum):
            if enum_label(attr):
                rows.append((name, enum_label(attr)))
        else:
            rows.append((name, _text(value)))
    return rows


def _with_zeros(data: dict[str, Any], source: Any) -> dict[str, Any]:
    """`data` with the _KEEP_ZEROS fields the wire dropped put back, in the model's field order."""
    fields = getattr(type(source), "model_fields", None) if source is not None else None
    if not fields:
        return data
    missing = {k for k in _KEEP_ZEROS if k in fields and k not in data and getattr(source, k) == 0}
    if not missing:
        return data
    out: dict[str, Any] = {}
    for name in fields:
        if name in data:
            out[name] = data[name]
        elif name in missing:
            out[name] = 0
    for key, value in data.items():
        out.setdefault(key, value)
    return out


def _text(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 1] + "…"


class KeyValueTable:
    """A titled two-column table with `_repr_html_` and `__repr__`."""

    def __init__(self, title: str, rows: list[tuple[str, str]]) -> None:
        self.title = title
        self.rows = rows[:_MAX_ROWS]

    def __repr__(self) -> str:
        width = max((len(k) for k, _ in self.rows), default=0)
        lines = [self.title] + [f"  {k:<{width}}  {v}" for k, v in self.rows]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        left = "text-align:left"
        return html_table(
            None, self.rows, caption=self.title, row_headers=True, header_style=left, cell_style=left
        )

    def as_dict(self) -> dict[str, str]:
        return dict(self.rows)


class ModelView(KeyValueTable):
    """One resource (cluster, nodepool, deployment) as returned by create/get."""

    def __init__(self, kind: str, model: Any) -> None:
        self.kind = kind
        self.model = model
        wire = model.to_wire() if hasattr(model, "to_wire") else dict(model)
        title = f"{kind} {getattr(model, 'id', '') or ''}".strip()
        super().__init__(title, flatten(wire, source=model))

    def __getattr__(self, name: str) -> Any:
        # only called for names the view lacks: forward to the model (np.max_instances)
        if name.startswith("__") or name == "model":
            raise AttributeError(name)
        return getattr(self.model, name)

    def to_dataframe(self) -> Any:
        """A one-row DataFrame with the same columns as the list commands."""
        from compute_widgets.api.client import ResultList

        return ResultList([self.model], type(self.model)).to_dataframe()

    def to_yaml(self) -> str:
        """The resource as Clarifai CLI YAML (paste it into a `%%compute` cell)."""
        from compute_widgets.api.config import dump_config

        return dump_config(self.model)
