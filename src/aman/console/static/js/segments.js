// Segments: the list (counted on demand), and a builder of conditions with a live count.
// The builder writes the rules as JSON (campaigns/rules.py); the JSON can be edited by hand too.

import { h, replace, field, announce } from "./dom.js";
import { t } from "./i18n.js";
import { get, post, items } from "./api.js";
import { errorText, splitTags } from "./contacts.js";

// One condition kind: what the operator picks, and the rule it stands for.
const KINDS = {
  tag: { input: "text", rule: (v) => ({ tag: v }) },
  not_tag: { input: "text", rule: (v) => ({ not: { tag: v } }) },
  language: { choices: ["id", "en"], rule: (v) => ({ attr: "language", op: "eq", value: v }) },
  marketing: { choices: ["granted", "unknown", "denied"], rule: (v) => ({ attr: "marketing", op: "eq", value: v }) },
  active_days: { input: "number", rule: (v) => ({ attr: "last_inbound", op: "within_days", value: Number(v) }) },
  inactive_days: { input: "number", rule: (v) => ({ attr: "last_inbound", op: "older_than_days", value: Number(v) }) },
  orders_min: { input: "number", rule: (v) => ({ attr: "orders_count", op: "gte", value: Number(v) }) },
  field_is: { input: "text", named: true, rule: (v, name) => ({ field: name, op: "eq", value: v }) },
};

/** A rule in words, for the list ("tag vip AND language id"). */
export function describe(rule) {
  if (!rule || typeof rule !== "object") return "";
  if (Array.isArray(rule.all)) return rule.all.map(describe).join(" " + t("segments.and") + " ");
  if (Array.isArray(rule.any)) return rule.any.map(describe).join(" " + t("segments.or") + " ");
  if (rule.not) return t("segments.not") + " (" + describe(rule.not) + ")";
  if (rule.tag !== undefined) return t("segments.k_tag") + " " + rule.tag;
  if (rule.attr !== undefined) return rule.attr + " " + rule.op + (rule.value === undefined ? "" : " " + JSON.stringify(rule.value));
  if (rule.field !== undefined) return rule.field + " " + rule.op + (rule.value === undefined ? "" : " " + JSON.stringify(rule.value));
  return JSON.stringify(rule);
}

function conditionRow(onChange) {
  const kind = h("select", { "aria-label": t("segments.condition") },
    Object.keys(KINDS).map((k) => h("option", { value: k, text: t("segments.k_" + k) })));
  const name = h("input", { type: "text", maxlength: 64, placeholder: t("segments.field_name"), "aria-label": t("segments.field_name"), hidden: true });
  const slot = h("span", { class: "cond-value" });
  let value = null;
  const setKind = () => {
    const spec = KINDS[kind.value];
    value = spec.choices
      ? h("select", { "aria-label": t("segments.value") }, spec.choices.map((c) => h("option", { value: c, text: t("segments.v_" + c) })))
      : h("input", { type: spec.input, maxlength: 200, min: spec.input === "number" ? 0 : null, value: spec.input === "number" ? "30" : "", "aria-label": t("segments.value") });
    value.addEventListener("input", onChange);
    value.addEventListener("change", onChange);
    name.hidden = !spec.named;
    replace(slot, value);
  };
  kind.addEventListener("change", () => { setKind(); onChange(); });
  name.addEventListener("input", onChange);
  setKind();
  const row = h("li", { class: "cond" }, kind, name, slot,
    h("button", { type: "button", class: "icon", "aria-label": t("segments.remove"), text: "×", onclick: () => { row.remove(); onChange(); } }));
  row.rule = () => {
    const spec = KINDS[kind.value];
    const v = value.value.trim();
    if (v === "" || (spec.named && !name.value.trim())) return null;
    return spec.rule(kind.value.endsWith("tag") ? splitTags(v)[0] || v : v, name.value.trim());
  };
  return row;
}

