"""ComputeBrowser driven without a browser against the real local control plane."""

from __future__ import annotations

import pytest

pytest.importorskip("ipywidgets")

import ipywidgets as W  # noqa: E402

from compute_widgets.api import models as m  # noqa: E402
from compute_widgets.widgets import ComputeBrowser, NodepoolWizard  # noqa: E402


def make_pool(client, uid, *, with_deployment=False):
    cc = client.create_cluster(
        m.ComputeCluster(id=uid("cc"), cloud_provider=m.CloudProvider(id="aws"), region="us-east-1")
    )
    np = client.create_nodepool(
        cc.id,
        m.Nodepool(
            id=uid("np"),
            instance_types=[m.InstanceType(id="g5.xlarge")],
            node_capacity_type=m.NodeCapacityType(capacity_types=[m.CapacityType.ON_DEMAND_TYPE]),
            min_instances=0,
            max_instances=2,
        ),
    )
    dep = None
    if with_deployment:
        dep = client.create_deployment(
            m.Deployment(
                id=uid("dep"),
                autoscale_config=m.AutoscaleConfig(min_replicas=0, max_replicas=2),
                nodepools=[
                    m.Nodepool(
                        id=np.id, compute_cluster=m.ComputeCluster(id=cc.id, user_id=client.user_id)
                    )
                ],
                worker=m.Worker(
                    model=m.ModelRef(id=uid("model"), user_id=client.user_id, app_id="main")
                ),
            )
        )
    return cc, np, dep


def buttons(box) -> dict[str, W.Button]:
    """Every Button under ``box`` by its label."""
    out: dict[str, W.Button] = {}
    stack = [box]
    while stack:
        w = stack.pop()
        if isinstance(w, W.Button):
            out[w.description] = w
        stack.extend(getattr(w, "children", ()))
    return out


def test_clusters_table_opens_cluster_and_nodepool_pages(client, uid):
    cc, np, dep = make_pool(client, uid, with_deployment=True)
    b = ComputeBrowser(client)
    assert b.page == "clusters" and b.status.kind == "ok"
    assert cc.id in [c.id for c in b.clusters]
    grid_text = " ".join(getattr(w, "value", "") for w in b.clusters_box.children[0].children)
    assert "shared" in grid_text  # the default shared cluster is listed
    buttons(b.clusters_box)[cc.id].click()  # the row's open button
    assert b.page == "cluster" and b.pages.selected_index == 1
    assert "us-east-1" in b.cluster_info.value and "AWS" in b.cluster_info.value
    buttons(b.nodepools_box)[np.id].click()
    assert b.page == "nodepool" and b.pages.selected_index == 2, b.status.text
    info = b.nodepool_info.value
    assert "g5.xlarge" in info and "0 to 2 nodes" in info and "on-demand" in info
    assert dep.id in b.deployments_table.value
    # a pool created just now has no history: words in the charts' place (issue 13 #2)
    assert b.figures == {} and b.charts.outputs == ()
    assert "history yet" in b.chart_note.value
    assert f"nodepool {cc.id}/{np.id}" in repr(b)
    # breadcrumb back
    crumbs = buttons(b.breadcrumb)
    assert set(crumbs) == {"Clusters", cc.id}
    crumbs[cc.id].click()
    assert b.page == "cluster"
    buttons(b.breadcrumb)["Clusters"].click()
    assert b.page == "clusters"


def test_edit_autoscaling_range_and_spot(client, uid):
    cc, np, _ = make_pool(client, uid)
    b = ComputeBrowser(client)
    b.open_nodepool(cc.id, np.id)
    assert b.save_button.disabled  # nothing edited
    b.edit_min.value = 1
    b.edit_max.value = 4
    b.edit_spot.value = True
    assert not b.save_button.disabled
    b.save_button.click()
    assert b.status.kind == "ok", b.status.text
    got = client.get_nodepool(cc.id, np.id)
    assert (got.min_instances, got.max_instances, got.spot) == (1, 4, True)
    assert "1 to 4 nodes" in b.nodepool_info.value
    # back to 0 and on-demand (zero values must survive the overwrite)
    b.edit_min.value = 0
    b.edit_spot.value = False
    b.save_button.click()
    got = client.get_nodepool(cc.id, np.id)
    assert (got.min_instances, got.max_instances, got.spot) == (0, 4, False)


def test_edit_min_above_max_is_a_message_and_save_waits(client, uid):
    """Issue 13 #3 in the nodepool page's edit form: nothing clamped, Save disabled, words."""
    cc, np, _ = make_pool(client, uid)  # 0-2
    b = ComputeBrowser(client)
    b.open_nodepool(cc.id, np.id)
    b.edit_min.value = 6
    assert (b.edit_min.value, b.edit_max.value) == (6, 2)
    assert "The minimum (6) is above the maximum (2)" in b.edit_msg.value
    assert b.save_button.disabled
    b.save_nodepool()  # the public method refuses too
    assert client.get_nodepool(cc.id, np.id).min_instances == 0
    b.edit_min.value, b.edit_max.value = 0, 0
    assert (b.edit_min.value, b.edit_max.value) == (0, 0)
    assert b.save_button.disabled and "The maximum is 0: set it to at least 1" in b.edit_msg.value
    b.edit_max.value = 3
    assert b.edit_msg.value == "" and not b.save_button.disabled


