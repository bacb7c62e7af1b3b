// Analytics dashboard: figures for a date range, drawn as SVG charts.

import { h, replace, field } from "./dom.js";
import { t } from "./i18n.js";
import { get, ApiError } from "./api.js";
import { barChart, lineChart, hbarChart } from "./charts.js";
import { unavailable, errorText } from "./contacts.js";

// The API counts days in Asia/Jakarta (as the reports do), whatever the browser's zone:
// a browser in UTC would otherwise ask for "today" up to seven hours too early.
const DAY = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Jakarta", year: "numeric", month: "2-digit", day: "2-digit" });

function isoDay(date) {
  return DAY.format(date);  // en-CA: YYYY-MM-DD
}

function pct(v) { return v === null || v === undefined ? "—" : Math.round(v * 1000) / 10 + "%"; }
function secs(v) { return v === null || v === undefined ? "—" : v < 120 ? Math.round(v) + " s" : Math.round(v / 60) + " min"; }

function kpi(label, value) {
  return h("div", { class: "kpi" }, h("span", { class: "kpi-value", text: String(value) }), h("span", { class: "kpi-label", text: label }));
}

function dig(obj, path, fallback) {
  let cur = obj;
  for (const key of path.split(".")) {
    if (cur === null || cur === undefined || typeof cur !== "object") return fallback;
    cur = cur[key];
  }
  return cur === undefined ? fallback : cur;
}

function draw(box, r) {
  const vol = r.volume || {};
  const conv = r.conversations || {};
  const days = vol.by_day || [];
  const hours = vol.by_hour || [];
  const dist = dig(r, "intents.distribution", {}) || {};
  const intentRows = Object.entries(dist).map(([label, value]) => ({ label, value: Number(value) || 0 }))
    .sort((a, b) => b.value - a.value).slice(0, 12);
  const sources = Object.entries(vol.outbound_by_source || {}).map(([label, value], i) => ({ label: t("source." + label, null, label), value, tone: i % 4 }));
  const campaigns = Array.isArray(r.campaigns) ? r.campaigns : [];
  replace(box,
    h("div", { class: "kpis" },
      kpi(t("analytics.inbound"), vol.inbound ?? 0),
      kpi(t("analytics.outbound"), vol.outbound ?? 0),
      kpi(t("analytics.active"), dig(r, "contacts.active", 0)),
      kpi(t("analytics.new"), dig(r, "contacts.new", 0)),
      kpi(t("analytics.containment"), pct(conv.containment_rate)),
      kpi(t("analytics.handoff"), pct(conv.handoff_rate)),
      kpi(t("analytics.bot_first"), secs(dig(conv, "bot_first_response_s.median", null))),
      kpi(t("analytics.fallback"), pct(dig(r, "intents.fallback_rate", null)))),
    h("div", { class: "charts" },
      barChart({ title: t("analytics.by_day"), labels: days.map((d) => d.day.slice(5)),
        series: [{ label: t("analytics.inbound"), values: days.map((d) => d.inbound) }, { label: t("analytics.outbound"), values: days.map((d) => d.outbound) }] }),
      lineChart({ title: t("analytics.by_hour"), labels: hours.map((x) => String(x.hour).padStart(2, "0")),
        series: [{ label: t("analytics.inbound"), values: hours.map((x) => x.inbound) }, { label: t("analytics.outbound"), values: hours.map((x) => x.outbound) }] }),
      intentRows.length ? hbarChart({ title: t("analytics.intents"), rows: intentRows }) : h("p", { class: "muted", text: t("analytics.no_intents") }),
      sources.length ? hbarChart({ title: t("analytics.sources"), rows: sources }) : null),
    campaigns.length ? h("section", { class: "card" }, h("h2", { text: t("analytics.campaigns") }),
      h("div", { class: "table-wrap" }, h("table", {}, h("thead", {}, h("tr", {}, ["name", "sent", "delivered", "read", "failed"].map((k) => h("th", { scope: "col", text: t("analytics.c_" + k) })))),
        h("tbody", {}, campaigns.map((c) => h("tr", {}, ["name", "sent", "delivered", "read", "failed"].map((k) => h("td", { text: String(c[k] ?? dig(c, "statuses." + k, "—")) })))))))) : null);
}

export async function renderAnalytics(main) {
  const now = new Date();
  const from = h("input", { type: "date", required: true, value: isoDay(new Date(now.getTime() - 6 * 86400000)) });
  const to = h("input", { type: "date", required: true, value: isoDay(now) });
  const box = h("div", { class: "analytics", "aria-live": "polite" });
  const form = h("form", { class: "range", "aria-label": t("analytics.range") }, field(t("analytics.from"), from), field(t("analytics.to"), to),
    h("button", { type: "submit", class: "primary", text: t("analytics.show") }));
  replace(main, h("h1", { text: t("nav.analytics") }), form, box);
  const load = async () => {
    replace(box, h("p", { class: "muted", text: t("common.loading") }));
    try {
      const r = await get(`/analytics?from=${from.value}&to=${to.value}`);
      draw(box, r);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404 && !err.problem.detail) replace(box, unavailable("analytics", t("nav.analytics")));
      else replace(box, h("p", { class: "error", text: errorText(err) }));
    }
  };
  form.addEventListener("submit", (ev) => { ev.preventDefault(); load(); });
  await load();
}
