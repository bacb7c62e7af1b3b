// Contacts: the list with masked numbers (server search by name or whole number, tag filter, more pages), one contact opened
// in full (the read is audited), its tags, custom fields and marketing consent, add, CSV import.
// The segments builder (segments.js) shares the screen.

import { h, replace, field, when, announce, confirmButton } from "./dom.js";
import { t, lang } from "./i18n.js";
import { get, post, put, items, ApiError } from "./api.js";
import { segmentsSection } from "./segments.js";

const PAGE = 100;

export function unavailable(section, title) {
  return h("section", { class: "card" }, h("h2", { text: title }),
    h("p", { class: "muted not-available", text: t("common.not_available") }));
}

export function summary(obj) {
  const rows = Object.entries(obj || {}).filter(([, v]) => v === null || ["string", "number", "boolean"].includes(typeof v));
  return h("dl", { class: "summary" }, rows.map(([k, v]) => [h("dt", { text: k }), h("dd", { text: v === null ? "—" : String(v) })]));
}

export function errorText(err) {
  if (err instanceof ApiError) {
    const p = err.problem || {};
    const extra = Array.isArray(p.errors) ? p.errors.map((e) => (e.loc || []).slice(1).join(".") + ": " + e.msg).join("; ") : "";
    return (p.detail || p.title || "HTTP " + err.status) + (extra ? " — " + extra : "");
  }
  return String(err.message || err);
}

function say(el, text, ok) {
  el.textContent = text;
  el.className = "form-msg " + (ok ? "ok" : "error");
}

export function splitTags(text) {
  return String(text || "").split(",").map((x) => x.trim().toLowerCase()).filter(Boolean);
}

/** What the customer decided about marketing, in words (an opt-out outranks everything). */
function consentText(c) {
  if (c.opted_out) return t("contacts.opted_out_yes");
  return t("consent." + c.marketing, null, c.marketing || "—");
}

/** A field value typed back from text: plain numbers become numbers (not "0812…"). */
function typed(text) {
  const v = text.trim();
  if (/^-?(0|[1-9][0-9]{0,14})(\.[0-9]+)?$/.test(v)) return Number(v);
  if (v === "true" || v === "false") return v === "true";
  return v;
}

function fieldsEditor(c, canWrite, onSaved) {
  const rows = h("div", { class: "kv-rows" });
  const addRow = (key, value) => {
    const k = h("input", { type: "text", maxlength: 64, value: key, "aria-label": t("contacts.field_name"), placeholder: t("contacts.field_name"), disabled: !canWrite });
    const v = h("input", { type: "text", maxlength: 500, value: value === null || value === undefined ? "" : String(value), "aria-label": t("contacts.field_value"), placeholder: t("contacts.field_value"), disabled: !canWrite });
    const row = h("div", { class: "kv" }, k, v,
      canWrite ? h("button", { type: "button", class: "icon", "aria-label": t("contacts.field_remove"), text: "×", onclick: () => row.remove() }) : null);
    rows.append(row);
  };
  for (const [key, value] of Object.entries(c.fields || {})) addRow(key, value);
  const msg = h("p", { class: "form-msg", role: "status" });
  const form = h("form", { class: "fields-form", "aria-labelledby": "cf-title" },
    h("h4", { id: "cf-title", text: t("contacts.fields") }), rows,
    Object.keys(c.fields || {}).length || canWrite ? null : h("p", { class: "muted", text: t("contacts.no_fields") }),
    canWrite ? h("div", { class: "actions" },
      h("button", { type: "button", text: t("contacts.field_add"), onclick: () => { addRow("", ""); rows.lastChild.querySelector("input").focus(); } }),
      h("button", { type: "submit", text: t("contacts.save_fields") })) : null, msg);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const fields = {};
    for (const row of rows.querySelectorAll(".kv")) {
      const [k, v] = row.querySelectorAll("input");
      if (k.value.trim()) fields[k.value.trim()] = typed(v.value);
    }
    try {
      const out = await put("/contacts/" + c.id + "/fields", { fields });
      say(msg, t("contacts.fields_saved", { n: out.keys.length }), true);
      onSaved();
    } catch (err) { say(msg, errorText(err), false); }
  });
  return form;
}

