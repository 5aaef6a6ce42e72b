"""`ResultList`: what every list call of the clients returns, a list that shows itself as a
table (the columns per resource kind are in `_frames.py`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class ResultList(list[T], Generic[T]):
    """A list of resources that also shows itself as a table.

    `to_dataframe()` gives one row per item with the columns a person reads (for a nodepool:
    id, cluster, instance type, capacity, min/max, node count, status, ...); the full objects stay
    in the list. In a notebook it renders as an HTML table without importing pandas.
    """

    def __init__(self, items: Iterable[T] = (), kind: type | None = None) -> None:
        super().__init__(items)
        self.kind = kind or (type(self[0]) if self else None)

    def to_dataframe(self) -> Any:
        """pandas.DataFrame, one row per item (columns per resource kind, see `_frames.py`)."""
        from compute_widgets.api._frames import resources_frame

        return resources_frame(self, self.kind)

    def rows(self) -> list[dict[str, Any]]:
        """The table rows as plain dicts (what `to_dataframe` and the HTML view show)."""
        from compute_widgets.api._frames import resource_rows

        return resource_rows(self, self.kind)

    def _repr_html_(self) -> str:
        from compute_widgets.api._frames import rows_html

        name = self.kind.__name__ if self.kind else "item"
        return rows_html(self.rows(), title=f"{len(self)} {name}{'' if len(self) == 1 else 's'}")

    def __repr__(self) -> str:
        name = self.kind.__name__ if self.kind else "item"
        ids = [getattr(x, "id", None) or "?" for x in self[:8]]
        more = f", … {len(self) - 8} more" if len(self) > 8 else ""
        return f"ResultList[{name}]({len(self)}: {', '.join(map(str, ids))}{more})"
