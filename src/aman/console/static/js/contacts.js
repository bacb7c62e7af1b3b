// Contacts (list, add, CSV import) and segments (rules, live count preview, save).

import { h, replace, field, when, maskNumber, announce } from "./dom.js";
import { t, lang } from "./i18n.js";
import { get, post, items, ApiError } from "./api.js";

export function unavailable(section, title) {
  return h("section", { class: "card" }, h("h2", { text: title }),
    h("p", { class: "muted not-available", text: t("common.not_available") }));
}

export function summary(obj) {
  const rows = Object.entries(obj || {}).filter(([, v]) => v === null || ["string", "number", "boolean"].includes(typeof v));
  return h("dl", { class: "summary" }, rows.map(([k, v]) => [h("dt", { text: k }), h("dd", { text: v === null ? "—" : String(v) })]));
}

function errorText(err) {
  if (err instanceof ApiError) {
    const p = err.problem || {};
    const extra = Array.isArray(p.errors) ? p.errors.map((e) => (e.loc || []).slice(1).join(".") + ": " + e.msg).join("; ") : "";
    return (p.detail || p.title || "HTTP " + err.status) + (extra ? " — " + extra : "");
  }
  return String(err.message || err);
}

export { errorText };

function contactRow(c) {
  const tags = Array.isArray(c.tags) ? c.tags : [];
  return h("tr", {},
    h("td", { class: "contact-name", text: c.name || "—" }),
    h("td", { text: c.number || c.masked || maskNumber(c.wa_id) }),
    h("td", {}, tags.map((tg) => h("span", { class: "tag", text: tg }))),
    h("td", { text: c.language || "—" }),
    h("td", { text: c.opted_out ? t("contacts.opted_out_yes") : c.marketing || "—" }),
    h("td", { text: when(c.last_inbound_at, lang()) }));
}

async function contactsSection(main) {
  let data;
  try {
    data = await get("/contacts?limit=100");
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) { main.append(unavailable("contacts", t("contacts.title"))); return; }
    throw err;
  }
  const body = h("tbody");
  const draw = (list) => replace(body, list.length ? list.map(contactRow) : h("tr", {}, h("td", { colspan: 6, class: "muted", text: t("contacts.none") })));
  draw(items(data));
  const reload = async () => draw(items(await get("/contacts?limit=100")));

  const waId = h("input", { type: "tel", required: true, maxlength: 20, pattern: "\\+?[0-9 ]{8,20}", autocomplete: "off" });
  const name = h("input", { type: "text", maxlength: 120, autocomplete: "off" });
  const tags = h("input", { type: "text", maxlength: 200 });
  const addMsg = h("p", { class: "form-msg", role: "status" });
  const addForm = h("form", { class: "inline-form", "aria-labelledby": "add-contact" },
    h("h3", { id: "add-contact", text: t("contacts.add") }),
    field(t("contacts.number"), waId, t("contacts.number_hint")), field(t("contacts.name"), name), field(t("contacts.tags"), tags, t("contacts.tags_hint")),
    h("button", { type: "submit", class: "primary", text: t("common.save") }), addMsg);
  addForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await post("/contacts", { wa_id: waId.value.replace(/[\s+]/g, ""), name: name.value.trim() || null, tags: tags.value.split(",").map((x) => x.trim()).filter(Boolean) });
      addMsg.textContent = t("contacts.added");
      addMsg.className = "form-msg ok";
      waId.value = name.value = tags.value = "";
      await reload();
    } catch (err) {
      addMsg.textContent = errorText(err);
      addMsg.className = "form-msg error";
    }
  });

  const file = h("input", { type: "file", accept: ".csv,text/csv", required: true });
  const importOut = h("div", { role: "status" });
  const importForm = h("form", { class: "inline-form", "aria-labelledby": "import-contacts" },
    h("h3", { id: "import-contacts", text: t("contacts.import") }),
    field(t("contacts.csv"), file, t("contacts.csv_hint")),
    h("button", { type: "submit", text: t("contacts.upload") }), importOut);
  importForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!file.files.length) return;
    const form = new FormData();
    form.append("file", file.files[0]);
    try {
      const report = await post("/contacts/import", undefined, { form });
      const issues = (report && (report.issues || report.rejected)) || [];
      replace(importOut, h("p", { class: "ok", text: t("contacts.imported") }), summary(report),
        Array.isArray(issues) && issues.length ? h("ul", { class: "issues" }, issues.slice(0, 50).map((i) => h("li", { text: typeof i === "object" ? (i.line ? t("contacts.line", { n: i.line }) + ": " : "") + (i.reason || i.message || JSON.stringify(i)) : String(i) }))) : null);
      await reload();
    } catch (err) {
      replace(importOut, h("p", { class: "error", text: errorText(err) }));
    }
  });

  main.append(h("section", { class: "card", "aria-labelledby": "contacts-title" },
    h("h2", { id: "contacts-title", text: t("contacts.title") }),
    h("div", { class: "table-wrap" }, h("table", { class: "contacts" },
      h("thead", {}, h("tr", {}, [t("contacts.name"), t("contacts.number"), t("contacts.tags"), t("contacts.language"), t("contacts.marketing"), t("contacts.last_inbound")].map((x) => h("th", { scope: "col", text: x })))),
      body))),
    h("div", { class: "grid2" }, h("section", { class: "card" }, addForm), h("section", { class: "card" }, importForm)));
}

