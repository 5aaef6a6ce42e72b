"""What the widgets and tables say, read as a user reads it (issue 13 #4 #5 #6 #8 #10).

Against the real local control plane: no error before the user touched a form, taken IDs said
beside the field while typing, statuses and providers in words, meaningful zeros kept, plurals,
the as-code YAML naming the instance type by id, the next step after a create, and a note when
the local clock runs ahead. The selected-row colours are checked against JupyterLab's own theme
files (the rendered page is audited by the browser tests).
"""

from __future__ import annotations

import datetime as dt
import html
import re
from pathlib import Path

import pytest

pytest.importorskip("ipywidgets")

from compute_widgets.api import models as m  # noqa: E402
from compute_widgets.api.client import ComputeClient  # noqa: E402
from compute_widgets.widgets import ClusterWizard, ComputeBrowser, NodepoolWizard  # noqa: E402
from compute_widgets.widgets._base import SELECTED_ROW_STYLE, html_table  # noqa: E402
from compute_widgets.widgets.browser import clock_note  # noqa: E402

RAW = re.compile(r"NODEPOOL_STATUS_|UNKNOWN_VISIBILITY|UNKNOWN_SCHEDULING_CHOICE")


def text(value: str) -> str:
    """An HTML value as the words on screen."""
    return html.unescape(re.sub(r"<[^>]+>", " ", value))


def make_cluster(client, uid, provider="aws", region="us-east-1"):
    return client.create_cluster(
        m.ComputeCluster(id=uid("cc"), cloud_provider=m.CloudProvider(id=provider), region=region)
    )


def make_pool(client, cc, uid, lo=0, hi=2):
    return client.create_nodepool(
        cc.id,
        m.Nodepool(
            id=uid("np"),
            instance_types=[
                m.InstanceType(id="g5.xlarge" if cc.region == "us-east-1" else "g2-standard-4")
            ],
            node_capacity_type=m.NodeCapacityType(capacity_types=[m.CapacityType.ON_DEMAND_TYPE]),
            min_instances=lo,
            max_instances=hi,
        ),
    )


def messages(w) -> str:
    """Every field message and the status line of a form, as text."""
    found = [w.status.text]
    stack = [w]
    while stack:
        x = stack.pop()
        if "cw-field-message" in getattr(x, "_dom_classes", ()):
            found.append(text(x.value))
        stack.extend(getattr(x, "children", ()))
    return " ".join(s for s in found if s.strip())


# --- #5: no error before the user touched the nodepool step --------------------------------------


def test_nodepool_step_opens_without_an_error_in_a_gcp_cluster(client, uid):
    w = ClusterWizard(client)
    w.cluster_id.value = uid("cc")
    w.provider.value = "gcp"
    assert w.region.value == "us-east4"
    w.click()
    assert w.step == 1, w.status.text
    np_w = w.nodepool_wizard
    said = messages(np_w)
    assert "instance_types is empty" not in said and "g5.xlarge" not in said
    assert not any(text(x.value).strip() for x in (np_w.id_msg, np_w.instance_msg, np_w.range_msg))
    assert np_w.action.disabled  # the button says "not yet" without red text
    np_w.nodepool_id.value = uid("np")  # the user starts: now the missing type is said, in words
    assert text(np_w.instance_msg.value).strip() == "Choose an instance type from the list above."
    assert "g5.xlarge" not in messages(np_w)  # never an AWS example in a GCP cluster


# --- #5: taken nodepool IDs as you type ----------------------------------------------------------


def test_nodepool_id_taken_is_said_beside_the_field_as_you_type(client, uid):
    cc = make_cluster(client, uid)
    taken = make_pool(client, cc, uid)
    w = NodepoolWizard(cc, client)
    w.instance_type.value = "g5.xlarge"
    w.nodepool_id.value = taken.id
    hint = text(w.id_msg.value).strip()
    assert hint == f"A nodepool with ID '{taken.id}' already exists: choose another ID."
    assert w.action.disabled and w.status.kind != "error"
    w.nodepool_id.value = taken.id + "b"
    assert text(w.id_msg.value).strip() == "" and not w.action.disabled


# --- #6: words, not enums; zeros kept; provider names ---------------------------------------------


