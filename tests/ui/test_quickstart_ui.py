"""The quickstart in a real JupyterLab and a real browser: run all, fill the wizard, see a chart.

Headless Debian Chromium driven by Python Playwright; the control plane is the one the
compute_widgets server extension started with JupyterLab (the notebook's `connect()` finds it).
Text locators are scoped to `.jp-OutputArea-output`: cell sources contain the same strings.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from compute_widgets.api import models as m
from compute_widgets.api.client import ComputeClient

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "ui"
KERNEL_IDLE = (
    "() => window.jupyterapp?.shell.currentWidget?.sessionContext?.session?.kernel?.status"
    " === 'idle'"
)

pytestmark = pytest.mark.ui

CLUSTER = "ui-cluster"
INSTANCE = "g2-standard-4"  # gcp us-east4, 1x NVIDIA L4
NODEPOOL = "g2-standard-4"  # the wizard suggests the ID from the instance type
LONG = 120_000  # ms: a cold kernel imports pandas/plotly/numba on 2 cores


def _extension_control_plane(lab: dict) -> dict:
    """What the server extension reports (/compute-widgets/health) and its runtime file."""
    url = f"{lab['url']}/compute-widgets/health?token={lab['token']}"
    with urllib.request.urlopen(url, timeout=30) as r:
        health = json.load(r)
    files = list((lab["root"] / ".runtime").glob("compute-widgets-*.json"))
    assert len(files) == 1, files
    return {"health": health, "runtime": json.loads(files[0].read_text())}


def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=False)


def test_quickstart_wizard_to_chart_in_jupyterlab(page: Page, lab: dict) -> None:
    plane = _extension_control_plane(lab)
    assert plane["health"]["ok"] and plane["health"]["started_by_jupyter"]
    assert plane["health"]["url"] == plane["runtime"]["url"]
    assert "token" not in json.dumps(plane["health"]).lower()

    page.set_default_timeout(30_000)
    page.goto(f"{lab['url']}/lab/tree/notebooks/01-quickstart.ipynb?token={lab['token']}")
    page.wait_for_function(KERNEL_IDLE, timeout=LONG)
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
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
    _shot(page, "01-run-all")

    # --- the human's wizard (the first one; the second was filled by a cell) ---
    wizard = page.locator(".jp-OutputArea-output .cw-cluster-wizard").first
    wizard.scroll_into_view_if_needed()
    wizard.get_by_placeholder("e.g. my-aws-cluster").fill(CLUSTER)
    provider = wizard.locator(".widget-hbox", has_text="Cloud provider").locator("select")
    provider.select_option(label="gcp")
    region = wizard.locator(".widget-hbox", has_text="Region").locator("select")
    expect(region.locator("option", has_text="us-east4")).to_have_count(1)
    region.select_option(label="us-east4")
    proceed = wizard.locator("button.cw-action", has_text="Continue")
    expect(proceed).to_be_enabled()
    _shot(page, "02-cluster-step")
    proceed.click()

    # step 2: the nodepool
    step2 = wizard.locator(".cw-nodepool-wizard")
    expect(step2).to_be_visible()
    expect(wizard.locator(".cw-status", has_text="instance types for gcp/us-east4")).to_be_visible()
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
    _shot(page, "03-nodepool-created")

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
    page.evaluate("window.jupyterapp.commands.execute('application:toggle-left-area')")
    browser.locator(".cw-nodepool-info").evaluate("el => el.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(500)  # let the scroll settle before the picture (not an assertion)
    _shot(page, "04-browser-nodepool-page")
    browser.locator(".cw-charts").evaluate("el => el.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(500)
    _shot(page, "05-browser-charts")
    # the README's screenshot: written when missing or asked for (every run draws other times,
    # so copying always would leave the checkout modified after each test run)
    readme_shot = REPO / "docs" / "quickstart.png"
    if not readme_shot.exists() or os.environ.get("UPDATE_DOCS_SCREENSHOT") == "1":
        readme_shot.parent.mkdir(exist_ok=True)
        shutil.copy(ARTIFACTS / "04-browser-nodepool-page.png", readme_shot)
