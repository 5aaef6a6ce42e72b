"""What every widget shares: the status line, the async runner and the mixed mimebundle.

Widgets are thin views (ARCHITECTURE.md, key decision 7): a callback reads fields, hands one
client/sim call to :class:`Runner`, and shows the result. The runner is where "never block the
kernel" and "never create twice" live, so no widget re-implements them:

* inside a running asyncio loop (a Jupyter kernel, an ``async def`` test) the call runs as an
  ``asyncio`` task — sync client methods in the default executor, coroutine functions awaited —
  and the widget's ``pending`` task can be awaited (``await widget.wait()``);
* with no running loop (plain scripts, sync tests) the call runs right away, synchronously.

While a call is in flight the runner refuses a second one (a double click creates nothing twice)
and the widget keeps its action button disabled.
"""

from __future__ import annotations

import asyncio
import functools
import html
import inspect
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import ipywidgets as W

if TYPE_CHECKING:
    from compute_widgets.api.client import ComputeClient

__all__ = [
    "Runner",
    "StatusLine",
    "ViewBase",
    "esc",
    "field_message",
    "html_table",
    "one_line",
    "show_figures",
    "took",
]

# CSS classes (stable names for the browser tests and for notebook styling)
CSS_STATUS = "cw-status"
CSS_MESSAGE = "cw-field-message"
CSS_SUMMARY = "cw-summary"
CSS_SELECTED = "cw-selected"  # the chosen row of a table (instance type, cost row)

SELECTED_ROW_STYLE = (
    "background:var(--jp-layout-color2,#eeeeee);color:var(--jp-content-font-color0,#000);"
    "box-shadow:inset 4px 0 0 var(--jp-brand-color1,#1976d2);font-weight:600"
)
"""The theme's own surface and text colours (both JupyterLab themes pair them above 4.5:1:
light #eee/#000, dark #424242/#fff); the blue bar marks the choice. A fixed light-blue
background under the dark theme's white text was 1.3:1."""

_COLORS = {
    "busy": "var(--jp-ui-font-color2, #555)",
    "error": "var(--jp-error-color1, #c62828)",
    "": "inherit",
}

THEME_CSS = (
    "<style>"
    # No single green reads at 4.5:1 on both white and the dark theme's #212121, and JupyterLab's
    # success colours are not paired for text (light --jp-success-color1 is 4.1:1): pick the
    # theme's darkest green in light themes and its light green in dark ones.
    ".cw-ok{color:var(--jp-success-color0,#1b5e20)}"
    "body[data-jp-theme-light='false'] .cw-ok{color:var(--jp-success-color2,#81c784)}"
    # Plotly draws text with a fixed fill (charts are theme-neutral: a transparent paper, and no
    # grey reaches 4.5:1 on white and on #111). Inside our widgets the theme's own text colour
    # replaces it; hover labels keep their dark box and light text.
    ":is(.cw-browser,.cw-wizard,.cw-planner) .js-plotly-plot .main-svg text:not(.hoverlayer text)"
    "{fill:var(--jp-ui-font-color1,rgba(0,0,0,.87))!important}"
    "</style>"
)
"""Theme-aware rules inline styles cannot express; every composite view carries them in its
status line (duplicates are harmless)."""


def _colored(kind: str, text: str, extra_class: str = "", extra_style: str = "") -> str:
    """A span in the colour of `kind` ("ok" goes through the theme-aware .cw-ok class)."""
    classes = " ".join(c for c in (extra_class, "cw-ok" if kind == "ok" else "") if c)
    style = "" if kind == "ok" else f"color:{_COLORS[kind]};"
    attrs = (f" class='{classes}'" if classes else "") + f" style='{style}{extra_style}'"
    return f"<span{attrs}>{text}</span>"


def esc(value: Any) -> str:
    """HTML-escape anything for display."""
    return html.escape(str(value), quote=True)


def took(seconds: float) -> str:
    """A duration for the status line: "45 ms", "0.2 s", "12.3 s"."""
    return f"{seconds * 1000:.0f} ms" if seconds < 0.1 else f"{seconds:.1f} s"


def one_line(exc: BaseException, limit: int = 400) -> str:
    """An exception as one readable line (our errors already are; others get their type name)."""
    from compute_widgets.api.errors import ApiError, ComputeError

    from ._words import error_line

    text = error_line(exc) if isinstance(exc, ApiError) else " ".join(str(exc).split())
    if not isinstance(exc, ComputeError):
        text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text or type(exc).__name__


