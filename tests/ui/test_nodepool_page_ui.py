"""A nodepool's page in Chromium (issue 13 #2): after *Save* its two charts are drawn at the
figures' 700 px (they redrew at 398 px, plotly's size of a content-sized output), and a pool
with no history yet says so in one line of words where the charts would be.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from labdriver import open_notebook, run_all, shot, shutdown_kernel
from playwright.sync_api import expect

from compute_widgets.api import models as m
from compute_widgets.api.client import ComputeClient

pytestmark = pytest.mark.ui

CLUSTER, OLD, FRESH = "page-ui", "np-hist", "np-fresh"
CHART_WIDTH = 700  # compute_widgets.widgets.browser.CHART_WIDTH_PX
NO_HISTORY = re.compile(r"(No|Not enough) history yet")  # charts.history_note: 0 or 1 sample
NOTEBOOK = {
    "cells": [
        {
            "cell_type": "code",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": (
                "import compute_widgets as cw\n\n"
                f"browser = cw.ComputeBrowser(cw.connect(), nodepool=({CLUSTER!r}, {OLD!r}))\n"
                "browser"
            ),
        }
    ],
    "metadata": {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
    },
    "nbformat": 4,
    "nbformat_minor": 5,
}
PLOT_WIDTHS = (
    "els => els.map(e => ({title: e._fullLayout?.title?.text,"
    " width: e._fullLayout?.width, box: Math.round(e.getBoundingClientRect().width)}))"
)


def _pool(client: ComputeClient, np_id: str, low: int) -> None:
    client.create_nodepool(
        CLUSTER,
        m.Nodepool(
            id=np_id,
            instance_types=[m.InstanceType(id="g5.xlarge")],
            node_capacity_type=m.NodeCapacityType(capacity_types=[m.CapacityType.ON_DEMAND_TYPE]),
            min_instances=low,
            max_instances=3,
        ),
    )


def _save_max(b, value: str, np_id: str) -> None:
    hi = b.locator(".widget-hbox", has_text="Node range").locator("input").nth(1)
    hi.fill(value)
    hi.press("Enter")
    save = b.locator("button.cw-save")
    expect(save).to_be_enabled()
    save.click()
    expect(b.locator(".cw-status").first).to_contain_text(f"Saved nodepool {np_id}")
    expect(b.locator("button.cw-refresh")).to_be_enabled()


def test_charts_keep_700px_after_save_and_a_fresh_pool_says_no_history(lab, page):
    from labdriver import control_plane

    rt = control_plane(lab)["runtime"]
    with ComputeClient(rt["url"], rt["token"]) as client:
        client.create_cluster(
            m.ComputeCluster(
                id=CLUSTER, cloud_provider=m.CloudProvider(id="aws"), region="us-east-1"
            )
        )
        _pool(client, OLD, 1)  # one node all along: two hours of history after the advance
        client.advance_clock(2 * 3600)
        _pool(client, FRESH, 0)  # made "now": nothing to chart yet
    (Path(lab["root"]) / "nodepool-page.ipynb").write_text(json.dumps(NOTEBOOK))
    try:
        open_notebook(page, lab, "nodepool-page.ipynb", "light")
        result = run_all(page)
        assert result["errors"] == [] and result["executed"] == 1, result
        b = page.locator(".jp-OutputArea-output .cw-browser").first
        plots = b.locator(".cw-charts .js-plotly-plot")
        expect(plots).to_have_count(2, timeout=180_000)

        _save_max(b, "4", OLD)
        expect(b.locator(".cw-nodepool-info")).to_contain_text("1 to 4 nodes")
        expect(plots).to_have_count(2)
        plots.last.scroll_into_view_if_needed()
        page.wait_for_function(
            "() => [...document.querySelectorAll('.cw-charts .js-plotly-plot')]"
            ".every(e => e._fullLayout && e.querySelector('.main-svg'))"
        )
        widths = plots.evaluate_all(PLOT_WIDTHS)
        shot(page, "nodepool-page-after-save")
        assert [w["title"] for w in widths] == ["Utilization", "Nodepool scaling history"]
        assert all(w["width"] >= CHART_WIDTH and w["box"] >= CHART_WIDTH for w in widths), widths

        # the fresh pool: words where the charts would be, before and after Save
        b.locator("button.cw-crumb", has_text=re.compile(f"^{CLUSTER}$")).click()
        b.locator("button.cw-open", has_text=re.compile(f"^{FRESH}$")).click()
        note = b.locator(".cw-chart-note")
        expect(note).to_contain_text(NO_HISTORY)
        expect(b.locator(".cw-charts .js-plotly-plot")).to_have_count(0)
        _save_max(b, "4", FRESH)
        expect(note).to_contain_text(NO_HISTORY)
        expect(b.locator(".cw-charts .js-plotly-plot")).to_have_count(0)
        note.scroll_into_view_if_needed()
        shot(page, "nodepool-page-fresh-after-save")
    finally:
        shutdown_kernel(page)
