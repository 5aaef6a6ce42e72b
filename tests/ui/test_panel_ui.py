"""The Compute panel in JupyterLab's left sidebar, in Chromium, in the light and the dark theme.

Two clusters are made over the API of the control plane the Jupyter server runs; then only the
browser: open the panel, read each nodepool's node count and $/h as the server has them, change
a pool and advance the simulated clock (POST /local/clock/advance) and see the panel follow
without a reload, insert a ClusterWizard with *New cluster…*, drag a nodepool into the notebook
and run the chart cell it drops. Each theme's panel passes the contrast audit (WCAG AA, 4.5:1);
screenshots go to test-artifacts/ui/panel-<theme>*.png (COMPUTE_WIDGETS_UPDATE_DOCS=1 also
writes docs/panel.png from the light one).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from labdriver import (
    KERNEL_IDLE,
    LONG,
    PLOTLY_OUTPUT,
    REPO,
    assert_contrast,
    control_plane,
    open_notebook,
    shot,
    shutdown_kernel,
)
from playwright.sync_api import Page, expect

from compute_widgets.api import models as m
from compute_widgets.api.client import ComputeClient

pytestmark = pytest.mark.ui

PANEL = ".cw-ComputePanel"
EMPTY_NOTEBOOK = {
    "cells": [
        {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": ""}
    ],
    "metadata": {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
    },
    "nbformat": 4,
    "nbformat_minor": 5,
}


def _pool(cap: list[m.CapacityType], it: str, lo: int, hi: int, pid: str) -> m.Nodepool:
    return m.Nodepool(
        id=pid,
        instance_types=[m.InstanceType(id=it)],
        node_capacity_type=m.NodeCapacityType(capacity_types=cap),
        min_instances=lo,
        max_instances=hi,
    )


def _seed(client: ComputeClient, theme: str) -> tuple[str, str]:
    """Two clusters of this theme's own: a GPU spot pool with on-demand fallback, a CPU pool."""
    gpu, cpu = f"panel-{theme}-aws", f"panel-{theme}-gcp"
    client.create_cluster(
        m.ComputeCluster(id=gpu, cloud_provider=m.CloudProvider(id="aws"), region="us-east-1")
    )
    client.create_cluster(
        m.ComputeCluster(id=cpu, cloud_provider=m.CloudProvider(id="gcp"), region="us-east4")
    )
    spot = [m.CapacityType.SPOT_TYPE, m.CapacityType.ON_DEMAND_TYPE]
    client.create_nodepool(gpu, _pool(spot, "g5.xlarge", 1, 4, "gpu-spot"))
    client.create_nodepool(cpu, _pool([m.CapacityType.ON_DEMAND_TYPE], "n2-standard-4", 0, 3, "cpu-pool"))  # fmt: skip
    client.advance_clock(3600)  # an hour: the GPU pool's floor node is up
    return gpu, cpu


def _key(cluster: str, nodepool: str) -> str:
    return f'{PANEL}-nodepool[data-cluster="{cluster}"][data-nodepool="{nodepool}"]'


def _row(page: Page, cluster: str, nodepool: str):
    return page.locator(_key(cluster, nodepool))


def _nodes_text(n: m.Nodepool) -> str:
    """What the panel must say for a pool with a known split (see panel.ts nodesText)."""
    word = "node" if n.node_count == 1 else "nodes"
    return f"{n.node_count} {word}"


def _money(value: float) -> str:
    return f"${value:.2f}/h"


def _drag(page: Page, source, target) -> None:
    """Press on `source`, move in steps onto `target`, release: what a user's drag does."""
    # a changed answer redraws the rows (a spot preemption on the running clock): a row found
    # just before that has no box; the redrawn one stands in the same place
    a = next((box for _ in range(5) if (box := source.bounding_box()) is not None), None)
    b = target.bounding_box()
    assert a is not None and b is not None, "the nodepool row or the notebook has no box"
    page.mouse.move(a["x"] + a["width"] / 2, a["y"] + a["height"] / 2)
    page.mouse.down()
    page.mouse.move(a["x"] + a["width"] / 2 + 20, a["y"] + a["height"] / 2, steps=4)
    page.mouse.move(b["x"] + b["width"] / 2, b["y"] + b["height"] - 10, steps=12)
    page.mouse.up()


