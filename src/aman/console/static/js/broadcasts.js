// Broadcasts: compose from a template with variables and a phone-style preview, pick a segment,
// schedule, then follow live progress with pause / resume / cancel.

import { h, replace, field, when, announce, confirmButton } from "./dom.js";
import { t, lang } from "./i18n.js";
import { get, post, items, ApiError } from "./api.js";
import { progressBar } from "./charts.js";
import { unavailable, errorText } from "./contacts.js";

const DONE_STATES = new Set(["done", "cancelled"]);
const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g;

function component(tpl, type) {
  return (tpl.components || []).find((c) => String(c.type || "").toUpperCase() === type) || null;
}

/** The template's variable slots grouped by where they sit ("header", "body", "button:1"),
 * in the order GET /templates lists them (the order the API expects their values in). */
function slotGroups(tpl) {
  const groups = new Map();
  for (const slot of (tpl && tpl.slots) || []) {
    if (!groups.has(slot.key)) groups.set(slot.key, []);
    groups.get(slot.key).push(slot);
  }
  return groups;
}

/** ``text`` with each {{name}} of ``slots`` replaced by its value (kept as is while empty). */
function fill(text, slots, values) {
  return String(text || "").replace(PLACEHOLDER, (whole, name) => {
    const i = (slots || []).findIndex((slot) => slot.name === name);
    const v = i >= 0 ? values[slots[i].key + "#" + i] : "";
    return v ? v : whole;
  });
}

/** The phone-style preview: a chat bubble as WhatsApp shows a template message. */
function phonePreview(tpl, values) {
  const phone = h("div", { class: "phone", "aria-label": t("broadcasts.preview") });
  if (!tpl) return replace(phone, h("p", { class: "muted center", text: t("broadcasts.pick_template") }));
  const groups = slotGroups(tpl);
  const header = component(tpl, "HEADER");
  const body = component(tpl, "BODY");
  const footer = component(tpl, "FOOTER");
  const buttons = component(tpl, "BUTTONS");
  const media = header && header.format && header.format !== "TEXT";
  const bubble = h("div", { class: "bubble out" },
    media ? h("p", { class: "b-head muted", text: "[" + t("broadcasts.media_" + header.format.toLowerCase(), null, header.format) + "]" }) : null,
    header && header.text ? h("p", { class: "b-head", text: fill(header.text, groups.get("header"), values) }) : null,
    h("p", { class: "b-body", text: body ? fill(body.text, groups.get("body"), values) : "[" + tpl.name + "]" }),
    footer && footer.text ? h("p", { class: "b-foot", text: footer.text }) : null);
  const btns = buttons && buttons.buttons.length
    ? h("div", { class: "b-buttons" }, buttons.buttons.map((b) => h("span", { class: "b-button", text: b.text || b.type }))) : null;
  return replace(phone, h("div", { class: "phone-bar", text: t("broadcasts.phone_title") }), h("div", { class: "phone-screen" }, bubble, btns));
}

/** The label of one variable input: which part of the template it fills. */
function slotLabel(slot) {
  if (slot.component === "button") return t("broadcasts.slot_button", { i: slot.index + 1, n: slot.name });
  if (slot.component === "header") return t(slot.kind === "text" ? "broadcasts.slot_header" : "broadcasts.slot_media", { n: slot.name });
  return t("broadcasts.variable", { n: slot.name });
}

const REASONS = ["opted_out", "marketing_opt_out", "invalid_number", "recent_campaign", "needs_template", "bad_variables"];
const RECIPIENT_PAGE = 50;

function reasonText(reason) {
  if (!reason) return "";
  if (reason.startsWith("template_")) return t("hold.template", { status: reason.slice(9).toUpperCase() });
  return t("reason." + reason, null, reason);
}