def html_table(
    headers: Iterable[str],
    rows: Iterable[Iterable[Any]],
    *,
    highlight: int | None = None,
    css: str = "cw-table",
    raw_columns: frozenset[int] = frozenset(),
) -> str:
    """A widget's table: api.html_table with the widgets' padding, chosen-row style and "none"."""
    from compute_widgets.api import html_table as table

    rows = list(rows)
    header_style = "text-align:left;padding:2px 8px"
    if not rows:
        return table(headers, [], css=css, header_style=header_style) + "<i>none</i>"
    return table(
        headers,
        rows,
        css=css,
        table_style="border-collapse:collapse;font-size:90%",
        header_style=header_style,
        cell_style="padding:2px 8px",
        raw_columns=raw_columns,
        highlight=highlight,
        highlight_attrs=f"class='{CSS_SELECTED}' style='{SELECTED_ROW_STYLE}'",
    )


def field_message(text: str = "") -> W.HTML:
    """The message line under a field (empty when the field is fine)."""
    w = W.HTML(value="")
    w.add_class(CSS_MESSAGE)
    set_message(w, text)
    return w


def set_message(w: W.HTML, text: str | None, kind: str = "error") -> None:
    value = _colored(kind, esc(text), extra_style="font-size:90%") if text else ""
    if kind == "ok" and value:
        value = THEME_CSS + value
    if w.value != value:
        w.value = value


