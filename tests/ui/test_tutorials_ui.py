"""Every tutorial, run all in a real JupyterLab, then read in the light and the dark theme.

Each tutorial runs once (a run is 20-60 s on 2 cores; twice would double the suite), in the
light browser; the checks read what its reader would check on screen (a number, a message,
markers on a chart). Then JupyterLab's own theme command switches the same page to light and
to dark (the outputs are re-styled live, as for a user who switches), and each time the contrast
of every text inside our widgets is measured (WCAG AA, 4.5:1) and a full-page screenshot saved
to test-artifacts/ui/. All runs share the one JupyterLab and its control plane (every tutorial
picks cluster IDs that are still free).
"""

from __future__ import annotations

import json
import os
import re
import shutil

import pytest
from labdriver import (
    ARTIFACTS,
    LONG,
    REPO,
    assert_contrast,
    control_plane,
    draw_every_chart,
    open_notebook,
    outputs_text,
    run_all,
    set_theme,
    shot,
    shutdown_kernel,
)
from playwright.sync_api import Page, expect

from compute_widgets.api import models as m
from compute_widgets.api.client import ComputeClient
from compute_widgets.charts import EVENT_STYLE

pytestmark = pytest.mark.ui

CLUSTER = "ui-cluster"
INSTANCE = "g2-standard-4"  # gcp us-east4, 1x NVIDIA L4
NODEPOOL = "g2-standard-4"  # the wizard suggests the ID from the instance type

TUTORIALS = [
    "01-quickstart",
    "02-nodepools-and-autoscaling",
    "03-config-as-code-and-magics",
    "04-capacity-planning",
    "05-using-clarifai",
    "06-right-sizing",
]
# tutorials that show our widgets (03 is magics and plain figures only)
WITH_WIDGETS = [t for t in TUTORIALS if not t.startswith("03-")]
# ... and charts inside them (a nodepool page of the browser, the planner)
WITH_CHARTS_IN_WIDGETS = [
    "01-quickstart", "02-nodepools-and-autoscaling", "04-capacity-planning", "06-right-sizing"
]  # fmt: skip

# markers of each event kind drawn on the chart titled /pattern/: {legend label: markers painted}
EVENT_MARKERS_JS = """([pattern, labels]) => {
    const re = new RegExp(pattern);
    const plots = [...document.querySelectorAll('.jp-RenderedPlotly.js-plotly-plot')]
        .filter(gd => re.test((gd.layout && gd.layout.title && gd.layout.title.text) || ''));
    if (plots.length !== 1) return {error: plots.length + ' charts titled ' + pattern};
    const drawn = {};
    for (const g of plots[0].querySelectorAll('.scatterlayer .trace')) {
        const trace = g.__data__ && g.__data__[0] && g.__data__[0].trace;
        if (!trace || !labels.includes(trace.name)) continue;
        const points = [...g.querySelectorAll('path.point')].filter(p => {
            const b = p.getBoundingClientRect();
            return p.getAttribute('d') && b.width > 0 && b.height > 0;
        });
        drawn[trace.name] = (drawn[trace.name] || 0) + points.length;
    }
    return drawn;
}"""


def event_markers(page: Page, title: str) -> dict[str, int]:
    """How many markers of each event kind the chart whose title matches ``title`` shows."""
    labels = [label for label, _color, _symbol in EVENT_STYLE.values()]
    drawn = page.evaluate(EVENT_MARKERS_JS, [title, labels])
    assert "error" not in drawn, drawn
    return drawn


class Tutorial:
    """A tutorial run all once in the light browser; its page stays open for the checks."""

    def __init__(self, name: str, page: Page, result: dict, text: str) -> None:
        self.name, self.page, self.result, self.text = name, page, result, text