def _next_answer(page: Page) -> object:
    """The panel's next poll answer (GET /compute-widgets/api/clusters), as JSON."""
    with page.expect_response(lambda r: "/compute-widgets/api/clusters" in r.url) as info:
        pass
    return info.value.json()


def _assert_unchanged_polls_keep_the_row(page: Page, key: str, tries: int = 5) -> None:
    """Mark the row, let two polls come, and check the mark is still there, over a stretch of
    four equal answers (the two before the mark: what is drawn is that answer; the two after:
    after the second, the first one has been drawn or left). The plane's clock runs on, so a
    spot preemption may change an answer: then that stretch proves nothing and is tried again."""
    for _ in range(tries):
        before = [_next_answer(page), _next_answer(page)]
        page.evaluate("key => { document.querySelector(key).dataset.seen = 'yes'; }", key)
        after = [_next_answer(page), _next_answer(page)]
        if all(a == before[0] for a in before + after):
            assert page.locator(key).get_attribute("data-seen") == "yes", "an unchanged poll redrew"
            return
    raise AssertionError(f"the panel's answers changed in each of {tries} stretches of 4 polls")


def _cell_sources(page: Page) -> list[str]:
    return page.evaluate(
        "() => window.jupyterapp.shell.currentWidget.content.widgets"
        ".map(c => c.model.sharedModel.getSource())"
    )


@pytest.fixture(scope="module", params=["light", "dark"])
def panel(request, lab: dict, chromium):
    theme = request.param
    rt = control_plane(lab)["runtime"]
    with ComputeClient(rt["url"], rt["token"]) as client:
        clusters = _seed(client, theme)
        name = f"panel-{theme}.ipynb"
        (Path(lab["root"]) / name).write_text(json.dumps(EMPTY_NOTEBOOK))
        context = chromium.browser(theme).new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        page.set_default_timeout(60_000)
        try:
            open_notebook(page, lab, name, theme)
            # the Compute tab of the left sidebar, as a user clicks it
            page.locator('.jp-SideBar.jp-mod-left [data-id="compute-widgets-panel"]').click()
            expect(page.locator(PANEL)).to_be_visible()
            yield theme, page, client, clusters
        finally:
            shutdown_kernel(page)
            context.close()