/** The marketing decision and, for staff who may write, recording the customer's answer. */
function consentBox(c, canWrite, onSaved) {
  const msg = h("p", { class: "form-msg", role: "status" });
  const stopped = c.opted_out || c.marketing === "denied";
  const source = h("input", { type: "text", maxlength: 64, required: true, value: "console" });
  const record = async (granted) => {
    try {
      await post("/contacts", { wa_id: c.wa_id, marketing_consent: granted, consent_source: source.value.trim() || "console" });
      c.marketing = granted ? "granted" : "denied";
      const again = consentBox(c, canWrite, onSaved);
      box.replaceWith(again);
      again.querySelector(".form-msg").textContent = t(granted ? "contacts.consent_granted" : "contacts.consent_denied");
      again.querySelector(".form-msg").className = "form-msg ok";
      onSaved();
    } catch (err) { say(msg, errorText(err), false); }
  };
  const box = h("div", { class: "consent", role: "group", "aria-labelledby": "cc-title" },
    h("h4", { id: "cc-title", text: t("contacts.marketing") }),
    h("p", {}, h("span", { class: "badge consent-" + (c.opted_out ? "opted_out" : c.marketing), text: consentText(c) })),
    stopped ? h("p", { class: "hint", text: t("contacts.consent_customer_only") }) : null,
    canWrite ? [field(t("contacts.consent_source"), source, t("contacts.consent_source_hint")),
      h("div", { class: "actions" },
        h("button", { type: "button", text: t("contacts.consent_grant"), disabled: stopped || c.marketing === "granted", onclick: () => record(true) }),
        c.opted_out || c.marketing === "denied" ? null : confirmButton(t("contacts.consent_deny"), t("contacts.consent_deny_confirm"), () => record(false), "danger"))] : null,
    msg);
  return box;
}

/** One contact in full: GET /contacts/{id} is audited, so it is read once, when asked for;
 * later changes update what is shown without reading it again. */
async function openContact(box, id, canWrite, onChanged) {
  replace(box, h("p", { class: "muted", text: t("common.loading") }));
  let c;
  try {
    c = await get("/contacts/" + encodeURIComponent(id));
  } catch (err) {
    replace(box, h("p", { class: "error", role: "alert", text: errorText(err) }));
    return;
  }
  const tagsIn = h("input", { type: "text", maxlength: 500, value: c.tags.join(", "), disabled: !canWrite });
  const tagMsg = h("p", { class: "form-msg", role: "status" });
  const tagsForm = h("form", { class: "tags-form" }, field(t("contacts.tags"), tagsIn, t("contacts.tags_hint")),
    canWrite ? h("button", { type: "submit", text: t("contacts.save_tags") }) : null, tagMsg);
  tagsForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const out = await put("/contacts/" + c.id + "/tags", { tags: splitTags(tagsIn.value) });
      tagsIn.value = out.tags.join(", ");
      say(tagMsg, t("contacts.tags_saved"), true);
      onChanged();
    } catch (err) { say(tagMsg, errorText(err), false); }
  });
  replace(box,
    h("div", { class: "detail-head" },
      h("h3", { id: "contact-detail-title", class: "contact-name", text: c.name || t("contacts.no_name") }),
      h("button", { type: "button", class: "icon", "aria-label": t("contacts.close"), text: "×", onclick: () => { replace(box); box.hidden = true; } })),
    h("p", { class: "hint", text: t("contacts.audited") }),
    h("dl", { class: "summary" },
      h("dt", { text: t("contacts.number") }), h("dd", { class: "full-number", text: "+" + c.wa_id }),
      h("dt", { text: t("contacts.language") }), h("dd", { text: c.language || "—" }),
      h("dt", { text: t("contacts.orders") }), h("dd", { text: String(c.orders_count) }),
      h("dt", { text: t("contacts.last_inbound") }), h("dd", { text: when(c.last_inbound_at || null, lang()) }),
      h("dt", { text: t("contacts.first_seen") }), h("dd", { text: when(c.created_at, lang()) }),
      h("dt", { text: t("contacts.number_valid") }), h("dd", { text: t(c.number_valid ? "common.yes" : "common.no") })),
    tagsForm, consentBox(c, canWrite, onChanged), fieldsEditor(c, canWrite, onChanged));
  box.hidden = false;
  box.focus();
}