/** Per-recipient results of broadcast ``id``, asked for on demand (masked numbers only). */
function recipientsPanel(id) {
  const filter = h("select", {}, h("option", { value: "", text: t("broadcasts.all_statuses") }),
    STATUS_ORDER.map((k) => h("option", { value: k, text: t("broadcasts.count_" + k, null, k) })));
  const body = h("tbody");
  const more = h("button", { type: "button", text: t("contacts.more"), hidden: true });
  const msg = h("p", { class: "muted small", role: "status" });
  let cursor = null;
  const load = async (append) => {
    const params = new URLSearchParams({ limit: String(RECIPIENT_PAGE) });
    if (filter.value) params.set("state", filter.value);
    if (append && cursor !== null) params.set("cursor", String(cursor));
    try {
      const page = await get("/broadcasts/" + encodeURIComponent(id) + "/recipients?" + params);
      const rows = items(page).map((r) => h("tr", {},
        h("td", { class: "masked", text: r.number_masked || "—" }),
        h("td", {}, h("span", { class: "badge state-" + r.status, text: t("broadcasts.count_" + r.status, null, r.status) })),
        h("td", { text: r.error_code ? String(r.error_code) : reasonText(r.reason) })));
      if (append) body.append(...rows); else replace(body, rows);
      cursor = page.next_cursor ?? null;
      more.hidden = cursor === null;
      msg.textContent = body.children.length ? "" : (cursor === null ? t("broadcasts.no_recipients") : t("broadcasts.keep_looking"));
    } catch (err) { msg.textContent = errorText(err); }
  };
  more.addEventListener("click", () => load(true));
  const form = h("form", { class: "toolbar", "aria-label": t("broadcasts.recipients") },
    field(t("broadcasts.recipient_status"), filter), h("button", { type: "submit", text: t("broadcasts.show_recipients") }));
  form.addEventListener("submit", (ev) => { ev.preventDefault(); load(false); });
  return h("details", { class: "recipients" }, h("summary", { text: t("broadcasts.recipients") }), form, msg,
    h("div", { class: "table-wrap" }, h("table", { class: "recipients" },
      h("thead", {}, h("tr", {}, [t("contacts.number"), t("broadcasts.status"), t("broadcasts.why")].map((x) => h("th", { scope: "col", text: x })))),
      body)), more);
}

// Recipients still waiting for the sender; every other status (except "excluded", never sent)
// means the sender is done with that recipient.
const PENDING = ["queued", "held"];
const STATUS_ORDER = ["queued", "held", "sent", "delivered", "read", "replied", "failed", "opted_out", "cancelled", "excluded"];
const POLL_MS = 2000;

/** Progress of GET /broadcasts/{id}: the share of recipients the sender has finished with. */
export function progressOf(d) {
  const st = d.statuses || {};
  const recipients = Object.entries(st).reduce((a, [k, v]) => a + (k === "excluded" ? 0 : Number(v || 0)), 0);
  const pending = PENDING.reduce((a, k) => a + Number(st[k] || 0), 0);
  const finished = DONE_STATES.has(d.state);
  const fraction = recipients ? (recipients - pending) / recipients : (finished ? 1 : 0);
  return { statuses: st, recipients, pending, fraction, settled: finished && pending === 0 };
}

/** Show broadcast ``id`` in ``box``, kept live until the sender is done with it (then
 * ``onSettled`` runs once); returns the function that stops it. */
