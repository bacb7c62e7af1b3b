// Flows: every bot's flows, each drawn as an SVG diagram; validate edited YAML; NLU test box.

import { h, s, replace, field, announce } from "./dom.js";
import { t, lang } from "./i18n.js";
import { get, post, ApiError } from "./api.js";
import { unavailable, errorText } from "./contacts.js";

function diagramSvg(d) {
  const svg = s("svg", { viewBox: `0 0 ${d.width} ${d.height}`, width: d.width, height: d.height, class: "flow-diagram", role: "img", "aria-labelledby": "fd-title" },
    s("title", { id: "fd-title", text: t("flows.diagram_of", { flow: d.flow }) }),
    s("defs", {}, s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
      s("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrow-head" }))));
  for (const e of d.edges) {
    const pts = e.points.map((p) => p.join(",")).join(" ");
    svg.append(s("polyline", { points: pts, class: "edge " + e.kind, "marker-end": "url(#arrow)" }));
    if (e.label) {
      const [x, y] = e.label_at;
      svg.append(s("text", { x, y, class: "edge-label", text: e.label }));
    }
  }
  for (const n of d.nodes) {
    const g = s("g", { class: "node " + n.kind, transform: `translate(${n.x},${n.y})` },
      s("rect", { width: n.w, height: n.h, rx: 8 }),
      s("text", { x: 10, y: 18, class: "node-kind", text: t("step." + n.kind, null, n.kind) + (n.step ? " · " + n.step : "") }),
      s("text", { x: 10, y: 36, class: "node-label", text: n.label || "" }));
    if (n.line) g.append(s("title", { text: d.file + ":" + n.line }));
    svg.append(g);
  }
  return svg;
}

function nluBox(bots) {
  const text = h("input", { type: "text", required: true, maxlength: 1000, placeholder: "sldo brp / mau retur brg" });
  const bot = h("select", {}, bots.map((b) => h("option", { value: b.name, text: b.name })));
  const out = h("div", { class: "nlu-out", role: "status", "aria-live": "polite" });
  const form = h("form", { class: "inline-form nlu", "aria-labelledby": "nlu-title" },
    h("h2", { id: "nlu-title", text: t("flows.nlu") }),
    field(t("flows.bot"), bot), field(t("flows.sentence"), text),
    h("button", { type: "submit", class: "primary", text: t("flows.predict") }), out);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const r = await post("/nlu/predict", { text: text.value, bot: bot.value });
      const pct = Math.round(r.confidence * 100);
      const bar = h("div", { class: "progress small" }, h("div", { class: "progress-fill" }), h("span", { class: "progress-text", text: pct + "%" }));
      bar.firstChild.style.width = pct + "%";
      replace(out,
        h("p", {}, t("flows.intent"), ": ", h("strong", { class: "intent", text: r.intent }), " (", t("flows.threshold"), " " + Math.round(r.threshold * 100) + "%)"),
        bar,
        h("p", { class: "muted", text: t("flows.normalized") + ": " + r.normalized }),
        r.entities.length ? h("ul", {}, r.entities.map((e) => h("li", {}, h("code", { text: e.kind }), " " + e.value + " ← “" + e.text + "”"))) : h("p", { class: "muted", text: t("flows.no_entities") }));
    } catch (err) {
      replace(out, h("p", { class: "error", text: err instanceof ApiError && err.missing ? t("common.not_available") : errorText(err) }));
    }
  });
  return form;
}

function checkBox(bots) {
  const bot = h("select", {}, bots.map((b) => h("option", { value: b.name, text: b.name })));
  const file = h("input", { type: "text", maxlength: 80, placeholder: "flows/menu.yaml", pattern: "(bot|nlu)\\.yaml|flows/[A-Za-z0-9_\\-]+\\.ya?ml" });
  const yaml = h("textarea", { rows: 10, class: "mono", spellcheck: "false", maxlength: 262144 });
  const out = h("div", { role: "status", "aria-live": "polite" });
  const form = h("form", { class: "inline-form", "aria-labelledby": "check-title" },
    h("h2", { id: "check-title", text: t("flows.check") }),
    h("p", { class: "muted", text: t("flows.check_intro") }),
    field(t("flows.bot"), bot), field(t("flows.file"), file, t("flows.file_hint")), field(t("flows.yaml"), yaml),
    h("button", { type: "submit", class: "primary", text: t("flows.validate") }), out);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const files = file.value.trim() && yaml.value ? { [file.value.trim()]: yaml.value } : {};
    try {
      const r = await post("/flows/check", { bot: bot.value, files });
      replace(out, r.ok
        ? h("p", { class: "ok", text: t("flows.valid", { flows: r.flows, steps: r.steps }) })
        : h("div", {}, h("p", { class: "error", text: t("flows.problems", { n: r.problems.length }) }),
          h("ul", { class: "problems" }, r.problems.map((p) => h("li", {}, h("code", { text: p.file + (p.line ? ":" + p.line : "") }), p.step ? " [" + p.step + "]" : "", " " + p.code + ": " + p.message)))));
      announce(r.ok ? t("flows.valid_short") : t("flows.problems", { n: r.problems.length }));
    } catch (err) {
      replace(out, h("p", { class: "error", text: errorText(err) }));
    }
  });
  return form;
}

export async function renderFlows(main) {
  replace(main, h("h1", { text: t("nav.flows") }));
  let bots;
  try {
    bots = await get("/flows");
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) { main.append(unavailable("flows", t("nav.flows"))); return; }
    throw err;
  }
  const canvas = h("div", { class: "diagram-box", tabindex: "0", "aria-live": "polite" }, h("p", { class: "muted", text: t("flows.pick") }));
  const show = async (bot, flow) => {
    try {
      const d = await get(`/flows/${encodeURIComponent(bot)}/${encodeURIComponent(flow)}?lang=${lang()}`);
      replace(canvas, h("h2", { text: bot + " · " + flow }), h("p", { class: "muted", text: d.file }), diagramSvg(d));
      for (const b of main.querySelectorAll("button.flow[aria-pressed]")) b.setAttribute("aria-pressed", String(b.dataset.flow === bot + "/" + flow));
    } catch (err) {
      replace(canvas, h("p", { class: "error", text: errorText(err) }));
    }
  };
  const lists = bots.map((b) => h("section", { class: "bot" },
    h("h2", {}, b.name, " ", h("span", { class: "badge " + (b.running ? "ok" : "muted"), text: b.running ? t("flows.running") : t("flows.example") })),
    h("p", { class: "muted small", text: t("flows.languages") + ": " + b.languages.join(", ") }),
    h("ul", { class: "flow-list" }, b.flows.map((f) => h("li", {},
      h("button", { type: "button", class: "flow", "aria-pressed": "false", "data-flow": b.name + "/" + f.name, onclick: () => show(b.name, f.name) },
        h("span", { class: "flow-name", text: f.name }),
        h("span", { class: "muted small", text: t("flows.steps", { n: f.steps }) + (f.triggers.length ? " · " + f.triggers.map((tr) => tr.kind + ":" + tr.value).join(", ") : "") })))))));
  main.append(h("div", { class: "flows-layout" }, h("div", { class: "card flow-nav" }, lists), h("div", { class: "card" }, canvas)),
    h("div", { class: "grid2" }, h("section", { class: "card" }, nluBox(bots)), h("section", { class: "card" }, checkBox(bots))));
}
