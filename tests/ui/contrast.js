// WCAG 2.x contrast of every visible text inside our widgets, measured on the rendered page.
//
// ([rootSelector, minRatio, part]) => {checked, failures: [{text, selector, ratio, color, background}]}
// part: "html" (text of the widgets' HTML), "svg" (text drawn in their plotly charts) or "all".
//
// For each non-blank text node under an element matching rootSelector: the text colour is the
// computed `color` (`fill` for SVG text), faded by every ancestor's opacity; the background is
// found by walking up the ancestors and alpha-compositing each computed background-color until
// an opaque one (the page's white canvas if none). Plotly draws its paper colour on the first
// `svg.main-svg` of a chart, a sibling of the text's own <svg>, so a chart's container counts
// that colour as its background. Text that is not painted (display:none, visibility:hidden,
// zero size, opacity 0, hidden stack pages) and text of disabled controls (WCAG exempts
// inactive components) is skipped. Background images and gradients are not seen.
(args) => {
  const [rootSelector, minRatio, part = "all"] = args;

  const parse = (css) => {
    const m = css && css.match(/rgba?\(([^)]+)\)/);
    if (!m) return null; // 'none', 'transparent' keyword handled by caller, url(...) fills
    const p = m[1].split(/[\s,/]+/).filter(Boolean).map(Number);
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
  };
  const over = (top, bottom) => {
    // `top` with alpha composited over an opaque `bottom`
    const a = top.a;
    return {
      r: top.r * a + bottom.r * (1 - a),
      g: top.g * a + bottom.g * (1 - a),
      b: top.b * a + bottom.b * (1 - a),
      a: 1,
    };
  };
  const lum = (c) => {
    const f = (v) => {
      v /= 255;
      return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
  };
  const ratio = (a, b) => {
    const [l1, l2] = [lum(a), lum(b)].sort((x, y) => y - x);
    return (l1 + 0.05) / (l2 + 0.05);
  };
  const hex = (c) =>
    "#" + [c.r, c.g, c.b].map((v) => Math.round(v).toString(16).padStart(2, "0")).join("");

  const ownBackground = (el) => {
    let c = parse(getComputedStyle(el).backgroundColor);
    if (el.classList && el.classList.contains("svg-container")) {
      const paper = el.querySelector("svg.main-svg");
      const pc = paper && parse(getComputedStyle(paper).backgroundColor);
      if (pc && pc.a > 0) c = pc;
    }
    return c && c.a > 0 ? c : null;
  };
  const background = (el) => {
    const layers = [];
    for (let e = el; e && e.nodeType === 1; e = e.parentElement || e.getRootNode().host) {
      const c = ownBackground(e);
      if (c) {
        layers.push(c);
        if (c.a >= 1) break;
      }
    }
    let bg = { r: 255, g: 255, b: 255, a: 1 }; // the canvas under everything
    for (let i = layers.length - 1; i >= 0; i--) bg = over(layers[i], bg);
    return bg;
  };
  const opacity = (el) => {
    let o = 1;
    for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
      o *= parseFloat(getComputedStyle(e).opacity);
    }
    return o;
  };
  const selector = (el) => {
    // the nearest classes that say where the text is: ours, ipywidgets' or plotly's
    const parts = [];
    for (let e = el; e && e.nodeType === 1 && parts.length < 6; e = e.parentElement) {
      if (e instanceof SVGElement && !e.classList.length) continue;
      let s = e.tagName.toLowerCase();
      const cls = [...e.classList].filter((c) => !c.startsWith("jp-") && !c.startsWith("lm-"));
      if (cls.length) s += "." + cls.slice(0, 2).join(".");
      parts.unshift(s);
      if ([...e.classList].some((c) => rootSelector.includes("." + c))) break;
    }
    const plot = el.closest(".js-plotly-plot");
    const title = plot && plot.querySelector(".gtitle");
    return (title ? `[chart "${title.textContent.slice(0, 40)}"] ` : "") + parts.join(" > ");
  };
  const disabled = (el) => !!el.closest(":disabled, .mod-disabled, [aria-disabled='true']");

  let checked = 0;
  const failures = [];
  const seen = new Set();
  for (const root of document.querySelectorAll(rootSelector)) {
    if (root.parentElement && root.parentElement.closest(rootSelector)) continue; // nested view
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const text = node.textContent.replace(/\s+/g, " ").trim();
      if (!text) continue;
      let el = node.parentElement;
      if (!el || ["SCRIPT", "STYLE", "TITLE"].includes(el.tagName)) continue;
      if (el.tagName === "OPTION") {
        // a drop-down paints only its selected option, with the <select>'s colours
        const sel = el.closest("select");
        if (!sel || (sel.size <= 1 && !sel.multiple && !el.selected)) continue;
        if (sel.size <= 1 && !sel.multiple) el = sel;
      }
      if (!el.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true })) continue;
      const range = document.createRange();
      range.selectNodeContents(node);
      const box = range.getBoundingClientRect();
      if (box.width < 1 || box.height < 1) continue;
      if (disabled(el)) continue;
      const inSvg = el instanceof SVGElement;
      if ((part === "html" && inSvg) || (part === "svg" && !inSvg)) continue;
      const style = getComputedStyle(el);
      const fg = parse(inSvg ? style.fill : style.color);
      if (!fg) continue; // gradient/pattern fills are not measured
      fg.a *= (inSvg ? parseFloat(style.fillOpacity) : 1) * opacity(el);
      const bg = background(el);
      const shown = over(fg, bg);
      const r = ratio(shown, bg);
      checked++;
      if (r + 1e-9 < minRatio) {
        const key = text + "|" + hex(shown) + "|" + hex(bg);
        if (seen.has(key)) continue;
        seen.add(key);
        failures.push({
          text: text.slice(0, 60),
          selector: selector(el),
          ratio: Math.round(r * 100) / 100,
          color: hex(shown),
          background: hex(bg),
        });
      }
    }
  }
  return { checked, failures };
};
