// Security: alerts, fraud reports, the audit ledger (verification, proof viewer), users, API tokens,
// campaign settings (quiet hours, messaging tier, frequency cap).

import { h, replace, field, when, announce, confirmButton } from "./dom.js";
import { t, lang } from "./i18n.js";
import { get, post, put, del, items, ApiError } from "./api.js";
import { unavailable, errorText } from "./contacts.js";

const hex = (bytes) => Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
const unhex = (text) => new Uint8Array(text.match(/../g).map((x) => parseInt(x, 16)));

async function nodeHash(left, right) {
  const buf = new Uint8Array(1 + left.length + right.length);
  buf[0] = 1;
  buf.set(left, 1);
  buf.set(right, 1 + left.length);
  return new Uint8Array(await crypto.subtle.digest("SHA-256", buf));
}

/** RFC 9162 §2.1.3.2: recompute the root from a leaf hash and its audit path, in the browser. */
export async function verifyInclusion(index, size, leafHex, proofHex, rootHex) {
  if (index >= size) return false;
  let fn = index, sn = size - 1, r = unhex(leafHex);
  for (const p of proofHex.map(unhex)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      if (fn % 2 === 0) while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
    } else {
      r = await nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && hex(r) === rootHex;
}

function table(headers, rows) {
  const body = rows instanceof HTMLTableSectionElement ? rows : h("tbody", {}, rows);
  return h("div", { class: "table-wrap" }, h("table", {}, h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col", text: x })))), body));
}

async function optionalSection(path, title, build) {
  const box = h("section", { class: "card" }, h("h2", { text: title }));
  try {
    build(box, await get(path));
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return unavailable("", title);
    if (err instanceof ApiError && err.status === 403) box.append(h("p", { class: "muted", text: t("common.forbidden") }));
    else box.append(h("p", { class: "error", text: errorText(err) }));
  }
  return box;
}

function alertsSection() {
  return optionalSection("/alerts", t("security.alerts"), function build(box, data) {
    const rows = items(data);
    const act = async (id, verb) => {
      try { await post(`/alerts/${encodeURIComponent(id)}/${verb}`); announce(t("security.done_" + verb)); }
      catch (err) { announce(errorText(err)); }
      const fresh = await get("/alerts");
      replace(box, h("h2", { text: t("security.alerts") }));
      build(box, fresh);
    };
    const body = rows.length ? rows.map((a) => h("tr", {},
      h("td", {}, h("span", { class: "badge sev-" + (a.severity || "info"), text: a.severity || "info" })),
      h("td", {}, h("strong", { text: a.kind || "" }), " ", a.subject || "", a.count > 1 ? " ×" + a.count : ""),
      h("td", { text: t("astatus." + a.status, null, a.status || "") }),
      h("td", { text: when(a.last_seen || a.first_seen, lang()) }),
      h("td", {},
        a.status === "open" ? h("button", { type: "button", text: t("security.ack"), onclick: () => act(a.id, "ack") }) : null, " ",
        a.status !== "resolved" ? h("button", { type: "button", text: t("security.resolve"), onclick: () => act(a.id, "resolve") }) : null))) :
      [h("tr", {}, h("td", { colspan: 5, class: "muted", text: t("security.no_alerts") }))];
    box.append(table([t("security.severity"), t("security.alert"), t("security.state"), t("security.when"), ""], body));
  });
}

function fraudSection() {
  return optionalSection("/fraud-reports", t("security.fraud"), function build(box, data) {
    const rows = items(data);
    const mark = async (id, status) => {
      try { await post(`/fraud-reports/${encodeURIComponent(id)}/status`, { status }); announce(t("security.done_review")); }
      catch (err) { announce(errorText(err)); }
      const fresh = await get("/fraud-reports");
      replace(box, h("h2", { text: t("security.fraud") }));
      build(box, fresh);
    };
    const body = rows.length ? rows.map((r) => h("tr", {},
      h("td", { text: when(r.created_at, lang()) }),
      h("td", { class: "report-text", text: r.text || "" }),
      h("td", { text: t("astatus." + r.status, null, r.status || "") }),
      h("td", {},
        r.status === "open" ? h("button", { type: "button", text: t("security.reviewed"), onclick: () => mark(r.id, "reviewed") }) : null, " ",
        r.status !== "closed" ? h("button", { type: "button", text: t("security.close_report"), onclick: () => mark(r.id, "closed") }) : null))) :
      [h("tr", {}, h("td", { colspan: 4, class: "muted", text: t("security.no_fraud") }))];
    box.append(table([t("security.when"), t("security.report"), t("security.state"), ""], body));
  });
}

async function auditSection() {
  const box = h("section", { class: "card", "aria-labelledby": "audit-title" }, h("h2", { id: "audit-title", text: t("security.audit") }));
  let verify, page, head;
  try {
    [verify, page, head] = await Promise.all([get("/audit/verify"), get("/audit/entries?limit=50"), get("/audit/head")]);
  } catch (err) {
    box.append(h("p", { class: "muted", text: err.status === 403 ? t("common.forbidden") : errorText(err) }));
    return box;
  }
  const status = verify.ok
    ? h("p", { class: "badge ok big", "data-verified": "true", text: "✓ " + t("security.ledger_ok", { n: verify.entries, heads: verify.heads }) })
    : h("p", { class: "badge bad big", "data-verified": "false", text: "✗ " + t("security.ledger_bad", { seq: verify.first_bad_seq ?? "?" }) + " " + (verify.problem || "") });
  const proofBox = h("div", { class: "proof", "aria-live": "polite" });
  const showProof = async (entry) => {
    const size = head.head ? head.head.size : 0;
    try {
      const p = await get(`/audit/proofs/inclusion?seq=${entry.seq}&size=${size}`);
      const ok = await verifyInclusion(entry.seq, size, p.leaf_hash, p.proof, p.root);
      replace(proofBox, h("h3", { text: t("security.proof_for", { seq: entry.seq }) }),
        h("p", { class: ok && head.head.root === p.root ? "ok" : "error", text: ok ? t("security.proof_ok") : t("security.proof_bad") }),
        h("dl", { class: "hashes" },
          h("dt", { text: t("security.leaf") }), h("dd", {}, h("code", { text: p.leaf_hash })),
          h("dt", { text: t("security.path", { n: p.proof.length }) }), h("dd", {}, h("ol", {}, p.proof.map((x) => h("li", {}, h("code", { text: x }))))),
          h("dt", { text: t("security.root", { size }) }), h("dd", {}, h("code", { text: p.root })),
          h("dt", { text: t("security.signed_head") }), h("dd", {}, h("code", { text: head.key_id + " · " + when(head.head.ts, lang()) }))));
    } catch (err) {
      replace(proofBox, h("p", { class: "error", text: errorText(err) }));
    }
  };
  const rows = items(page).slice().reverse().map((e) => h("tr", {},
    h("td", { text: String(e.seq) }), h("td", { text: when(e.ts, lang()) }), h("td", { text: e.actor }),
    h("td", {}, h("code", { text: e.action })), h("td", { text: e.target }),
    h("td", {}, h("button", { type: "button", class: "link", text: t("security.proof"), onclick: () => showProof(e), disabled: !head.head || e.seq >= head.head.size }))));
  box.append(status, table(["#", t("security.when"), t("security.actor"), t("security.action"), t("security.target"), ""], rows), proofBox);
  return box;
}

async function usersSection(me) {
  return optionalSection("/users", t("security.users"), (box, data) => {
    const body = h("tbody");
    const draw = (users) => replace(body, users.map((u) => h("tr", {},
      h("td", { text: u.email }), h("td", { text: t("role." + u.role, null, u.role) }), h("td", { text: u.team || "—" }),
      h("td", { text: t("ustatus." + u.status, null, u.status) }), h("td", { text: u.has_totp ? "✓" : "—" }),
      h("td", { text: when(u.last_login_at, lang()) }),
      h("td", {}, u.status !== "disabled" && u.id !== me.user_id ? confirmButton(t("security.disable"), t("security.disable_confirm"), async () => {
        try { await post(`/users/${u.id}/disable`); announce(t("security.disabled")); draw(await get("/users")); }
        catch (err) { announce(errorText(err)); }
      }, "danger") : null))));
    draw(items(data));
    const email = h("input", { type: "email", required: true, maxlength: 254 });
    const role = h("select", {}, ["agent", "analyst", "admin"].map((r) => h("option", { value: r, text: t("role." + r) })));
    const team = h("input", { type: "text", maxlength: 64 });
    const out = h("div", { role: "status" });
    const form = h("form", { class: "inline-form", "aria-labelledby": "invite-title" }, h("h3", { id: "invite-title", text: t("security.invite") }),
      field(t("security.email"), email), field(t("security.role"), role), field(t("inbox.team"), team),
      h("button", { type: "submit", class: "primary", text: t("security.invite_btn") }), out);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        const inv = await post("/users", { email: email.value.trim(), role: role.value, team: team.value.trim() || null });
        const link = location.origin + "/enrol/" + inv.enrolment_token;
        replace(out, h("p", { class: "warn", text: t("security.invite_once") }), h("code", { class: "break secret", text: link }));
        email.value = team.value = "";
        draw(await get("/users"));
      } catch (err) {
        replace(out, h("p", { class: "error", text: errorText(err) }));
      }
    });
    box.append(table([t("security.email"), t("security.role"), t("inbox.team"), t("security.state"), "TOTP", t("security.last_login"), ""], body), form);
  });
}