@pytest.fixture(scope="module", params=TUTORIALS)
def tutorial(request, lab: dict, chromium):
    name = request.param
    context = chromium.browser("light").new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        open_notebook(page, lab, f"notebooks-ui/{name}.ipynb", "light")
        result = run_all(page)
        draw_every_chart(page)
        text = outputs_text(page)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / f"tutorial-{name}.txt").write_text(text)
        page.evaluate("window.jupyterapp.commands.execute('application:toggle-left-area')")
        yield Tutorial(name, page, result, text)
    finally:
        shutdown_kernel(page)
        context.close()


def test_tutorial_runs_all_and_reads_true(tutorial: Tutorial) -> None:
    r = tutorial.result
    assert r["errors"] == [], f"{tutorial.name}: {r['errors']}"
    assert r["executed"] == r["cells"], r
    CHECKS[tutorial.name](tutorial.page, tutorial.text)


@pytest.mark.parametrize("tutorial", ["01-quickstart"], indirect=True)
def test_quickstart_wizard_to_chart_in_jupyterlab(tutorial: Tutorial, lab: dict) -> None:
    """After the quickstart's run all: a person fills its first wizard, then the browser shows
    the new pool's page with charts (README's screenshot). Before the contrast tests: the
    wizard's chosen instance-type and cost rows are then on screen for them."""
    page = tutorial.page
    plane = control_plane(lab)
    assert plane["health"]["ok"] and plane["health"]["started_by_jupyter"]
    assert plane["health"]["url"] == plane["runtime"]["url"]
    assert "token" not in json.dumps(plane["health"]).lower()

    out = page.locator(".jp-OutputArea-output")

    # the kernel talks to the extension's control plane (it did not start one of its own)
    line = out.filter(has_text="control plane: http://127.0.0.1:").first
    expect(line).to_be_visible(timeout=LONG)
    kernel_url = re.search(r"control plane: (\S+)", line.inner_text()).group(1)
    assert kernel_url == plane["runtime"]["url"]

    # run-all is over when the last cell printed the browser's nodepool page
    expect(out.filter(has_text="ComputeBrowser: nodepool quickstart").first).to_be_visible(
        timeout=LONG
    )
    shot(page, "01-run-all")

    # --- the human's wizard (the first one; the second was filled by a cell) ---
    wizard = page.locator(".jp-OutputArea-output .cw-cluster-wizard").first
    wizard.scroll_into_view_if_needed()
    wizard.get_by_placeholder("e.g. my-aws-cluster").fill(CLUSTER)
    provider = wizard.locator(".widget-hbox", has_text="Cloud provider").locator("select")
    gcp = provider.locator("option", has_text=re.compile(r"^(gcp|Google\sCloud)$"))
    expect(gcp).to_have_count(1)
    provider.select_option(value=gcp.get_attribute("value"))
    region = wizard.locator(".widget-hbox", has_text="Region").locator("select")
    expect(region.locator("option", has_text="us-east4")).to_have_count(1)
    region.select_option(label="us-east4")
    proceed = wizard.locator("button.cw-action", has_text="Continue")
    expect(proceed).to_be_enabled()
    shot(page, "02-cluster-step")
    proceed.click()

    # step 2: the nodepool
    step2 = wizard.locator(".cw-nodepool-wizard")
    expect(step2).to_be_visible()
    expect(
        wizard.locator(
            ".cw-status", has_text=re.compile(r"instance types for (gcp/|Google Cloud )us-east4")
        )
    ).to_be_visible()
    picker = step2.locator(".widget-select select")
    option = picker.locator("option", has_text=f"{INSTANCE} —")
    expect(option).to_have_count(1)
    picker.select_option(label=option.inner_text().strip())
    nodepool_id = step2.get_by_placeholder("e.g. gpu-a10g")
    expect(nodepool_id).to_have_value(NODEPOOL)
    min_nodes = step2.locator(".widget-hbox", has_text="Node autoscaling range").locator("input")
    min_nodes.first.fill("1")
    min_nodes.first.press("Enter")
    expect(step2.locator(".cw-range-text")).to_contain_text("1")
    create = step2.locator("button.cw-action", has_text="Create nodepool")
    expect(create).to_be_enabled()
    create.click()
    expect(step2.locator(".cw-status", has_text=f"Created nodepool {NODEPOOL}")).to_be_visible()
    expect(step2.locator(".cw-summary-table")).to_contain_text("1 to 3 nodes")
    shot(page, "03-nodepool-created")

    # the extension's control plane holds it; a model on it and two simulated hours give the
    # charts something to show
    rt = plane["runtime"]
    with ComputeClient(rt["url"], rt["token"]) as client:
        created = client.get_nodepool(CLUSTER, NODEPOOL)
        assert created.instance_type_id == INSTANCE and created.min_instances == 1
        ref = m.Nodepool(id=NODEPOOL, compute_cluster=m.ComputeCluster(id=CLUSTER, user_id="me"))
        client.create_deployment(
            m.Deployment(
                id="ui-llm",
                worker=m.Worker(model=m.ModelRef(id="llama-3-8b", user_id="me", app_id="demo")),
                nodepools=[ref],
                autoscale_config=m.AutoscaleConfig(min_replicas=1, max_replicas=3),
            )
        )
        client.advance_clock(2 * 3600)

    # --- the browser widget: clusters -> ui-cluster -> its nodepool page with charts ---
    browser = page.locator(".jp-OutputArea-output .cw-browser").first
    browser.scroll_into_view_if_needed()
    browser.locator("button.cw-crumb", has_text="Clusters").click()
    browser.locator("button.cw-open", has_text=re.compile(f"^{CLUSTER}$")).click()
    expect(browser.locator(".cw-cluster-info")).to_contain_text(CLUSTER)
    browser.locator("button.cw-open", has_text=re.compile(f"^{NODEPOOL}$")).click()
    expect(browser.locator(".cw-nodepool-info")).to_contain_text(INSTANCE)
    expect(browser.locator(".cw-nodepool-info")).to_contain_text("1 to 3 nodes")
    chart = browser.locator(".cw-charts .js-plotly-plot .main-svg").first
    expect(chart).to_be_visible(timeout=LONG)
    expect(browser.locator(".cw-charts .js-plotly-plot")).to_have_count(2)
    expect(browser.locator(".cw-charts", has_text="Charts unavailable")).to_have_count(0)
    # the node-count trace was drawn (not the "no node counts" placeholder)
    expect(browser.locator(".cw-charts .scatterlayer .trace").first).to_be_attached()
    expect(browser.locator(".cw-deployments")).to_contain_text("ui-llm")

    # screenshots: the nodepool page from its title down, the file browser folded away
    browser.locator(".cw-nodepool-info").evaluate("el => el.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(500)  # let the scroll settle before the picture (not an assertion)
    shot(page, "04-browser-nodepool-page")
    browser.locator(".cw-charts").evaluate("el => el.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(500)
    shot(page, "05-browser-charts")
    # the README's screenshot: written when missing or asked for (every run draws other times,
    # so copying always would leave the checkout modified after each test run)
    readme_shot = REPO / "docs" / "quickstart.png"
    if not readme_shot.exists() or os.environ.get("UPDATE_DOCS_SCREENSHOT") == "1":
        readme_shot.parent.mkdir(exist_ok=True)
        shutil.copy(ARTIFACTS / "04-browser-nodepool-page.png", readme_shot)


@pytest.mark.parametrize("tutorial", WITH_WIDGETS, indirect=True)
@pytest.mark.parametrize("theme", ["light", "dark"])
def test_tutorial_widget_text_contrast(tutorial: Tutorial, theme: str) -> None:
    """WCAG AA (4.5:1) for every text of our widgets' HTML in the tutorial, in the theme; the
    full page is saved as test-artifacts/ui/tutorial-<name>-<theme>.png."""
    set_theme(tutorial.page, theme)
    shot(tutorial.page, f"tutorial-{tutorial.name}-{theme}", full_page=True)
    assert_contrast(tutorial.page, f"tutorial-{tutorial.name}-{theme}", part="html")


@pytest.mark.parametrize("tutorial", WITH_CHARTS_IN_WIDGETS, indirect=True)
@pytest.mark.parametrize("theme", ["light", "dark"])
def test_tutorial_widget_chart_text_contrast(tutorial: Tutorial, theme: str) -> None:
    """The same for the text plotly draws in the charts inside our widgets (ticks, titles,
    legends), measured on the chart's paper or the notebook behind a transparent one."""
    set_theme(tutorial.page, theme)
    assert_contrast(tutorial.page, f"tutorial-{tutorial.name}-{theme}", part="svg")


# --- what the reader of each tutorial checks -----------------------------------------------------


def check_quickstart(page: Page, text: str) -> None:
    cluster = re.search(r"ComputeBrowser: nodepool (quickstart\d*)/(\S+):", text)
    assert cluster, text[-2000:]
    # the events table lists the kinds; the chart has markers for each of them
    markers = event_markers(page, r"^quickstart\d*/[\w.-]+: nodes$")
    assert markers.get("scale up", 0) >= 1, markers
    browser = page.locator(".jp-OutputArea-output .cw-browser").first
    expect(browser.locator(".cw-nodepool-info")).to_contain_text(cluster.group(2))


def check_autoscaling(page: Page, text: str) -> None:
    for title, kinds in [
        ("^min 0: scales to zero", ["scale up", "scale down", "cold start"]),
        ("^spot pool: preemptions", ["spot preemption"]),
    ]:
        markers = event_markers(page, title)
        for kind in kinds:
            assert markers.get(kind, 0) >= 1, (title, markers)
    browser = page.locator(".jp-OutputArea-output .cw-browser").first
    expect(browser.locator(".cw-nodepool-info")).to_contain_text("1 to 4 nodes")


def check_config(page: Page, text: str) -> None:
    # the dry run of a bad file names the field and what to change, in one line
    assert re.search(r"UsageError : .*min_instances \(5\) is above max_instances \(2\)", text)
    # %compute np scale ... --min 1 --max 6, then the YAML of that nodepool says so
    assert "min_instances: 1" in text and "max_instances: 6" in text, text[-3000:]


def check_planning(page: Page, text: str) -> None:
    planner = page.locator(".jp-OutputArea-output .cw-planner").first
    expect(planner.locator(".cw-kpis")).to_be_visible()
    expect(planner.locator(".cw-charts .js-plotly-plot").first).to_be_visible()


def check_clarifai(page: Page, text: str) -> None:
    # the browser opened the tutorial's cluster: its page lists the nodepool the wizard made
    browser = page.locator(".jp-OutputArea-output .cw-browser").first
    expect(browser.locator(".cw-status").first).to_contain_text(
        re.compile(r"Cluster cw-tutorial\d*: 1 nodepools? ")
    )
    expect(browser.locator("button.cw-open", has_text="t3a-medium")).to_be_visible()
    # the last cell deletes the cluster and prints whether it is still listed
    assert text.rstrip().endswith("False"), text[-500:]


def check_rightsizing(page: Page, text: str) -> None:
    # the Planner's Right-size step drew its Pareto chart, and Confirm patched the pool
    step = page.locator(".jp-OutputArea-output .cw-planner .cw-rightsize").first
    expect(step.locator(".cw-charts .js-plotly-plot").first).to_be_visible()
    expect(step.locator(".cw-rightsize-front .cw-selected")).to_have_count(1)
    assert re.search(r"Patched nodepool chat: g5\.xlarge, \d+–\d+ nodes", text), text[-3000:]


CHECKS = {
    "01-quickstart": check_quickstart,
    "02-nodepools-and-autoscaling": check_autoscaling,
    "03-config-as-code-and-magics": check_config,
    "04-capacity-planning": check_planning,
    "05-using-clarifai": check_clarifai,
    "06-right-sizing": check_rightsizing,
}
