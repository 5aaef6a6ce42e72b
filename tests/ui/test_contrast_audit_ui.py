"""The contrast audit (contrast.js) itself, on a page of known colours: it must fail what fails.

No JupyterLab here: a static page in the light-theme browser, so the audit that the tutorial and
browser tests rely on is shown to catch white on light blue and to pass black on white.
"""

from __future__ import annotations

import pytest
from labdriver import contrast
from playwright.sync_api import Page

pytestmark = pytest.mark.ui

PAGE = """
<body style="margin:0;background:#fff">
<div class="cw-browser">
  <p id="ok">black on white</p>
  <table style="background:#111"><tr style="background:#e3f2fd;font-weight:600">
    <td style="color:#fff">white on light blue</td></tr></table>
  <div style="background:rgba(0,0,0,0.5)"><span style="color:#fff">white on half black</span></div>
  <span style="color:#000;opacity:.2">faded black</span>
  <span style="color:rgba(0,0,0,0.87)">dark grey</span>
  <div style="display:none;color:#fff">hidden white</div>
  <button disabled style="color:#ddd;background:#fff">disabled button</button>
  <svg width="200" height="30"><text x="0" y="20" style="fill:#7a7a7a">grey chart label</text></svg>
</div>
<p style="color:#fff">outside our widgets</p>
</body>"""


def test_contrast_audit_fails_what_a_reader_cannot_read(page: Page) -> None:
    page.set_content(PAGE)
    result = contrast(page, ".cw-browser", 4.5)
    bad = {f["text"]: f for f in result["failures"]}
    # 6 texts painted are measured (hidden, disabled and outside-the-root text are not checked)
    assert result["checked"] == 6, result
    assert set(bad) == {
        "white on light blue",
        "white on half black",
        "faded black",
        "grey chart label",
    }, bad
    blue = bad["white on light blue"]
    assert (blue["color"], blue["background"]) == ("#ffffff", "#e3f2fd")
    assert blue["ratio"] == pytest.approx(1.14, abs=0.01)
    assert "td" in blue["selector"] and "cw-browser" in blue["selector"]
    # half-transparent black over the white page composites to #808080: white on it is 3.98:1
    assert bad["white on half black"]["background"] == "#808080"
    assert bad["white on half black"]["ratio"] == pytest.approx(3.98, abs=0.01)
    # opacity .2 of black on white composites to #cccccc: 1.6:1
    assert bad["faded black"]["color"] == "#cccccc"
    # SVG text is measured by its fill: #7a7a7a on white is 4.29:1
    assert bad["grey chart label"]["ratio"] == pytest.approx(4.29, abs=0.01)