const SCOPES = ["messages:read", "messages:send", "contacts:read", "contacts:write", "campaigns:write", "analytics:read", "audit:read", "admin"];

async function tokensSection() {
  return optionalSection("/tokens", t("security.tokens"), (box, data) => {
    const body = h("tbody");
    const draw = (tokens) => replace(body, tokens.map((tk) => h("tr", {},
      h("td", { text: tk.name }), h("td", {}, h("code", { text: tk.hint })), h("td", { text: tk.scopes.join(", ") }),
      h("td", { text: when(tk.expires_at, lang()) }), h("td", { text: when(tk.last_used_at, lang()) }),
      h("td", {}, tk.revoked_at ? t("security.revoked") : confirmButton(t("security.revoke"), t("security.revoke_confirm"), async () => {
        try { await del(`/tokens/${tk.id}`); announce(t("security.revoked")); draw(await get("/tokens")); }
        catch (err) { announce(errorText(err)); }
      }, "danger")))));
    draw(items(data));
    const name = h("input", { type: "text", required: true, maxlength: 64 });
    const boxes = SCOPES.map((sc) => h("input", { type: "checkbox", value: sc }));
    const days = h("input", { type: "number", min: 1, max: 3660, value: "90" });
    const out = h("div", { role: "status" });
    const form = h("form", { class: "inline-form", "aria-labelledby": "tok-title" }, h("h3", { id: "tok-title", text: t("security.new_token") }),
      field(t("security.token_name"), name),
      h("fieldset", {}, h("legend", { text: t("security.scopes") }), boxes.map((b) => h("label", { class: "check" }, b, " " + b.value))),
      field(t("security.days"), days),
      h("button", { type: "submit", class: "primary", text: t("security.create_token") }), out);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const scopes = boxes.filter((b) => b.checked).map((b) => b.value);
      if (!scopes.length) { replace(out, h("p", { class: "error", text: t("security.pick_scope") })); return; }
      try {
        const made = await post("/tokens", { name: name.value.trim(), scopes, expires_in_days: Number(days.value) || null });
        replace(out, h("p", { class: "warn", text: t("security.token_once") }), h("code", { class: "break secret", text: made.secret }));
        name.value = "";
        draw(await get("/tokens"));
      } catch (err) {
        replace(out, h("p", { class: "error", text: errorText(err) }));
      }
    });
    box.append(table([t("security.token_name"), t("security.hint"), t("security.scopes"), t("security.expires"), t("security.last_used"), ""], body), form);
  });
}

