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

function placeholders(text) {
  const out = [];
  for (const m of String(text || "").matchAll(PLACEHOLDER)) if (!out.includes(m[1])) out.push(m[1]);
  return out;
}

function fill(text, names, values) {
  return String(text || "").replace(PLACEHOLDER, (_, name) => {
    const v = values[names.indexOf(name)];
    return v ? v : "{{" + name + "}}";
  });
}

/** The phone-style preview: a chat bubble as WhatsApp shows a template message. */
function phonePreview(tpl, values) {
  const phone = h("div", { class: "phone", "aria-label": t("broadcasts.preview") });
  if (!tpl) return replace(phone, h("p", { class: "muted center", text: t("broadcasts.pick_template") }));
  const header = component(tpl, "HEADER");
  const body = component(tpl, "BODY");
  const footer = component(tpl, "FOOTER");
  const buttons = component(tpl, "BUTTONS");
  const names = placeholders(body && body.text);
  const bubble = h("div", { class: "bubble out" },
    header && header.text ? h("p", { class: "b-head", text: header.text }) : null,
    h("p", { class: "b-body", text: fill(body ? body.text : "[" + tpl.name + "]", names, values) }),
    footer && footer.text ? h("p", { class: "b-foot", text: footer.text }) : null);
  const btns = buttons && Array.isArray(buttons.buttons)
    ? h("div", { class: "b-buttons" }, buttons.buttons.map((b) => h("span", { class: "b-button", text: b.text || b.type }))) : null;
  return replace(phone, h("div", { class: "phone-bar", text: t("broadcasts.phone_title") }), h("div", { class: "phone-screen" }, bubble, btns));
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
    replace(box,
      h("h3", { text: (d.name || t("broadcasts.title")) + " · #" + id }),
      h("p", {}, h("span", { class: "badge state-" + state, "data-state": state, text: t("state." + state, null, state) }),
        d.next_run_at && !settled ? [" ", h("span", { class: "muted small", text: t("broadcasts.next_run", { at: when(d.next_run_at, lang()) }) })] : null),
      progressBar(t("broadcasts.progress"), fraction),
      h("dl", { class: "counts" }, counts.map(([k, v]) => [h("dt", { text: t("broadcasts.count_" + k, null, k) }), h("dd", { "data-count": k, text: String(v) })])),
      codes.length ? h("p", { class: "small" }, t("broadcasts.error_codes") + ": ", codes.map(([c, n]) => h("span", { class: "tag", text: c + " × " + n }))) : null,
      h("div", { class: "actions" },
        h("button", { type: "button", text: t("broadcasts.pause"), onclick: act("pause"), disabled: DONE_STATES.has(state) || state === "paused" }),
        h("button", { type: "button", text: t("broadcasts.resume"), onclick: act("resume"), disabled: state !== "paused" }),
        DONE_STATES.has(state) ? null : confirmButton(t("broadcasts.cancel"), t("broadcasts.cancel_confirm"), act("cancel"), "danger"),
        h("button", { type: "button", class: "refresh", text: t("broadcasts.refresh"), onclick: render })));
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
  let values = [];
  const current = () => templates[Number(tplSel.value)] || null;
  const redraw = () => replace(preview, phonePreview(tplSel.value === "" ? null : current(), values));
  tplSel.addEventListener("change", () => {
    const tpl = tplSel.value === "" ? null : current();
    const names = placeholders(tpl && component(tpl, "BODY") ? component(tpl, "BODY").text : "");
    values = names.map(() => "");
    replace(varsBox, names.map((n, i) => {
      const input = h("input", { type: "text", maxlength: 1024, required: true, placeholder: i === 0 ? "{first_name|Kak}" : "" });
      input.addEventListener("input", () => { values[i] = input.value; redraw(); });
      return field(t("broadcasts.variable", { n }), input, i === 0 ? t("broadcasts.variable_hint") : null);
    }));
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
        variables: values.length ? { body: values } : {}, run_at: runAt,
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
