"""Small result objects for the magics: a model shown as a two-column table.

`create` and `get` return a `ModelView`: it renders as an HTML table (any frontend, also
GitHub and static viewers) with a plain-text fallback, keeps the pydantic model in `.model`,
and forwards attribute access to it, so `np = %compute np get ...; np.max_instances` works.
"""

from __future__ import annotations

import html
import json
from datetime import datetime
from enum import Enum
from typing import Any

_SKIP_KEYS = {"key"}  # ComputeCluster.key.id is a secret (the PAT on Clarifai)
_MAX_ROWS = 30
_MAX_VALUE = 120


def flatten(data: dict[str, Any], prefix: str = "", source: Any = None) -> list[tuple[str, str]]:
    """Wire dict -> [("instance_types", "g5.xlarge"), ("compute_cluster.id", "cc1"), ...].

    `source` is the model the dict came from: its enum fields are shown by name
    ("NODEPOOL_STATUS_READY"), not by the wire's integer.
    """
    rows: list[tuple[str, str]] = []
    for key, value in data.items():
        if key in _SKIP_KEYS:
            continue
        name = f"{prefix}{key}"
        attr = getattr(source, key, None) if source is not None else None
        if isinstance(value, dict):
            rows.extend(flatten(value, name + ".", attr))
        elif isinstance(value, list):
            if value and all(isinstance(v, dict) and "id" in v for v in value):
                rows.append((name, ", ".join(str(v["id"]) for v in value)))
            elif value and isinstance(attr, list) and all(isinstance(a, Enum) for a in attr):
                rows.append((name, ", ".join(a.name for a in attr)))
            elif value:
                rows.append((name, json.dumps(value, default=str)))
        elif isinstance(attr, Enum):
            rows.append((name, attr.name))
        else:
            rows.append((name, _text(value)))
    return rows


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
        body = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
            f"<td style='text-align:left'>{html.escape(v)}</td></tr>"
            for k, v in self.rows
        )
        return f"<table><caption style='text-align:left'><b>{html.escape(self.title)}</b></caption>{body}</table>"

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