def test_delete_nodepool_confirmation_says_what_stops(client, uid):
    cc, np, dep = make_pool(client, uid, with_deployment=True)
    b = ComputeBrowser(client)
    b.open_nodepool(cc.id, np.id)
    buttons(b.nodepool_page)["Delete nodepool…"].click()
    text = b.nodepool_confirm.children[0].value
    assert dep.id in text and "stop working" in text and "cannot be undone" in text
    buttons(b.nodepool_confirm)["Cancel"].click()
    assert b.nodepool_confirm.children == ()
    assert np.id in [n.id for n in client.list_nodepools(cc.id)]
    buttons(b.nodepool_page)["Delete nodepool…"].click()
    buttons(b.nodepool_confirm)[f"Delete nodepool {np.id}"].click()
    assert b.status.kind == "ok" and b.page == "cluster"
    assert np.id not in [n.id for n in client.list_nodepools(cc.id)]


def test_delete_cluster_confirmation_names_nodepools(client, uid):
    cc, np, _ = make_pool(client, uid)
    b = ComputeBrowser(client)
    b.open_cluster(cc.id)
    assert np.id in b.delete_message("cluster") and "stop working" in b.delete_message("cluster")
    buttons(b.cluster_page)["Delete cluster…"].click()
    buttons(b.cluster_confirm)[f"Delete cluster {cc.id}"].click()
    assert b.page == "clusters" and b.status.kind == "ok"
    assert cc.id not in [c.id for c in client.list_clusters()]


def test_create_a_new_nodepool_inline(client, uid):
    cc, _np, _ = make_pool(client, uid)
    b = ComputeBrowser(client)
    b.open_cluster(cc.id)
    b.new_nodepool_button.click()
    wiz = b.cluster_wizard_area.children[0]
    assert isinstance(wiz, NodepoolWizard) and wiz.cluster_id == cc.id
    wiz.instance_type.value = "t3a.medium"
    new_id = uid("np")
    wiz.nodepool_id.value = new_id
    wiz.click()
    assert wiz.created is not None
    assert new_id in [n.id for n in b.nodepools]  # the table refreshed
    assert b.cluster_wizard_area.children == (wiz,)  # the summary stays visible


def test_errors_shown_in_place_and_refresh(client, uid):
    cc, np, _ = make_pool(client, uid)
    b = ComputeBrowser(client)
    b.open_cluster(cc.id)
    b.open_cluster("no-such-cluster-zz")
    assert b.status.kind == "error" and "\n" not in b.status.text
    assert b.page == "cluster" and b.cluster.id == cc.id  # still on the page it was
    client.delete_nodepool(cc.id, np.id)  # changed elsewhere
    b.refresh_button.click()
    assert b.status.kind == "ok" and b.nodepools == []


async def test_browser_navigation_as_asyncio_tasks(client, uid):
    cc, np, _ = make_pool(client, uid)
    b = ComputeBrowser(client)
    assert b.pending is not None and b.status.kind == "busy"
    await b.wait()
    assert cc.id in [c.id for c in b.clusters]
    task = b.open_nodepool(cc.id, np.id)
    assert task is not None and b.refresh_button.disabled
    assert b.refresh() is None  # refused while a call is in flight
    await b.wait()
    assert b.page == "nodepool" and not b.refresh_button.disabled


def test_text_fallbacks(client, uid):
    cc, _np, _ = make_pool(client, uid)
    b = ComputeBrowser(client)
    bundle = b._repr_mimebundle_()
    assert cc.id in bundle["text/html"] and cc.id in bundle["text/plain"]
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_default_shared_cluster_is_listed_and_read_only(client):
    b = ComputeBrowser(client)
    shared = [c for c in b.clusters if c.cluster_type == "shared"]
    assert shared, "the local control plane lists Clarifai's default shared cluster"
    buttons(b.clusters_box)[shared[0].id].click()
    assert b.page == "cluster" and "no setup" in b.cluster_info.value
    assert b.delete_cluster_button.disabled and b.new_nodepool_button.disabled


def plotly_outputs(b) -> list[dict]:
    return [o for o in b.charts.outputs if "application/vnd.plotly.v1+json" in o.get("data", {})]


def test_new_pool_page_says_no_history_in_words_after_save_then_charts(fresh_server, uid):
    """Issue 13 #2: a fresh pool's page (and the page Save redraws) shows one line of words
    instead of two empty figures; once the pool has run, the two figures come back."""
    from compute_widgets.api.client import ComputeClient

    with ComputeClient(fresh_server.url, fresh_server.token, user_id="me") as client:
        cc, np, _ = make_pool(client, uid)
        b = ComputeBrowser(client)
        b.open_nodepool(cc.id, np.id)
        assert b.page == "nodepool" and b.status.kind == "ok", b.status.text
        words = b.chart_note.value
        assert "history yet" in words and "Charts appear once" in words, words
        assert plotly_outputs(b) == [] and b.figures == {}
        b.edit_max.value = 3
        b.save_button.click()
        assert b.status.kind == "ok" and b.status.text.startswith("Saved nodepool"), b.status.text
        assert "0 to 3 nodes" in b.nodepool_info.value
        assert "history yet" in b.chart_note.value  # the page Save redrew: still words
        assert plotly_outputs(b) == [] and b.figures == {}
        client.advance_clock(2 * 3600)
        b.refresh()
        assert b.status.kind == "ok", b.status.text
        assert b.chart_note.value == ""
        titles = [o["data"]["text/plain"] for o in plotly_outputs(b)]
        assert titles == ["<Figure: Utilization>", "<Figure: Nodepool scaling history>"]
        assert b.charts.layout.min_width == "700px"  # never drawn narrower than the figures