function contactRow(c, open) {
  const cols = [t("contacts.name"), t("contacts.number"), t("contacts.tags"), t("contacts.language"), t("contacts.marketing"), t("contacts.last_inbound")];
  return h("tr", { "data-id": String(c.id) },
    h("td", { class: "contact-name", "data-label": cols[0] },
      h("button", { type: "button", class: "link", "aria-label": t("contacts.open", { name: c.name || c.number_masked }), text: c.name || "—", onclick: () => open(c.id) })),
    h("td", { class: "masked", "data-label": cols[1], text: c.number_masked }),
    h("td", { "data-label": cols[2] }, h("span", {}, (c.tags || []).map((tg) => h("span", { class: "tag", text: tg })))),
    h("td", { "data-label": cols[3], text: c.language || "—" }),
    h("td", { "data-label": cols[4], text: consentText(c) }),
    h("td", { "data-label": cols[5], text: when(c.last_inbound_at || null, lang()) }));
}

function addContactForm(onAdded) {
  const waId = h("input", { type: "tel", required: true, maxlength: 20, pattern: "\\+?[0-9 ]{8,20}", autocomplete: "off" });
  const name = h("input", { type: "text", maxlength: 120, autocomplete: "off" });
  const tags = h("input", { type: "text", maxlength: 200 });
  const msg = h("p", { class: "form-msg", role: "status" });
  const form = h("form", { class: "inline-form", "aria-labelledby": "add-contact" },
    h("h3", { id: "add-contact", text: t("contacts.add") }),
    field(t("contacts.number"), waId, t("contacts.number_hint")), field(t("contacts.name"), name), field(t("contacts.tags"), tags, t("contacts.tags_hint")),
    h("button", { type: "submit", class: "primary", text: t("common.save") }), msg);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await post("/contacts", { wa_id: waId.value.replace(/[\s+]/g, ""), name: name.value.trim() || null, tags: splitTags(tags.value) });
      say(msg, t("contacts.added"), true);
      waId.value = name.value = tags.value = "";
      await onAdded();
    } catch (err) { say(msg, errorText(err), false); }
  });
  return form;
}

function importForm(onImported) {
  const file = h("input", { type: "file", accept: ".csv,text/csv", required: true });
  const out = h("div", { role: "status" });
  const form = h("form", { class: "inline-form", "aria-labelledby": "import-contacts" },
    h("h3", { id: "import-contacts", text: t("contacts.import") }),
    field(t("contacts.csv"), file, t("contacts.csv_hint")),
    h("button", { type: "submit", text: t("contacts.upload") }), out);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = file.files[0];
    if (!f) return;
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    replace(out, h("p", {}, t("contacts.importing", { name: f.name }), " ", h("progress", { "aria-label": t("contacts.import") })));
    // The server takes the whole file in one request (at most 5 MiB) and reports every row.
    const safeName = f.name.replace(/[^A-Za-z0-9._-]/g, "_").replace(/^[^A-Za-z0-9]+/, "").slice(0, 100) || "import.csv";
    try {
      const r = await post("/contacts/import?filename=" + encodeURIComponent(safeName), undefined, { raw: { body: f, type: "text/csv" } });
      const issues = [...r.rejected.map((i) => [i, "contacts.rejected"]), ...r.duplicates.map((i) => [i, "contacts.duplicate"])];
      replace(out, h("p", { class: "ok", text: t("contacts.imported", { rows: r.rows, created: r.created, updated: r.updated }) }),
        r.consent_recorded || r.consent_kept_opt_out ? h("p", { class: "hint", text: t("contacts.import_consent", { n: r.consent_recorded, kept: r.consent_kept_opt_out }) }) : null,
        issues.length ? h("ul", { class: "issues" }, issues.slice(0, 50).map(([i, key]) => h("li", { text: t("contacts.line", { n: i.line }) + " · " + t(key) + ": " + i.reason + " (" + i.value + ")" }))) : null);
      file.value = "";
      await onImported();
    } catch (err) {
      replace(out, h("p", { class: "error", text: errorText(err) }));
    } finally { button.disabled = false; }
  });
  return form;
}