function detail(box, id, onSettled) {
  let timer = 0;
  let stopped = false;
  const panel = recipientsPanel(id);  // kept across polls: what was loaded stays open
  const render = async () => {
    clearTimeout(timer);
    let d;
    try {
      d = await get("/broadcasts/" + encodeURIComponent(id));
    } catch (err) {
      replace(box, h("p", { class: "error", text: errorText(err) }));
      return;
    }
    if (stopped) return;
    const { statuses, recipients, fraction, settled } = progressOf(d);
    const act = (verb) => async () => {
      try { await post("/broadcasts/" + encodeURIComponent(id) + "/" + verb); announce(t("broadcasts.done_" + verb)); }
      catch (err) { announce(errorText(err)); }
      await render();
    };
    const state = String(d.state || "");
    const counts = [["total", recipients], ...STATUS_ORDER.filter((k) => statuses[k]).map((k) => [k, statuses[k]])];
    const codes = Object.entries(d.error_codes || {});
    const reasons = Object.entries(d.excluded_reasons || {}).sort((a, b) => REASONS.indexOf(a[0]) - REASONS.indexOf(b[0]));
    replace(box,
      h("h3", { text: (d.name || t("broadcasts.title")) + " · #" + id }),
      h("p", {}, h("span", { class: "badge state-" + state, "data-state": state, text: t("state." + state, null, state) }),
        d.next_run_at && !settled ? [" ", h("span", { class: "muted small", text: t("broadcasts.next_run", { at: when(d.next_run_at, lang()) }) })] : null),
      d.hold_reason && !DONE_STATES.has(state) ? h("p", { class: "hold", role: "note", text: t("broadcasts.held_because", { reason: reasonText(d.hold_reason) }) }) : null,
      progressBar(t("broadcasts.progress"), fraction),
      h("dl", { class: "counts" }, counts.map(([k, v]) => [h("dt", { text: t("broadcasts.count_" + k, null, k) }), h("dd", { "data-count": k, text: String(v) })])),
      codes.length ? h("p", { class: "small" }, t("broadcasts.error_codes") + ": ", codes.map(([c, n]) => h("span", { class: "tag", text: c + " × " + n }))) : null,
      reasons.length ? h("p", { class: "small excluded-reasons" }, t("broadcasts.excluded_why") + ": ", reasons.map(([r, n]) => h("span", { class: "tag", "data-reason": r, text: reasonText(r) + " × " + n }))) : null,
      h("div", { class: "actions" },
        h("button", { type: "button", text: t("broadcasts.pause"), onclick: act("pause"), disabled: DONE_STATES.has(state) || state === "paused" }),
        h("button", { type: "button", text: t("broadcasts.resume"), onclick: act("resume"), disabled: state !== "paused" }),
        DONE_STATES.has(state) ? null : confirmButton(t("broadcasts.cancel"), t("broadcasts.cancel_confirm"), act("cancel"), "danger"),
        h("button", { type: "button", class: "refresh", text: t("broadcasts.refresh"), onclick: render })),
      panel);
    // Live: ask again while the sender still has work (delivery ticks keep arriving after that;
    // "refresh" asks once more).
    const later = !recipients && d.next_run_at && d.next_run_at * 1000 - Date.now() > 60000;
    if (!settled) timer = setTimeout(render, later ? 30000 : POLL_MS);
    else if (onSettled) { onSettled(); onSettled = null; }
  };
  render();
  return () => { stopped = true; clearTimeout(timer); };
}