const TIERS = ["250", "2000", "10000", "100000", ""];

/** Broadcast policy (tenant:manage): time zone, quiet hours, messaging tier, frequency cap. */
function campaignSettingsSection() {
  return optionalSection("/campaign-settings", t("settings.campaigns"), (box, cur) => {
    const [start, end] = (cur.quiet_hours || "21:00-08:00").split("-");
    const tz = h("input", { type: "text", required: true, maxlength: 64, value: cur.tz, autocomplete: "off" });
    const quietOn = h("input", { type: "checkbox", checked: cur.quiet_hours !== null });
    const from = h("input", { type: "time", required: true, value: start });
    const to = h("input", { type: "time", required: true, value: end });
    const tier = h("select", {}, TIERS.map((v) => h("option", { value: v, text: v ? Number(v).toLocaleString(lang()) : t("settings.unlimited"), selected: String(cur.tier_limit ?? "") === v })));
    const cap = h("input", { type: "number", min: 0, max: 2160, step: "any", required: true, value: String(cur.frequency_cap_hours) });
    const msg = h("p", { class: "form-msg", role: "status" });
    const sync = () => { from.disabled = to.disabled = !quietOn.checked; };
    quietOn.addEventListener("change", sync);
    sync();
    const form = h("form", { class: "inline-form campaign-settings" },
      field(t("settings.tz"), tz, t("settings.tz_hint")),
      h("div", { class: "field" }, h("label", {}, quietOn, " ", t("settings.quiet_on"))),
      field(t("settings.quiet_from"), from), field(t("settings.quiet_to"), to),
      field(t("settings.tier"), tier, t("settings.tier_hint")),
      field(t("settings.cap"), cap, t("settings.cap_hint")),
      h("button", { type: "submit", class: "primary", text: t("common.save") }), msg);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        const out = await put("/campaign-settings", {
          tz: tz.value.trim(), quiet_hours: quietOn.checked ? from.value + "-" + to.value : "off",
          tier_limit: tier.value ? Number(tier.value) : null, frequency_cap_hours: Number(cap.value),
        });
        tz.value = out.tz;
        msg.textContent = t("settings.saved");
        msg.className = "form-msg ok";
      } catch (err) {
        msg.textContent = errorText(err);
        msg.className = "form-msg error";
      }
    });
    box.append(form);
  });
}

export async function renderSecurity(main, ctx) {
  replace(main, h("h1", { text: t("nav.security") }));
  const perms = new Set(ctx.me.permissions);
  const parts = [alertsSection(), fraudSection()];
  if (perms.has("audit:read")) parts.push(auditSection());
  if (perms.has("users:manage")) parts.push(usersSection(ctx.me));
  if (perms.has("tokens:manage")) parts.push(tokensSection());
  if (perms.has("tenant:manage")) parts.push(campaignSettingsSection());
  for (const part of await Promise.all(parts)) main.append(part);
}
