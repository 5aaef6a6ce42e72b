"""A progress line that works in every frontend: `display(..., display_id=True)` + `update`.

No widgets: JupyterLab, Notebook, VS Code, Colab, nbconvert and the terminal all understand
display_id updates (the terminal just prints each state). One output, replaced in place.
"""

from __future__ import annotations

import html
from typing import Any


class _Line:
    def __init__(self, text: str, done: int, total: int) -> None:
        self.text, self.done, self.total = text, done, total

    def __repr__(self) -> str:
        if self.total:
            return f"[{self.done}/{self.total}] {self.text}"
        return self.text

    def _repr_html_(self) -> str:
        bar = (
            f"<progress value='{self.done}' max='{self.total}' style='width:8em'></progress> "
            if self.total
            else ""
        )
        return f"<div>{bar}<code>{html.escape(repr(self))}</code></div>"


class Progress:
    """`p = Progress(3); p.step("creating nodepool 'a'"); ...; p.finish("3 created")`."""

    def __init__(self, total: int = 0, enabled: bool = True) -> None:
        self.total = total
        self.count = 0
        self.enabled = enabled
        self._handle: Any = None

    def _show(self, line: _Line) -> None:
        if not self.enabled:
            return
        if self._handle is None:
            from IPython.display import display

            self._handle = display(line, display_id=True)
        else:
            self._handle.update(line)

    def update(self, text: str) -> None:
        """Show `text` at the current count (no advance)."""
        self._show(_Line(text, self.count, self.total))

    def step(self, text: str) -> None:
        """Show `text` as the item now in progress (`[done/total]`)."""
        self._show(_Line(text, self.count, self.total))
        self.count += 1

    def finish(self, text: str) -> None:
        self.count = self.total
        self._show(_Line(text, self.count, self.total))