def test_panel_shows_the_clusters_live_and_inserts_cells(panel) -> None:
    theme, page, client, (gpu, cpu) = panel
    expect(page.locator(f"{PANEL}-picker")).to_have_value("local")
    expect(page.locator(f"{PANEL}-picker option:checked")).to_have_text("Local control plane")

    # --- what the server has, the panel shows -------------------------------------------------
    truth = {(n.compute_cluster_id, n.id): n for n in client.list_nodepools()}
    od = {t.id: t.price_per_hour for t in client.list_instance_types("gcp", "us-east4")}
    gpu_row, cpu_row = _row(page, gpu, "gpu-spot"), _row(page, cpu, "cpu-pool")
    expect(gpu_row.locator(f"{PANEL}-nodes")).to_contain_text(_nodes_text(truth[(gpu, "gpu-spot")]))
    expect(gpu_row.locator(f"{PANEL}-status")).to_have_text("ready")
    expect(gpu_row.locator(f"{PANEL}-type")).to_have_text(
        "g5.xlarge · spot, on-demand fallback · 1–4"
    )
    assert truth[(cpu, "cpu-pool")].node_count == 0
    expect(cpu_row.locator(f"{PANEL}-nodes")).to_have_text("0 nodes")
    expect(cpu_row.locator(f"{PANEL}-cost")).to_have_text("$0.00/h")

    # --- a poll that brings nothing new leaves the rows alone: a press, a focus survive --------
    _assert_unchanged_polls_keep_the_row(page, _key(gpu, "gpu-spot"))

    # --- live: a floor of 2 and an hour later, without a reload; the focus stays put ----------
    cpu_row.locator(f"{PANEL}-more").focus()
    pool = client.get_nodepool(cpu, "cpu-pool")
    client.patch_nodepool(cpu, pool.model_copy(update={"min_instances": 2}))
    client.advance_clock(3600)  # POST /local/clock/advance
    now = client.get_nodepool(cpu, "cpu-pool")
    assert now.node_count == 2
    expect(cpu_row.locator(f"{PANEL}-nodes")).to_have_text("2 nodes: 2 on-demand")
    expect(cpu_row.locator(f"{PANEL}-cost")).to_have_text(_money(od["n2-standard-4"] * 2))
    expect(page.locator(f'{PANEL}-cluster[data-cluster="{cpu}"] {PANEL}-clusterHead {PANEL}-cost')).to_have_text(
        _money(od["n2-standard-4"] * 2)
    )  # fmt: skip
    expect(gpu_row).not_to_have_attribute("data-seen", "yes")  # this answer was new: redrawn
    expect(cpu_row.locator(f"{PANEL}-more")).to_be_focused()
    page.evaluate("() => document.activeElement.blur()")
    assert_contrast(page, f"panel-{theme}", roots=PANEL)
    shot(page, f"panel-{theme}")
    if theme == "dark":
        return  # the insertions are the same in both themes: the light run makes them

    # --- New cluster…: the wizard is inserted (with its import cell) and runs -----------------
    page.locator(f"{PANEL}-new").click()
    expect(page.locator(".jp-OutputArea-output .cw-wizard").first).to_be_visible(timeout=LONG)
    sources = _cell_sources(page)
    assert sources == ["import compute_widgets as cw\ncw.connect(local=True)", "cw.ClusterWizard()"]
    page.wait_for_function(KERNEL_IDLE, timeout=LONG)

    # --- a nodepool dragged into the notebook drops its chart cell; run, it draws -------------
    _drag(page, gpu_row, page.locator(".jp-NotebookPanel .jp-Notebook").first)
    chart = f"%compute chart {gpu} gpu-spot --range 1d --kind scaling"
    page.wait_for_function(
        "n => window.jupyterapp.shell.currentWidget.content.widgets.length === n", arg=4
    )
    # the magic's setup is not in the notebook yet, so it comes along in a cell of its own
    assert _cell_sources(page)[2:] == ["%load_ext compute_widgets", chart]
    page.evaluate(
        """() => { const nb = window.jupyterapp.shell.currentWidget.content;
                   nb.activeCellIndex = 2; nb.deselectAll(); nb.extendContiguousSelectionTo(3);
                   return window.jupyterapp.commands.execute('notebook:run-cell'); }"""
    )
    plot = page.locator(".jp-NotebookPanel .jp-Cell").nth(3).locator(PLOTLY_OUTPUT).first
    expect(plot).to_be_attached(timeout=LONG)
    plot.scroll_into_view_if_needed()
    expect(plot.locator(".main-svg").first).to_be_attached(timeout=LONG)
    expect(plot).to_contain_text(f"{gpu}/gpu-spot")
    path = shot(page, f"panel-{theme}-chart")
    if os.environ.get("COMPUTE_WIDGETS_UPDATE_DOCS") == "1":
        shutil.copy(path, REPO / "docs" / "panel.png")

    # --- a nodepool's menu: its three insertions; the browser page opens at that pool ---------
    page.wait_for_function(KERNEL_IDLE, timeout=LONG)
    cpu_row.locator(f"{PANEL}-more").click()
    menu = page.locator(f".lm-Menu{PANEL}-menu")
    expect(menu.locator(".lm-Menu-itemLabel")).to_have_text(
        ["Insert chart", "Insert Planner", "Insert browser page"]
    )
    menu.locator(".lm-Menu-item", has_text="Insert browser page").click()
    page.wait_for_function(
        "n => window.jupyterapp.shell.currentWidget.content.widgets.length === n", arg=5
    )
    assert _cell_sources(page)[4] == f"cw.ComputeBrowser(nodepool=('{cpu}', 'cpu-pool'))"
    info = page.locator(".jp-NotebookPanel .jp-Cell").nth(4).locator(".cw-nodepool-info")
    expect(info).to_contain_text("cpu-pool", timeout=LONG)
