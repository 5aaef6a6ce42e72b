"""An outside judge of what a plotly figure shows: plotly.js draws it in headless Chromium and
we read back what it drew.

Python-side checks of ``fig.data`` say what we *sent*; plotly.js decides what a user *sees*
(dy=0 means 1, points outside the axis range are hidden, legends take plot width, ...). The
figure is drawn with plotly.py's bundled plotly.min.js (offline, no CDN) in Debian's
/usr/bin/chromium through Playwright, the recipe of tests/ui/conftest.py.

    with ChartJudge() as judge:
        seen = judge.render(fig, width=700)
        seen.markers("scale up")       # [{x_ms, px, py, shown}, ...] absolute page pixels
        seen.tick_labels("y2")         # [(text, page y), ...] as rendered in the DOM
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import plotly

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Reads plotly.js's own state (_fullLayout, _fullData) and the SVG it drew. Pixel values are page
# coordinates: a marker's centre is its subplot's offset plus the point's translate().
_READ = r"""
async ([figJson, width, height]) => {
  const fig = JSON.parse(figJson);
  const gd = document.getElementById('gd');
  Plotly.purge(gd);
  const layout = Object.assign({}, fig.layout || {});
  if (width) layout.width = width;
  if (height) layout.height = height;
  await Plotly.newPlot(gd, fig.data || [], layout, {displayModeBar: true, responsive: false});
  const fl = gd._fullLayout;
  const box = (el) => {
    if (!el) return null;
    const r = el.getBoundingClientRect();
    return {x0: r.left, x1: r.right, y0: r.top, y1: r.bottom};
  };
  const axes = {};
  for (const key of Object.keys(fl)) {
    if (!/^[xy]axis\d*$/.test(key)) continue;
    const ax = fl[key];
    axes[ax._id] = {
      name: key, type: ax.type, range: ax.range.slice(), visible: ax.visible,
      domain: ax.domain.slice(), offset: ax._offset, length: ax._length,
      ticks: (ax._vals || []).map(v => ({value: v.x, text: v.text})),
      title: ax.title && ax.title.text,
    };
  }
  const traces = gd._fullData.map(t => ({
    index: t.index, name: t.name, type: t.type, mode: t.mode, visible: t.visible,
    xaxis: t.xaxis, yaxis: t.yaxis, showlegend: t.showlegend,
  }));
  const markers = [];
  gd.querySelectorAll('g.trace.scatter').forEach(g => {
    const cd = g.__data__;
    if (!cd || !cd[0] || !cd[0].trace) return;
    const t = cd[0].trace;
    const xa = fl[t.xaxis.replace('x', 'xaxis')], ya = fl[t.yaxis.replace('y', 'yaxis')];
    g.querySelectorAll('path.point').forEach(p => {
      const m = /translate\(([-\d.e+]+),\s*([-\d.e+]+)\)/.exec(p.getAttribute('transform') || '');
      if (!m) return;
      const d = p.__data__ || {};
      const shown = getComputedStyle(p).display !== 'none' && p.getAttribute('d') !== 'M0,0Z';
      markers.push({trace: t.index, name: t.name, x_ms: xa.d2l(d.x), y: d.y,
                    px: xa._offset + parseFloat(m[1]), py: ya._offset + parseFloat(m[2]), shown});
    });
  });
  const gdBox = gd.getBoundingClientRect();
  const rel = (b) => b && {x0: b.x0 - gdBox.left, x1: b.x1 - gdBox.left,
                           y0: b.y0 - gdBox.top, y1: b.y1 - gdBox.top};
  const tickLabels = [];
  gd.querySelectorAll('g[class*="axislayer"] g[class$="tick"] text').forEach(el => {
    const axis = el.parentNode.getAttribute('class').replace(/tick$/, '');  // 'y2tick' -> 'y2'
    const b = rel(box(el));
    tickLabels.push({axis, text: el.textContent, cx: (b.x0 + b.x1) / 2, cy: (b.y0 + b.y1) / 2});
  });
  const annotations = [...gd.querySelectorAll('g.annotation')].map(a => ({
    text: a.textContent, box: rel(box(a.querySelector('text') || a)),
  }));
  return {
    width: fl.width, height: fl.height, size: fl._size, axes, traces, markers, tickLabels,
    annotations,
    title: (gd.querySelector('text.gtitle') || {}).textContent || '',
    titleBox: rel(box(gd.querySelector('text.gtitle'))),
    modebarBox: rel(box(gd.querySelector('.modebar'))),
    legendBox: rel(box(gd.querySelector('g.legend'))),
    legendItems: [...gd.querySelectorAll('g.legend g.traces text.legendtext')].map(e => e.textContent),
    svgText: [...gd.querySelectorAll('svg text')].map(e => e.textContent).join('\n'),
  };
}
"""


@dataclass
class Seen:
    """What plotly.js drew: its computed layout and the SVG's text and marker positions."""

    raw: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.raw[key]

    @property
    def plot_width(self) -> float:
        return float(self.raw["size"]["w"])

    def axis(self, axis_id: str) -> dict[str, Any]:
        """An axis by id ('x', 'y2', ...): type, range, domain, ticks [{value, text}], ..."""
        return self.raw["axes"][axis_id]

    def tick_labels(self, axis_id: str) -> list[tuple[str, float]]:
        """Rendered tick label texts of an axis with their centre (y for y axes, x for x axes),
        in pixels from the top-left of the figure."""
        key = "cy" if axis_id.startswith("y") else "cx"
        return [(t["text"], t[key]) for t in self.raw["tickLabels"] if t["axis"] == axis_id]

    def markers(self, name: str | None = None) -> list[dict[str, Any]]:
        """Drawn marker points (all, or of the trace named ``name``): x_ms, px, py, shown."""
        return [m for m in self.raw["markers"] if name is None or m["name"] == name]

    def trace(self, name: str) -> dict[str, Any]:
        return next(t for t in self.raw["traces"] if t["name"] == name)


def available() -> bool:
    return Path(CHROMIUM).exists() and PLOTLY_JS.exists()


class ChartJudge:
    """One headless Chromium page that draws figures with plotly.js (a context manager)."""

    def __init__(self) -> None:
        self._pw = self._browser = self.page = None
        self._dir = tempfile.TemporaryDirectory(prefix="chart-judge-")

    def __enter__(self) -> ChartJudge:
        from playwright.sync_api import sync_playwright

        html = Path(self._dir.name) / "judge.html"
        html.write_text(
            "<!doctype html><html><head><meta charset='utf-8'>"
            f"<script src='{PLOTLY_JS.as_uri()}'></script></head>"
            "<body style='margin:0'><div id='gd'></div></body></html>"
        )
        self._pw = sync_playwright().start()
        self._browser = self._pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        self.page = self._browser.new_page(viewport={"width": 1200, "height": 1400})
        self.page.goto(html.as_uri())
        self.page.wait_for_function("() => window.Plotly !== undefined")
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self._browser is not None:
                self._browser.close()
        finally:
            if self._pw is not None:
                self._pw.stop()
            self._dir.cleanup()

    def render(self, fig: Any, width: int | None = 700, height: int | None = None) -> Seen:
        """Draw ``fig`` (a go.Figure or its dict) at ``width`` px and read back what it shows."""
        fig_json = fig.to_json() if hasattr(fig, "to_json") else json.dumps(fig)
        return Seen(self.page.evaluate(_READ, [fig_json, width, height]))