export async function renderBroadcasts(main) {
  replace(main, h("h1", { text: t("nav.broadcasts") }));
  let list;
  try {
    list = await get("/broadcasts");
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      main.append(unavailable("broadcasts", t("broadcasts.title")));
      return () => {};
    }
    throw err;
  }
  const [templates, segments] = await Promise.all([
    get("/templates").then(items).catch(() => []),
    get("/segments").then(items).catch(() => []),
  ]);
  const detailBox = h("section", { class: "card broadcast-detail", "aria-live": "polite" },
    h("p", { class: "muted", text: t("broadcasts.pick") }));
  let stopDetail = () => {};
  const refreshList = () => get("/broadcasts").then((rows) => drawList(items(rows))).catch(() => {});
  const show = (id) => { stopDetail(); stopDetail = detail(detailBox, id, refreshList); };
  const listEl = h("ul", { class: "plain" });
  const drawList = (rows) => replace(listEl, rows.length ? rows.map((b) => h("li", {},
    h("button", { type: "button", class: "link", text: (b.name || "#" + b.id) + " · " + t("state." + b.state, null, b.state || ""), onclick: () => show(b.id) }),
    " ", h("span", { class: "muted", text: when(b.created_at || b.next_run_at, lang()) }))) : h("li", { class: "muted", text: t("broadcasts.none") }));
  drawList(items(list));

  const name = h("input", { type: "text", required: true, maxlength: 120 });
  const tplSel = h("select", { required: true }, h("option", { value: "", text: t("broadcasts.choose") }),
    templates.map((tp, i) => h("option", { value: String(i), text: tp.name + " (" + tp.language + ")" + (tp.status && tp.status !== "APPROVED" ? " · " + tp.status : ""), disabled: tp.usable === false })));
  const segSel = h("select", { required: true }, h("option", { value: "", text: t("broadcasts.choose") }),
    segments.map((sg) => h("option", { value: String(sg.id), text: sg.name + (sg.size !== undefined && sg.size !== null ? " (" + sg.size + ")" : "") })));
  const when_ = h("input", { type: "datetime-local" });
  const varsBox = h("div", { class: "vars" });
  const preview = h("div");
  const msg = h("p", { class: "form-msg", role: "status" });
  let values = {};
  const current = () => templates[Number(tplSel.value)] || null;
  const redraw = () => replace(preview, phonePreview(tplSel.value === "" ? null : current(), values));
  tplSel.addEventListener("change", () => {
    const tpl = tplSel.value === "" ? null : current();
    values = {};
    const inputs = [];
    for (const [key, slots] of slotGroups(tpl)) {
      slots.forEach((slot, i) => {
        const text = slot.kind === "text" || slot.kind === "coupon_code";
        const input = h("input", { type: text ? "text" : "url", maxlength: 1024, required: true, placeholder: key === "body" && i === 0 ? "{first_name|Kak}" : "" });
        input.addEventListener("input", () => { values[key + "#" + i] = input.value; redraw(); });
        inputs.push(field(slotLabel(slot), input, key === "body" && i === 0 ? t("broadcasts.variable_hint") : (text ? null : t("broadcasts.media_hint"))));
      });
    }
    replace(varsBox, inputs);
    redraw();
  });
  redraw();
  const form = h("form", { class: "compose", "aria-labelledby": "compose-title" },
    h("h2", { id: "compose-title", text: t("broadcasts.new") }),
    h("div", { class: "compose-grid" },
      h("div", {}, field(t("broadcasts.name"), name), field(t("broadcasts.template"), tplSel), varsBox,
        field(t("broadcasts.segment"), segSel), field(t("broadcasts.when"), when_, t("broadcasts.when_hint")),
        h("button", { type: "submit", class: "primary", text: t("broadcasts.create") }), msg),
      preview));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const tpl = current();
    if (!tpl || !segSel.value) return;
    const runAt = when_.value ? new Date(when_.value).getTime() / 1000 : null;
    try {
      const out = await post("/broadcasts", {
        name: name.value.trim(), segment_id: Number(segSel.value), template: tpl.name, language: tpl.language,
        variables: Object.fromEntries([...slotGroups(tpl)].map(([key, slots]) => [key, slots.map((_, i) => values[key + "#" + i] || "")])),
        run_at: runAt,
      });
      msg.textContent = t("broadcasts.created");
      msg.className = "form-msg ok";
      drawList(items(await get("/broadcasts")));
      show(out.id);
    } catch (err) {
      msg.textContent = errorText(err);
      msg.className = "form-msg error";
    }
  });
  main.append(h("section", { class: "card" }, form),
    h("div", { class: "grid2" }, h("section", { class: "card", "aria-labelledby": "bl-title" }, h("h2", { id: "bl-title", text: t("broadcasts.list") }), listEl), detailBox));
  if (!templates.length) msg.textContent = t("broadcasts.no_templates");
  return () => stopDetail();
}