export async function segmentsSection(main) {
  const list = h("tbody");
  const drawList = (segs) => replace(list, segs.length ? segs.map((sg) => {
    const out = h("output", { class: "count", text: sg.size === null || sg.size === undefined ? "—" : t("segments.size", { n: sg.size }) });
    const count = async () => {
      try { out.textContent = t("segments.size", { n: (await post("/segments/preview", { rules: sg.rules })).count }); }
      catch (err) { out.textContent = errorText(err); }
    };
    return h("tr", { "data-id": String(sg.id) },
      h("td", { class: "seg-name", "data-label": t("segments.name"), text: sg.name }),
      h("td", { "data-label": t("segments.kind"), text: t("segments.kind_" + sg.kind, null, sg.kind) }),
      h("td", { "data-label": t("segments.rules_short") }, h("span", { text: describe(sg.rules) })),
      h("td", { "data-label": t("segments.count") }, h("span", {}, out, " ", h("button", { type: "button", class: "small", text: t("segments.count_now"), "aria-label": t("segments.count_of", { name: sg.name }), onclick: count }))));
  }) : h("tr", {}, h("td", { colspan: 4, class: "muted", text: t("segments.none") })));
  drawList(items(await get("/segments")));

  const name = h("input", { type: "text", required: true, maxlength: 120 });
  const kind = h("select", {}, ["dynamic", "static"].map((k) => h("option", { value: k, text: t("segments.kind_" + k) })));
  const joiner = h("select", {}, h("option", { value: "all", text: t("segments.match_all") }), h("option", { value: "any", text: t("segments.match_any") }));
  const conds = h("ol", { class: "conds" });
  const rules = h("textarea", { rows: 5, spellcheck: "false", class: "mono" });
  const count = h("output", { class: "count live-count", "aria-live": "polite", text: "—" });
  const msg = h("p", { class: "form-msg", role: "status" });
  let timer = 0;
  let asked = 0;
  const preview = async () => {
    const mine = ++asked;
    let r;
    try { r = JSON.parse(rules.value); } catch { count.textContent = "—"; msg.textContent = t("segments.bad_json"); msg.className = "form-msg error"; return; }
    try {
      const out = await post("/segments/preview", { rules: r });
      if (mine !== asked) return; // a newer question is on its way
      count.textContent = t("segments.size", { n: out.count });
      count.dataset.count = String(out.count);
      msg.textContent = "";
    } catch (err) {
      if (mine !== asked) return;
      count.textContent = "—";
      delete count.dataset.count;
      msg.textContent = errorText(err);
      msg.className = "form-msg error";
    }
  };
  const soon = () => { clearTimeout(timer); timer = setTimeout(preview, 350); };
  const build = () => {
    const parts = [...conds.children].map((row) => row.rule()).filter(Boolean);
    if (!parts.length) { rules.value = ""; count.textContent = "—"; delete count.dataset.count; return; }
    rules.value = JSON.stringify(parts.length === 1 ? parts[0] : { [joiner.value]: parts }, null, 2);
    soon();
  };
  joiner.addEventListener("change", build);
  rules.addEventListener("input", soon);
  const add = () => { conds.append(conditionRow(build)); build(); conds.lastChild.querySelector("select").focus(); };
  conds.append(conditionRow(build));

  const form = h("form", { class: "inline-form segment-builder", "aria-labelledby": "new-seg" },
    h("h3", { id: "new-seg", text: t("segments.new") }),
    field(t("segments.name"), name),
    field(t("segments.match"), joiner),
    h("fieldset", {}, h("legend", { text: t("segments.conditions") }), conds,
      h("button", { type: "button", text: t("segments.add_condition"), onclick: add })),
    h("details", {}, h("summary", { text: t("segments.rules") }), field(t("segments.rules"), rules, t("segments.rules_hint"))),
    h("p", { class: "live" }, h("span", { text: t("segments.live_count") + ": " }), count),
    field(t("segments.kind"), kind, t("segments.kind_hint")),
    h("button", { type: "submit", class: "primary", text: t("segments.save") }), msg);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    let r;
    try { r = JSON.parse(rules.value); } catch { msg.textContent = t("segments.bad_json"); msg.className = "form-msg error"; return; }
    try {
      const sg = await post("/segments", { name: name.value.trim(), rules: r, kind: kind.value });
      msg.textContent = t("segments.saved");
      msg.className = "form-msg ok";
      announce(t("segments.saved"));
      name.value = "";
      drawList(items(await get("/segments")));
      list.querySelector(`tr[data-id="${sg.id}"]`)?.classList.add("fresh");
    } catch (err) {
      msg.textContent = errorText(err);
      msg.className = "form-msg error";
    }
  });
  main.append(h("div", { class: "grid2" },
    h("section", { class: "card", "aria-labelledby": "seg-title" },
      h("h2", { id: "seg-title", text: t("segments.title") }),
      h("div", { class: "table-wrap" }, h("table", { class: "segments stack" },
        h("thead", {}, h("tr", {}, [t("segments.name"), t("segments.kind"), t("segments.rules_short"), t("segments.count")].map((x) => h("th", { scope: "col", text: x })))),
        list))),
    h("section", { class: "card" }, form)));
}