async function contactsSection(main, canWrite) {
  let first;
  try {
    first = await get("/contacts?limit=" + PAGE);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) { main.append(unavailable("contacts", t("contacts.title"))); return; }
    throw err;
  }
  let loaded = [];
  let cursor = null;
  let tag = "";
  const body = h("tbody");
  const more = h("button", { type: "button", text: t("contacts.more"), hidden: true });
  const count = h("p", { class: "muted small", role: "status" });
  const search = h("input", { type: "search", maxlength: 100, autocomplete: "off" });
  const tagFilter = h("input", { type: "text", maxlength: 64, autocomplete: "off" });
  const detail = h("section", { class: "card contact-detail", tabindex: "-1", "aria-labelledby": "contact-detail-title", hidden: true });
  const open = (id) => openContact(detail, id, canWrite, () => refresh().catch((err) => { count.textContent = errorText(err); }));

  let query = "";
  let asked = 0;  // answers to older searches are dropped
  const draw = () => {
    replace(body, loaded.length ? loaded.map((c) => contactRow(c, open)) : h("tr", {}, h("td", { colspan: 6, class: "muted", text: t(query ? (cursor !== null ? "contacts.keep_looking" : "contacts.no_match") : "contacts.none") })));
    count.textContent = t(query ? "contacts.found" : "contacts.shown", { n: loaded.length }) + (cursor !== null ? " " + t("contacts.more_exist") : "");
    more.hidden = cursor === null;
  };
  const take = (page, append) => {
    loaded = append ? loaded.concat(items(page)) : items(page);
    cursor = page.next_cursor ?? null;
    draw();
  };
  // The server searches: a whole number by its blind index, otherwise names (decrypted there,
  // at most 2,000 contacts per request; "load more" goes on where it stopped).
  const url = (after) => "/contacts?limit=" + PAGE + (tag ? "&tag=" + encodeURIComponent(tag) : "") +
    (query ? "&q=" + encodeURIComponent(query) : "") + (after ? "&cursor=" + after : "");
  const refresh = async () => {
    const mine = ++asked;
    const page = await get(url(null));
    if (mine === asked) take(page, false);
  };
  const ask = () => refresh().catch((err) => { count.textContent = errorText(err); });
  more.addEventListener("click", async () => take(await get(url(cursor)), true));
  let typing = 0;
  search.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => { query = search.value.trim(); ask(); }, 300);
  });
  const filterForm = h("form", { class: "toolbar", role: "search", "aria-label": t("contacts.search_label") },
    field(t("contacts.search"), search, t("contacts.search_hint")),
    field(t("contacts.tag_filter"), tagFilter),
    h("button", { type: "submit", text: t("contacts.filter") }));
  filterForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearTimeout(typing);
    tag = tagFilter.value.trim().toLowerCase();
    query = search.value.trim();
    try { await refresh(); announce(count.textContent); } catch (err) { count.textContent = errorText(err); }
  });
  take(first, false);

  main.append(
    h("div", { class: "contacts-layout" },
      h("section", { class: "card", "aria-labelledby": "contacts-title" },
        h("h2", { id: "contacts-title", text: t("contacts.title") }),
        h("p", { class: "hint", text: t("contacts.masked_note") }),
        filterForm, count,
        h("div", { class: "table-wrap" }, h("table", { class: "contacts stack" },
          h("thead", {}, h("tr", {}, [t("contacts.name"), t("contacts.number"), t("contacts.tags"), t("contacts.language"), t("contacts.marketing"), t("contacts.last_inbound")].map((x) => h("th", { scope: "col", text: x })))),
          body)),
        more),
      detail),
    canWrite ? h("div", { class: "grid2" }, h("section", { class: "card" }, addContactForm(refresh)), h("section", { class: "card" }, importForm(refresh))) : null);
}

export async function renderContacts(main, ctx) {
  const perms = new Set((ctx && ctx.me && ctx.me.permissions) || []);
  replace(main, h("h1", { text: t("nav.contacts") }));
  await contactsSection(main, perms.has("contacts:write"));
  if (perms.has("campaigns:write")) await segmentsSection(main);
}