def test_tables_and_cards_say_statuses_and_providers_in_words(client, uid):
    cc = make_cluster(client, uid, "gcp", "us-east4")
    w = NodepoolWizard(cc, client)
    w.instance_type.value = "g2-standard-4"
    w.nodepool_id.value = uid("np")
    w.click()
    assert w.created is not None, w.status.text
    card = text(w.result.value)
    assert not RAW.search(card)
    status_row = re.search(r"Status\s+(\S+)", card).group(1)
    assert (
        status_row
        == m.NodepoolStatus(w.created.status).name.removeprefix("NODEPOOL_STATUS_").lower()
    )
    assert "Google Cloud us-east4" in w.status.text or w.status.text.startswith("Created")

    b = ComputeBrowser(client)
    clusters_text = " ".join(
        text(getattr(x, "value", "")) for x in b.clusters_box.children[0].children
    )
    assert "Google Cloud" in clusters_text and " gcp " not in f" {clusters_text} "
    b.open_cluster(cc.id)
    assert "Google Cloud" in text(b.cluster_info.value)
    grid_text = " ".join(
        text(getattr(x, "value", "")) for x in b.nodepools_box.children[0].children
    )
    assert not RAW.search(grid_text)

    # the magics' list tables: readable enums, the frame keeps the wire id for code
    frame = client.list_clusters().to_dataframe()
    assert not frame["visibility"].astype(str).str.contains("UNKNOWN").any()
    assert (frame.loc[frame["id"] == cc.id, "cloud_provider"] == "gcp").all()
    listing = text(client.list_clusters()._repr_html_())
    assert "Google Cloud" in listing and "UNKNOWN_VISIBILITY" not in listing
    assert not RAW.search(text(client.list_nodepools(cc.id)._repr_html_()))


def test_deployments_list_has_no_unknown_scheduling_choice(client, uid):
    cc = make_cluster(client, uid)
    np = make_pool(client, cc, uid)
    client.create_deployment(
        m.Deployment(
            id=uid("dep"),
            autoscale_config=m.AutoscaleConfig(min_replicas=0, max_replicas=1),
            nodepools=[
                m.Nodepool(id=np.id, compute_cluster=m.ComputeCluster(id=cc.id, user_id="me"))
            ],
            worker=m.Worker(model=m.ModelRef(id=uid("model"), user_id="me", app_id="main")),
        )
    )
    rows = client.list_deployments(nodepool_id=np.id, compute_cluster_id=cc.id).rows()
    assert rows and all(not RAW.search(str(r["scheduling"])) for r in rows)
    assert not RAW.search(
        text(client.list_deployments(nodepool_id=np.id, compute_cluster_id=cc.id)._repr_html_())
    )


def test_magic_create_with_min_0_shows_min_instances_0_and_words(ip, client, uid):
    cc = make_cluster(client, uid)
    np_id = uid("np")
    view = ip.run_line_magic(
        "compute", f"nodepools create {cc.id} {np_id} --instance g5.xlarge --min 0 --max 2"
    )
    rows = view.as_dict()
    assert rows["min_instances"] == "0" and rows["max_instances"] == "2"
    assert rows["node_count"] == "0"
    assert not RAW.search(repr(view)) and not RAW.search(view._repr_html_())
    assert rows["status"] in {"pending", "ready"}


# --- #10: plurals, YAML by id, the clock note ------------------------------------------------------


def test_one_nodepool_one_deployment_in_the_singular(client, uid):
    cc = make_cluster(client, uid)
    np = make_pool(client, cc, uid)
    b = ComputeBrowser(client)
    b.open_cluster(cc.id)
    assert f"Cluster {cc.id}: 1 nodepool (" in b.status.text
    b.open_nodepool(cc.id, np.id)
    assert re.search(r": \d+ nodes?, 0 deployments \(", b.status.text), b.status.text
    assert not re.search(r"\b1 (nodes|deployments|nodepools|clusters)\b", b.status.text + repr(b))


def test_yaml_names_the_instance_type_by_id_without_the_api_price(client, uid):
    cc = make_cluster(client, uid)
    w = NodepoolWizard(cc, client)
    w.instance_type.value = "g5.xlarge"
    w.nodepool_id.value = uid("np")
    w.click()
    yaml = text(w.result.value.split("cw-yaml")[1])
    assert "price" not in yaml and "25.0" not in yaml and "enforced" not in yaml
    assert re.search(
        r"instance_types:\s+- id: g5\.xlarge\s+min_instances: 0\s+max_instances: 3\s*$", yaml
    ), yaml