const PRESETS = [
  ["segments.preset_tag", { tag: "vip" }],
  ["segments.preset_active", { attr: "last_inbound", op: "within_days", value: 30 }],
  ["segments.preset_lang", { all: [{ attr: "language", op: "eq", value: "id" }, { attr: "marketing", op: "eq", value: "granted" }] }],
];

async function segmentsSection(main) {
  let data;
  try {
    data = await get("/segments");
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) { main.append(unavailable("segments", t("segments.title"))); return; }
    throw err;
  }
  const list = h("ul", { class: "plain" });
  const draw = (segs) => replace(list, segs.length ? segs.map((sg) => h("li", {},
    h("strong", { text: sg.name }), " · ", t("segments.size", { n: sg.size ?? sg.count ?? "?" }), " ",
    h("code", { class: "rules", text: JSON.stringify(sg.rules) }))) : h("li", { class: "muted", text: t("segments.none") }));
  draw(items(data));

  const name = h("input", { type: "text", required: true, maxlength: 120 });
  const rules = h("textarea", { rows: 5, required: true, spellcheck: "false", class: "mono", value: JSON.stringify(PRESETS[0][1], null, 2) });
  const count = h("output", { class: "count", text: "—" });
  const msg = h("p", { class: "form-msg", role: "status" });
  const parse = () => {
    try { return JSON.parse(rules.value); } catch { msg.textContent = t("segments.bad_json"); msg.className = "form-msg error"; return null; }
  };
  const preview = async () => {
    const r = parse();
    if (!r) return;
    try {
      const out = await post("/segments/preview", { rules: r });
      count.textContent = t("segments.size", { n: out.count });
      msg.textContent = "";
    } catch (err) {
      count.textContent = "—";
      msg.textContent = errorText(err);
      msg.className = "form-msg error";
    }
  };
  const form = h("form", { class: "inline-form", "aria-labelledby": "new-seg" },
    h("h3", { id: "new-seg", text: t("segments.new") }),
    field(t("segments.name"), name),
    h("div", { class: "presets", role: "group", "aria-label": t("segments.presets") },
      PRESETS.map(([key, rule]) => h("button", { type: "button", text: t(key), onclick: () => { rules.value = JSON.stringify(rule, null, 2); preview(); } }))),
    field(t("segments.rules"), rules, t("segments.rules_hint")),
    h("p", {}, h("button", { type: "button", text: t("segments.preview"), onclick: preview }), " ", count),
    h("button", { type: "submit", class: "primary", text: t("common.save") }), msg);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const r = parse();
    if (!r) return;
    try {
      await post("/segments", { name: name.value.trim(), rules: r });
      msg.textContent = t("segments.saved");
      msg.className = "form-msg ok";
      announce(t("segments.saved"));
      draw(items(await get("/segments")));
    } catch (err) {
      msg.textContent = errorText(err);
      msg.className = "form-msg error";
    }
  });
  main.append(h("section", { class: "card", "aria-labelledby": "seg-title" },
    h("h2", { id: "seg-title", text: t("segments.title") }), list, form));
}

export async function renderContacts(main) {
  replace(main, h("h1", { text: t("nav.contacts") }));
  await contactsSection(main);
  await segmentsSection(main);
}