class StatusLine(W.HTML):
    """One line saying what the widget is doing or what went wrong.

    ``kind`` is "" (idle), "busy", "ok" or "error"; ``text`` is the plain line (for tests and
    the text/plain repr). Both are Python attributes, not synced traits.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(value="", **kwargs)
        self.add_class(CSS_STATUS)
        self.kind = ""
        self.text = ""

    def show(self, text: str, kind: str = "") -> None:
        self.kind, self.text = kind, text
        icon = {"busy": "⏳ ", "ok": "✔ ", "error": "✖ "}.get(kind, "")
        span = _colored(kind, f"{icon}{esc(text)}", extra_class=f"{CSS_STATUS}-{kind or 'idle'}")
        self.value = THEME_CSS + (span if text else "")

    def busy(self, text: str) -> None:
        self.show(text, "busy")

    def ok(self, text: str) -> None:
        self.show(text, "ok")

    def error(self, text: str) -> None:
        self.show(text, "error")

    def clear(self) -> None:
        self.show("", "")


class Runner:
    """Runs one call at a time for a widget, as an asyncio task when a loop is running.

    ``run(fn, *args, busy=..., done=...)``: shows ``busy`` in the status line, calls ``fn``
    (in the executor if it is a plain function, awaited if it is a coroutine function), then
    calls ``done(result, seconds)`` on the loop thread; ``done`` returns the success line (or
    None to leave the status alone). Any exception becomes one error line; the form is left
    untouched so the user can fix and retry. ``after()`` runs when the call is over, whatever
    the outcome (widgets recompute their buttons' ``disabled`` there).
    """

    def __init__(self, status: StatusLine, after: Callable[[], None] | None = None) -> None:
        self.status = status
        self.after = after or (lambda: None)
        self.busy = False
        self.task: asyncio.Task | None = None
        self.last_error: BaseException | None = None

    def run(
        self,
        fn: Callable[..., Any],
        *args: Any,
        busy: str,
        done: Callable[[Any, float], str | None],
        failed: Callable[[BaseException], None] | None = None,
    ) -> asyncio.Task | None:
        """Start ``fn(*args)``; returns the task (loop running), or None (ran synchronously or refused)."""
        if self.busy:  # in-flight guard: a double click does nothing the second time
            return None
        self.busy = True
        self.last_error = None
        self.status.busy(busy)
        self.after()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None:
            t0 = time.perf_counter()
            try:
                result = fn(*args)
                if inspect.isawaitable(result):
                    result = asyncio.run(_awaited(result))
            except Exception as exc:
                self._failed(exc, failed)
            else:
                self._done(result, time.perf_counter() - t0, done, failed)
            finally:
                self._finish()
            return None
        self.task = loop.create_task(self._job(loop, fn, args, done, failed))
        return self.task

    async def _job(self, loop, fn, args, done, failed) -> None:
        t0 = time.perf_counter()
        try:
            if inspect.iscoroutinefunction(fn):
                result = await fn(*args)
            else:
                result = await loop.run_in_executor(None, functools.partial(fn, *args))
                if inspect.isawaitable(result):
                    result = await result
        except Exception as exc:
            self._failed(exc, failed)
        else:
            self._done(result, time.perf_counter() - t0, done, failed)
        finally:
            self._finish()

    def _done(self, result, seconds, done, failed) -> None:
        try:
            line = done(result, seconds)
        except Exception as exc:  # a bug in the view: still one line, never a traceback wall
            self._failed(exc, failed)
            return
        if line:
            self.status.ok(line)
        elif self.status.kind == "busy":
            self.status.clear()

    def _failed(self, exc: BaseException, failed) -> None:
        self.last_error = exc
        self.status.error(one_line(exc))
        if failed is not None:
            try:
                failed(exc)
            except Exception:  # never let the error handler hide the first error
                pass

    def _finish(self) -> None:
        self.busy = False
        self.after()

    @property
    def pending(self) -> asyncio.Task | None:
        return self.task if self.task is not None and not self.task.done() else None


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


class ViewBase(W.VBox):
    """Base of our composite widgets: a VBox with a status line, a runner and a mixed mimebundle.

    Subclasses implement ``_text()`` (one or few plain lines) and ``_html()`` (a static HTML
    snapshot) — what GitHub, nbviewer and frontends without widget support show.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.status = StatusLine()
        self.runner = Runner(self.status, self._sync_buttons)

    # --- subclasses -------------------------------------------------------------------------
    def _sync_buttons(self) -> None:
        """Recompute every action button's ``disabled`` (called around each call)."""

    def _subviews(self) -> list[ViewBase]:
        """Child views whose tasks ``wait()`` should also wait for."""
        return []

    def _text(self) -> str:
        return type(self).__name__

    def _html(self) -> str:
        return f"<div>{esc(self._text())}</div>"

    # --- async hooks --------------------------------------------------------------------------
    @property
    def pending(self) -> asyncio.Task | None:
        """The call in flight (of this widget or a child view), or None."""
        if self.runner.pending is not None:
            return self.runner.pending
        for sub in self._subviews():
            if sub.pending is not None:
                return sub.pending
        return None

    async def wait(self, timeout: float = 60.0) -> None:
        """Await every call in flight, including ones started by the calls that finish."""

        async def drain() -> None:
            while (task := self.pending) is not None:
                await asyncio.wait({task})

        await asyncio.wait_for(drain(), timeout)

    # --- representations ------------------------------------------------------------------------
    def __repr__(self) -> str:
        return self._text()

    def _repr_html_(self) -> str:
        return self._html()

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        data = super()._repr_mimebundle_(**kwargs) or {}
        data["text/plain"] = self._text()
        data["text/html"] = self._html()
        return data


def labelled(label: str, *widgets: W.Widget, width: str = "190px") -> W.HBox:
    """A form row: a fixed-width label (one line, never wrapped) and its widgets."""
    text = W.HTML(
        f"<b style='white-space:nowrap'>{esc(label)}</b>",
        layout=W.Layout(width=width, min_width=width),
    )
    text.add_class("cw-label")
    return W.HBox([text, *widgets])


def resolve_client(client: ComputeClient | None) -> ComputeClient:
    """``client`` or, when None, the connection of ``compute_widgets.settings.get_client()``."""
    if client is not None:
        return client
    from compute_widgets.settings import get_client

    return get_client()


def show_figures(out: W.Output, figures: Iterable[Any], note: str = "") -> None:
    """Replace ``out``'s content with static plotly figures (plain go.Figure, not FigureWidget).

    Builds the display_data outputs directly (the plotly mimetype JupyterLab renders), so it
    works from any thread and outside a kernel, where ``with out:`` and IPython's formatter
    capture nothing (jupyter.md §1.5).
    """
    # the plotly_mimetype renderer itself: `pio.renderers` first imports nbformat, whose
    # jsonschema builds ~40 grammars (6-11 s on a busy machine); the bundle is the same
    from plotly.io._base_renderers import PlotlyRenderer

    renderer = PlotlyRenderer()
    outputs = []
    for fig in figures:
        data = dict(renderer.to_mimebundle(fig.to_dict()))
        title = getattr(getattr(fig.layout, "title", None), "text", None) or "plotly figure"
        data["text/plain"] = f"<Figure: {title}>"
        outputs.append({"output_type": "display_data", "data": data, "metadata": {}})
    if note:
        outputs.append({"output_type": "stream", "name": "stdout", "text": note + "\n"})
    out.outputs = tuple(outputs)