def test_clock_note_says_how_far_the_simulated_clock_is_ahead(fresh_server):
    with ComputeClient(fresh_server.url, fresh_server.token, user_id="me") as c:
        b = ComputeBrowser(c)
        assert b.clock_note.value == ""  # fresh server: its clock is the wall clock
        c.advance_clock(3 * 86400)
        b.refresh()
        said = text(b.clock_note.value)
        assert "Simulated clock is 3 days ahead of real time" in said, said
    assert clock_note(dt.timedelta(hours=5)).startswith("Simulated clock is 5 hours ahead")
    assert clock_note(dt.timedelta(seconds=20)) == ""


# --- #8: the next step after Create nodepool -------------------------------------------------------


def test_open_nodepool_after_create_shows_its_page(client, uid):
    cc = make_cluster(client, uid)
    w = NodepoolWizard(cc, client)
    w.instance_type.value = "g5.xlarge"
    np_id = uid("np")
    w.nodepool_id.value = np_id
    w.click()
    assert w.open_button.description == f"Open nodepool {np_id}"
    assert not w.open_button.disabled
    w.open_button.click()
    b = w.browser
    assert b is not None and b in w.next_step.children
    assert b.page == "nodepool" and b.nodepool.id == np_id and b.cluster.id == cc.id
    assert f"Nodepool {np_id}" in text(b.nodepool_info.value)


def test_open_nodepool_inside_the_browser_moves_the_browser(client, uid):
    cc = make_cluster(client, uid)
    b = ComputeBrowser(client)
    b.open_cluster(cc.id)
    w = b.show_nodepool_wizard()
    w.instance_type.value = "g5.xlarge"
    np_id = uid("np")
    w.nodepool_id.value = np_id
    w.click()
    w.open_button.click()
    assert w.browser is None  # no second browser: this one went to the page
    assert b.page == "nodepool" and b.nodepool.id == np_id


# --- #4: the selected row is readable in both JupyterLab themes ------------------------------------


def _theme_vars(name: str) -> dict[str, str]:
    import jupyterlab

    css = (
        Path(jupyterlab.__file__).parent
        / "themes"
        / "@jupyterlab"
        / f"theme-{name}-extension"
        / "index.css"
    ).read_text()
    return dict(re.findall(r"(--[\w-]+):\s*([^;]+);", css))


def _resolve(value: str, env: dict[str, str]) -> str:
    value = value.strip()
    while value.startswith("var("):
        inner = value[4:-1]
        name, _, fallback = inner.partition(",")
        value = env.get(name.strip(), fallback).strip()
    return value


def _rgb(color: str) -> tuple[float, float, float, float]:
    color = color.strip()
    if color.startswith("#"):
        h = color[1:]
        if len(h) == 3:
            h = "".join(c * 2 for c in h)
        return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16), 1.0
    nums = [float(x) for x in re.findall(r"[\d.]+", color)]
    return nums[0], nums[1], nums[2], nums[3] if len(nums) > 3 else 1.0


def _luminance(rgb: tuple[float, float, float]) -> float:
    def ch(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = rgb
    return 0.2126 * ch(r) + 0.7152 * ch(g) + 0.0722 * ch(b)


def contrast(fg: str, bg: str) -> float:
    *f, a = _rgb(fg)
    *b, _ = _rgb(bg)
    f = [a * x + (1 - a) * y for x, y in zip(f, b, strict=True)]  # text alpha over its background
    hi, lo = sorted((_luminance(tuple(f)), _luminance(tuple(b))), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_selected_row_text_meets_wcag_aa_in_both_themes(theme):
    env = _theme_vars(theme)
    row = re.search(
        r"<tr class='cw-selected' style='([^']+)'>", html_table(["a"], [["x"]], highlight=0)
    )
    assert row, "the chosen row carries the cw-selected class (browser tests find it by it)"
    style = dict(p.split(":", 1) for p in row.group(1).split(";") if p)
    assert style == dict(p.split(":", 1) for p in SELECTED_ROW_STYLE.split(";") if p)
    bg, fg = _resolve(style["background"], env), _resolve(style["color"], env)
    assert contrast(fg, bg) >= 4.5, (theme, fg, bg, contrast(fg, bg))
    # the old style: the light-blue brand colour under the theme's text (dark: white, 1.3:1)
    old_bg = _resolve("var(--jp-brand-color3,#e3f2fd)", env)
    old_fg = _resolve("var(--jp-content-font-color1)", env)
    if theme == "dark":
        assert contrast(old_fg, old_bg) < 2  # what the issue measured, so this test can fail
