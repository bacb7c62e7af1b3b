// Small SVG charts drawn with DOM calls (no chart library, nothing from a CDN).

import { h, s } from "./dom.js";

function niceMax(value) {
  if (value <= 0) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(value)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= value) return m * p;
  return 10 * p;
}

function frame(title, desc, width, height) {
  const id = "c" + Math.random().toString(36).slice(2, 8);
  return s("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img", "aria-labelledby": id + "t " + id + "d", preserveAspectRatio: "xMidYMid meet" },
    s("title", { id: id + "t", text: title }), s("desc", { id: id + "d", text: desc }));
}

function axis(svg, left, top, w, hgt, max, ticks = 4) {
  for (let i = 0; i <= ticks; i++) {
    const y = top + hgt - (hgt * i) / ticks;
    svg.append(s("line", { x1: left, x2: left + w, y1: y, y2: y, class: "grid" }));
    svg.append(s("text", { x: left - 6, y: y + 4, class: "tick", "text-anchor": "end", text: String(Math.round((max * i) / ticks)) }));
  }
}

function legend(series) {
  return h("ul", { class: "legend" }, series.map((sr, i) => h("li", {}, h("span", { class: "swatch c" + i, "aria-hidden": "true" }), sr.label)));
}

/** Grouped bars: labels along x, one bar per series. */
export function barChart({ title, labels, series }) {
  const width = 640, height = 260, left = 44, top = 12, bottom = 40, right = 8;
  const w = width - left - right, hgt = height - top - bottom;
  const max = niceMax(Math.max(0, ...series.flatMap((sr) => sr.values)));
  const desc = labels.map((l, i) => l + ": " + series.map((sr) => sr.label + " " + sr.values[i]).join(", ")).join("; ");
  const svg = frame(title, desc, width, height);
  axis(svg, left, top, w, hgt, max);
  const group = w / Math.max(1, labels.length);
  const bw = Math.max(2, (group * 0.8) / series.length);
  labels.forEach((label, i) => {
    series.forEach((sr, j) => {
      const v = sr.values[i] || 0;
      const bh = (hgt * v) / max;
      svg.append(s("rect", { x: left + i * group + group * 0.1 + j * bw, y: top + hgt - bh, width: bw, height: bh, class: "bar c" + j },
        s("title", { text: `${label} · ${sr.label}: ${v}` })));
    });
    const every = Math.ceil(labels.length / 10);
    if (i % every === 0) svg.append(s("text", { x: left + i * group + group / 2, y: height - bottom + 16, class: "tick", "text-anchor": "middle", text: label }));
  });
  return h("figure", { class: "chart-box" }, h("figcaption", { text: title }), svg, legend(series));
}

/** Lines over a numeric x axis (e.g. hours 0..23). */
export function lineChart({ title, labels, series }) {
  const width = 640, height = 240, left = 44, top = 12, bottom = 36, right = 12;
  const w = width - left - right, hgt = height - top - bottom;
  const max = niceMax(Math.max(0, ...series.flatMap((sr) => sr.values)));
  const desc = series.map((sr) => sr.label + ": " + sr.values.join(", ")).join("; ");
  const svg = frame(title, desc, width, height);
  axis(svg, left, top, w, hgt, max);
  const step = w / Math.max(1, labels.length - 1);
  series.forEach((sr, j) => {
    const pts = sr.values.map((v, i) => `${left + i * step},${top + hgt - (hgt * (v || 0)) / max}`).join(" ");
    svg.append(s("polyline", { points: pts, class: "line c" + j }));
  });
  labels.forEach((label, i) => {
    if (i % 3 === 0) svg.append(s("text", { x: left + i * step, y: height - bottom + 16, class: "tick", "text-anchor": "middle", text: label }));
  });
  return h("figure", { class: "chart-box" }, h("figcaption", { text: title }), svg, legend(series));
}

/** Horizontal bars with the label on the left and the value on the right. */
export function hbarChart({ title, rows, format }) {
  const width = 640, row = 26, left = 170, right = 70, top = 6;
  const height = top * 2 + Math.max(1, rows.length) * row;
  const max = Math.max(1e-9, ...rows.map((r) => r.value));
  const svg = frame(title, rows.map((r) => r.label + ": " + (format ? format(r.value) : r.value)).join("; "), width, height);
  rows.forEach((r, i) => {
    const y = top + i * row;
    const bw = ((width - left - right) * r.value) / max;
    svg.append(s("text", { x: left - 8, y: y + row / 2 + 4, class: "tick", "text-anchor": "end", text: r.label }));
    svg.append(s("rect", { x: left, y: y + 4, width: Math.max(1, bw), height: row - 8, class: "bar c" + (r.tone || 0) }));
    svg.append(s("text", { x: left + bw + 6, y: y + row / 2 + 4, class: "tick", text: format ? format(r.value) : String(r.value) }));
  });
  return h("figure", { class: "chart-box" }, h("figcaption", { text: title }), svg);
}

/** A progress bar with text, for broadcasts. */
export function progressBar(label, fraction) {
  const pct = Math.max(0, Math.min(100, Math.round(fraction * 100)));
  const fill = h("div", { class: "progress-fill" });
  fill.style.width = pct + "%"; // CSSOM, allowed by the CSP (style attributes are not)
  return h("div", { class: "progress", role: "progressbar", "aria-label": label, "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": String(pct) },
    fill, h("span", { class: "progress-text", text: pct + "%" }));
}
