"""Driving JupyterLab from Playwright: open a notebook in a theme, run it all, read its truth.

Every wait is for an event the page reports (the app restored, the kernel idle, the run-all
promise settled, a selector shown), never a fixed sleep; the one timeout is a ceiling.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from playwright.sync_api import Page

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
ARTIFACTS = REPO / "test-artifacts" / "ui"
THEMES = {"light": "JupyterLab Light", "dark": "JupyterLab Dark"}
LONG = 180_000  # ms ceiling: a cold kernel compiles numba and imports pandas/plotly on 2 cores

# the roots of our widgets' DOM (compute_widgets/widgets/*.py add these classes); a nodepool or
# deployment wizard inside a browser is audited as part of the browser
WIDGET_ROOTS = ".cw-browser, .cw-wizard, .cw-planner"
AA_NORMAL_TEXT = 4.5
CONTRAST_JS = (HERE / "contrast.js").read_text()

KERNEL_IDLE = (
    "() => window.jupyterapp?.shell.currentWidget?.sessionContext?.session?.kernel?.status"
    " === 'idle'"
)


def control_plane(lab: dict) -> dict:
    """{health, runtime}: what the server extension reports (/compute-widgets/health, which
    has it start the control plane if it has not yet) and the runtime file it wrote."""
    url = f"{lab['url']}/compute-widgets/health?token={lab['token']}"
    with urllib.request.urlopen(url, timeout=30) as r:
        health = json.load(r)
    files = list((Path(lab["root"]) / ".runtime").glob("compute-widgets-*.json"))
    assert len(files) == 1, files
    return {"health": health, "runtime": json.loads(files[0].read_text())}


def shot(page: Page, name: str, full_page: bool = False) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def set_theme(page: Page, theme: str) -> None:
    """Switch JupyterLab's theme with its own command and wait until the page wears it."""
    name = THEMES[theme]
    page.evaluate(
        "name => window.jupyterapp.commands.execute('apputils:change-theme', {theme: name})", name
    )
    page.wait_for_function(
        "([name, light]) => document.body.dataset.jpThemeName === name"
        " && document.body.dataset.jpThemeLight === light"
        " && !document.body.classList.contains('jp-mod-themeChanging')",
        arg=[name, "true" if theme == "light" else "false"],
        timeout=60_000,
    )


def open_notebook(page: Page, lab: dict, path: str, theme: str) -> None:
    """Open ``path`` (relative to the lab root) in ``theme`` and wait for its idle kernel."""
    page.set_default_timeout(60_000)
    page.goto(f"{lab['url']}/lab/tree/{path}?token={lab['token']}&reset")
    page.wait_for_function("() => window.jupyterapp?.shell?.currentWidget?.content?.widgets")
    set_theme(page, theme)
    page.wait_for_function(KERNEL_IDLE, timeout=LONG)


def run_all(page: Page) -> dict:
    """Run every cell (JupyterLab's own command) and wait until the run is over.

    Returns {cells, executed, errors}: how many code cells, how many got an execution count,
    and the "ename: evalue" of each error output (in cell order)."""
    page.evaluate(
        """() => {
            window.__cwRun = 'running';
            window.jupyterapp.commands.execute('notebook:run-all-cells')
                .then(ok => { window.__cwRun = ok ? 'ok' : 'stopped'; },
                      err => { window.__cwRun = 'failed: ' + err; });
        }"""
    )
    page.wait_for_function("() => window.__cwRun !== 'running'", timeout=LONG)
    page.wait_for_function(KERNEL_IDLE, timeout=LONG)
    return page.evaluate(
        """() => {
            const cells = window.jupyterapp.shell.currentWidget.content.widgets
                .filter(c => c.model.type === 'code');
            const errors = [];
            for (const c of cells) {
                for (const o of c.model.outputs.toJSON()) {
                    if (o.output_type === 'error') errors.push(o.ename + ': ' + o.evalue);
                }
            }
            return {run: window.__cwRun, cells: cells.length,
                    executed: cells.filter(c => c.model.executionCount !== null).length, errors};
        }"""
    )


PLOTLY_OUTPUT = ".jp-RenderedPlotly"  # a cell's (or an Output widget's) plotly figure


def draw_every_chart(page: Page) -> int:
    """Scroll to each plotly output until it is drawn (JupyterLab's plotly renderer draws a
    chart when it comes into view, as a reader scrolling the notebook sees it); returns how many."""
    outputs = page.locator(PLOTLY_OUTPUT)
    n = outputs.count()
    for i in range(n):
        out = outputs.nth(i)
        out.scroll_into_view_if_needed()
        out.locator(".main-svg").first.wait_for(state="attached")
    return n


def contrast(
    page: Page, roots: str = WIDGET_ROOTS, minimum: float = AA_NORMAL_TEXT, part: str = "all"
) -> dict:
    """{checked, failures}: the WCAG contrast audit of contrast.js over our widgets' text;
    ``part`` "html" (the widgets' own text), "svg" (text drawn in their charts) or "all"."""
    return page.evaluate(CONTRAST_JS, [roots, minimum, part])


def contrast_report(result: dict) -> str:
    lines = [
        f"{f['ratio']:.2f}:1  {f['color']} on {f['background']}  {f['text']!r}  at {f['selector']}"
        for f in result["failures"]
    ]
    return f"{len(lines)} texts below {AA_NORMAL_TEXT}:1 (of {result['checked']} checked):\n" + (
        "\n".join(lines)
    )


def assert_contrast(page: Page, where: str, part: str = "html", roots: str = WIDGET_ROOTS) -> dict:
    """Fail with every low-contrast text (its words, colours and a selector) under ``roots``."""
    result = contrast(page, roots, part=part)
    assert result["checked"] > 0, f"{where}: no text of our widgets on the page to measure"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"{where}.contrast-{part}.json").write_text(json.dumps(result, indent=1))
    assert not result["failures"], f"{where}: " + contrast_report(result)
    return result


def shutdown_kernel(page: Page) -> None:
    """Stop the notebook's kernel (five tutorials' kernels would otherwise share 2 cores)."""
    page.evaluate("() => window.jupyterapp.shell.currentWidget?.sessionContext?.shutdown()")


def outputs_text(page: Page) -> str:
    """All rendered cell outputs as the user reads them (cell sources excluded)."""
    return page.locator(".jp-OutputArea-output").evaluate_all(
        "els => els.map(e => e.innerText).join('\\n')"
    )
