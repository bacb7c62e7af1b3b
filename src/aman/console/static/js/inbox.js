// Team inbox: conversations waiting for a human, live updates (SSE), thread, reply, assign, close.

import { h, replace, field, when, ago, announce, confirmButton } from "./dom.js";
import { t, lang } from "./i18n.js";
import { get, post, optional, items, ApiError } from "./api.js";

const IDLE_MS = 10 * 60 * 1000; // no keyboard or pointer input this long: live updates pause

function shortId(id) {
  const ix = String(id).split(".")[1] || String(id);
  return ix.slice(0, 6);
}

function statusOf(m) {
  if (m.state === "failed" || m.status === "failed") return "failed";
  if (m.status === "read" || m.status === "delivered" || m.status === "sent") return m.status;
  if (m.state === "sent") return "sent";
  return "queued";
}

const MARKS = { queued: "🕓", sent: "✓", delivered: "✓✓", read: "✓✓", failed: "✗" };

export function renderInbox(main, ctx) {
  const state = { convs: new Map(), open: null, outbound: new Map(), es: null, idleTimer: 0, templates: [] };
  const listEl = h("ul", { class: "conv-list", "aria-label": t("inbox.waiting") });
  const liveEl = h("p", { class: "live-status", role: "status" });
  const threadEl = h("section", { class: "thread", "aria-label": t("inbox.thread") },
    h("p", { class: "muted center", text: t("inbox.pick") }));
  const sideEl = h("aside", { class: "contact-panel", "aria-label": t("inbox.contact") });
  replace(main,
    h("div", { class: "inbox" },
      h("section", { class: "conv-pane", "aria-labelledby": "inbox-title" },
        h("h1", { id: "inbox-title", text: t("nav.inbox") }), liveEl, listEl),
      threadEl, sideEl));

  // -- the list ---------------------------------------------------------------
  function drawList() {
    const convs = Array.from(state.convs.values()).sort((a, b) => (b.handoff_at || 0) - (a.handoff_at || 0));
    if (!convs.length) {
      replace(listEl, h("li", { class: "muted", text: t("inbox.empty") }));
      return;
    }
    replace(listEl, convs.map((c) => {
      const mine = c.assigned_user_id === ctx.me.user_id;
      const who = c.assigned_user_id ? (mine ? t("inbox.assigned_me") : t("inbox.assigned_user", { id: c.assigned_user_id }))
        : c.assigned_team ? t("inbox.assigned_team", { team: c.assigned_team }) : t("inbox.unassigned");
      return h("li", {},
        h("button", {
          type: "button", class: ["conv", c.id === state.open ? "active" : "", c.fresh ? "fresh" : ""],
          "aria-current": c.id === state.open ? "true" : false, "data-conv": c.id,
          onclick: () => openConversation(c.id),
        },
        h("span", { class: "conv-title", text: t("inbox.customer", { id: shortId(c.id) }) }),
        c.handoff_reason ? h("span", { class: "conv-reason", text: c.handoff_reason }) : null,
        h("span", { class: "conv-meta", text: who + " · " + ago(c.handoff_at, lang()) }),
        c.unread ? h("span", { class: "badge new", text: t("inbox.new_messages", { n: c.unread }) }) : null));
    }));
  }

  async function loadList() {
    const page = await get("/conversations?mode=human&limit=200");
    const fresh = new Map();
    for (const c of items(page)) fresh.set(c.id, Object.assign(state.convs.get(c.id) || {}, c));
    state.convs = fresh;
    drawList();
  }

  // -- one conversation -------------------------------------------------------------
  function bubble(m) {
    const inbound = m.direction === "in";
    const text = m.text || (m.type ? "[" + m.type + "]" : "");
    const parts = [h("p", { class: "body", text })];
    if (m.choices && m.choices.length) parts.push(h("ul", { class: "choices" }, m.choices.map((c) => h("li", { text: c }))));
    const meta = h("span", { class: "meta" }, when(m.at, lang()));
    if (!inbound) {
      const st = statusOf(m);
      const mark = h("span", { class: "status " + st, "data-status": st, title: t("status." + st), text: " " + MARKS[st] + " " + t("status." + st) });
      if (m.error_code) mark.append(" (" + m.error_code + ")");
      meta.append(mark);
      state.outbound.set(m.ref, mark);
    }
    return h("li", { class: ["msg", inbound ? "in" : "out"], "data-ref": m.ref || m.wamid }, parts, meta);
  }

  async function loadThread(id, list) {
    const [inbound, outbound] = await Promise.all([
      get("/conversations/" + encodeURIComponent(id) + "/messages?limit=100"),
      optional("/conversations/" + encodeURIComponent(id) + "/outbound?limit=100"),
    ]);
    if (state.open !== id) return;
    const all = inbound.map((m) => ({ ...m, direction: "in", at: m.ts }))
      .concat((outbound || []).map((m) => ({ ...m, direction: "out", at: m.created_at })))
      .sort((a, b) => a.at - b.at);
    state.outbound.clear();
    replace(list, all.map(bubble));
    list.lastElementChild?.scrollIntoView({ block: "end" });
  }

  function violationsBox() { return h("div", { class: "violations", role: "alert", hidden: true }); }

  function showViolations(box, err) {
    const codes = (err.problem && err.problem.violations) || [];
    replace(box, h("strong", { text: t("inbox.blocked") }),
      h("ul", {}, codes.map((c) => h("li", {}, h("code", { text: c }), " — ", t("guard." + c)))));
    box.hidden = false;
  }

  async function openConversation(id) {
    state.open = id;
    const conv = state.convs.get(id);
    if (conv) { conv.unread = 0; conv.fresh = false; }
    drawList();
    const list = h("ol", { class: "messages", "aria-live": "polite", "aria-label": t("inbox.messages") });
    const text = h("textarea", { rows: 3, maxlength: 4096, required: true, name: "reply" });
    const box = violationsBox();
    const send = h("button", { type: "submit", class: "primary", text: t("inbox.send") });
    const form = h("form", { class: "reply" }, field(t("inbox.reply"), text), box, send);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      box.hidden = true;
      if (!text.value.trim()) return;
      send.disabled = true;
      try {
        await post("/conversations/" + encodeURIComponent(id) + "/reply", { text: text.value });
        text.value = "";
        announce(t("inbox.sent"));
        await loadThread(id, list);
      } catch (err) {
        if (err instanceof ApiError && err.status === 422 && err.problem.violations) showViolations(box, err);
        else { replace(box, t("error.generic") + " " + err.message); box.hidden = false; }
      } finally {
        send.disabled = false;
      }
    });
    const tplForm = templateForm(id, list);
    const assignForm = assignControls(id);
    const closeBtn = confirmButton(t("inbox.close"), t("inbox.close_confirm"), async () => {
      await post("/conversations/" + encodeURIComponent(id) + "/close");
      state.convs.delete(id);
      state.open = null;
      drawList();
      replace(threadEl, h("p", { class: "muted center", text: t("inbox.closed") }));
      replace(sideEl);
      announce(t("inbox.closed"));
    }, "danger");
    replace(threadEl,
      h("header", { class: "thread-head" },
        h("h2", { text: t("inbox.customer", { id: shortId(id) }) }), assignForm, closeBtn),
      list, form, tplForm);
    await Promise.all([loadThread(id, list), loadContact(id)]);
    text.focus();
  }

  function templateForm(id, list) {
    if (!state.templates.length) return null;
    const select = h("select", {}, state.templates.map((tp, i) => h("option", { value: String(i), text: tp.name + " (" + tp.language + ")" })));
    const box = violationsBox();
    const form = h("form", { class: "reply-template" }, field(t("inbox.template"), select), box,
      h("button", { type: "submit", text: t("inbox.send_template") }));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const tp = state.templates[Number(select.value)];
      try {
        await post("/conversations/" + encodeURIComponent(id) + "/reply", { template: { name: tp.name, language: { code: tp.language } } });
        announce(t("inbox.sent"));
        await loadThread(id, list);
      } catch (err) {
        if (err instanceof ApiError && err.status === 422 && err.problem.violations) showViolations(box, err);
        else { replace(box, t("error.generic") + " " + err.message); box.hidden = false; }
      }
    });
    return form;
  }

  function assignControls(id) {
    const conv = state.convs.get(id) || {};
    const team = h("input", { type: "text", maxlength: 64, value: conv.assigned_team || "", size: 8 });
    const form = h("form", { class: "assign" },
      h("button", { type: "button", text: t("inbox.assign_me"), onclick: () => assign({ user_id: ctx.me.user_id }) }),
      field(t("inbox.team"), team),
      h("button", { type: "submit", text: t("inbox.assign") }));
    form.addEventListener("submit", (ev) => { ev.preventDefault(); assign({ team: team.value.trim() || null }); });
    async function assign(body) {
      try {
        await post("/conversations/" + encodeURIComponent(id) + "/assign", body);
        announce(t("inbox.assigned"));
        await loadList();
      } catch (err) {
        announce(t("error.generic") + " " + err.message);
      }
    }
    return ctx.me.permissions.includes("conversations:assign") && ctx.me.user_id ? form : null;
  }

  async function loadContact(id) {
    let c;
    try {
      c = await get("/conversations/" + encodeURIComponent(id) + "/contact");
    } catch (err) {
      replace(sideEl, h("h2", { text: t("inbox.contact") }), h("p", { class: "muted", text: err.missing ? t("common.not_available") : err.message }));
      return;
    }
    if (state.open !== id) return;
    replace(sideEl, h("h2", { text: t("inbox.contact") }),
      h("dl", {},
        h("dt", { text: t("contacts.name") }), h("dd", { class: "contact-name", text: c.name || "—" }),
        h("dt", { text: t("contacts.number") }), h("dd", { text: c.number }),
        h("dt", { text: t("contacts.first_seen") }), h("dd", { text: when(c.first_seen_at, lang()) }),
        h("dt", { text: t("contacts.last_inbound") }), h("dd", { text: when(c.last_inbound_at, lang()) }),
        h("dt", { text: t("contacts.opted_out") }), h("dd", { text: c.opted_out ? t("common.yes") : t("common.no") })),
      h("p", { class: "muted small", text: t("inbox.masked_note") }));
  }

  // -- live updates ----------------------------------------------------------------
  function setLive(text, cls) { liveEl.textContent = text; liveEl.className = "live-status " + (cls || ""); }

  function onEvent(name, handler) {
    state.es.addEventListener(name, (ev) => {
      let data;
      try { data = JSON.parse(ev.data); } catch { return; }
      handler(data);
    });
  }

  function connect() {
    if (state.es) state.es.close();
    state.es = new EventSource("/api/v1/events");
    state.es.onopen = () => setLive("● " + t("inbox.live"), "on");
    state.es.onerror = () => setLive("○ " + t("inbox.reconnecting"), "off");
    onEvent("snapshot", (d) => {
      const seen = new Set();
      for (const c of d.conversations || []) {
        seen.add(c.conversation);
        if (!state.convs.has(c.conversation)) loadList();
      }
      for (const id of Array.from(state.convs.keys())) if (!seen.has(id)) state.convs.delete(id);
      drawList();
    });
    onEvent("handoff", async (d) => {
      const known = state.convs.has(d.conversation);
      await loadList();
      const c = state.convs.get(d.conversation);
      if (c && !known) {
        c.fresh = true;
        drawList();
        announce(t("inbox.new_handoff"));
      }
    });
    onEvent("closed", (d) => {
      state.convs.delete(d.conversation);
      drawList();
    });
    onEvent("message", (d) => {
      const c = state.convs.get(d.conversation);
      if (d.conversation === state.open) {
        const list = threadEl.querySelector("ol.messages");
        if (list) loadThread(state.open, list);
      } else if (c) {
        c.unread = (c.unread || 0) + 1;
        drawList();
      }
    });
    onEvent("outbound", (d) => {
      if (d.conversation !== state.open) return;
      const mark = state.outbound.get(d.ref);
      const list = threadEl.querySelector("ol.messages");
      if (!mark) { if (list) loadThread(state.open, list); return; }
      const st = statusOf(d);
      mark.className = "status " + st;
      mark.dataset.status = st;
      mark.title = t("status." + st);
      mark.textContent = " " + MARKS[st] + " " + t("status." + st) + (d.error_code ? " (" + d.error_code + ")" : "");
    });
  }

  function pause() {
    if (state.es) { state.es.close(); state.es = null; }
    const resume = h("button", { type: "button", class: "link", text: t("inbox.resume"), onclick: () => { loadList(); connect(); poke(); } });
    replace(liveEl, "⏸ " + t("inbox.paused") + " ", resume);
    liveEl.className = "live-status off";
  }

  function poke() {
    clearTimeout(state.idleTimer);
    state.idleTimer = setTimeout(pause, IDLE_MS);
  }

  const activity = () => { if (state.es) poke(); };
  for (const type of ["keydown", "pointerdown", "wheel"]) document.addEventListener(type, activity, { passive: true });

  (async () => {
    const tpl = await optional("/templates").catch(() => null);
    state.templates = items(tpl).filter((x) => !x.status || x.status === "APPROVED" || x.usable);
    await loadList();
    connect();
    poke();
  })().catch((err) => setLive(t("error.generic") + " " + err.message, "off"));

  return () => {
    if (state.es) state.es.close();
    clearTimeout(state.idleTimer);
    for (const type of ["keydown", "pointerdown", "wheel"]) document.removeEventListener(type, activity);
  };
}
