// Sign-in (password + TOTP), first-login TOTP enrolment with QR code, and the session list.

import { h, field, replace, when, announce } from "./dom.js";
import { t, lang } from "./i18n.js";
import { get, post, del, setCsrf, ApiError } from "./api.js";

function errorBox() {
  return h("p", { class: "error", role: "alert", hidden: true });
}

function showError(box, text) {
  box.textContent = text;
  box.hidden = !text;
}

export function renderLogin(root, { onSignedIn, langSwitch }) {
  const email = h("input", { type: "email", name: "email", autocomplete: "username", required: true });
  const password = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true });
  const code = h("input", {
    type: "text", name: "code", inputmode: "numeric", autocomplete: "one-time-code",
    required: true, minlength: 6, maxlength: 32, pattern: "[0-9A-Za-z\\-]{6,32}",
  });
  const err = errorBox();
  const submit = h("button", { type: "submit", class: "primary", text: t("login.submit") });
  const form = h("form", { class: "card auth", "aria-labelledby": "login-title" },
    h("h1", { id: "login-title", text: t("login.title") }),
    h("p", { class: "muted", text: t("login.intro") }),
    field(t("login.email"), email),
    field(t("login.password"), password),
    field(t("login.code"), code, t("login.code_hint")),
    err, submit);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    showError(err, "");
    submit.disabled = true;
    try {
      const out = await post("/auth/login", { email: email.value.trim(), password: password.value, code: code.value.trim() }, { quiet401: true });
      setCsrf(out.csrf_token);
      password.value = "";
      if (out.recovery_codes_left !== null && out.recovery_codes_left !== undefined && out.recovery_codes_left <= 3) {
        announce(t("login.few_codes", { n: out.recovery_codes_left }));
      }
      onSignedIn();
    } catch (e) {
      const status = e instanceof ApiError ? e.status : 0;
      showError(err, status === 429 ? t("login.throttled") : status === 401 ? t("login.failed") : t("error.generic") + " " + e.message);
      code.value = "";
      code.focus();
    } finally {
      submit.disabled = false;
    }
  });
  replace(root, h("main", { id: "main", class: "auth-page" }, langSwitch(), form));
  email.focus();
}

// Elements and attributes kept from the server's QR SVG; everything else is dropped.
const SVG_NS = "http://www.w3.org/2000/svg";
const SVG_TAGS = new Set(["svg", "g", "path", "rect", "title", "desc"]);
const SVG_ATTRS = new Set(["width", "height", "viewBox", "d", "fill", "stroke", "class", "x", "y",
  "transform", "stroke-width", "shape-rendering"]);

/** Parse the enrolment QR as XML (never as HTML) and rebuild it from allowed SVG parts only. */
export function safeSvg(text) {
  const doc = new DOMParser().parseFromString(String(text), "image/svg+xml");
  const src = doc.documentElement;
  if (!src || src.localName !== "svg" || doc.getElementsByTagName("parsererror").length) {
    throw new Error("not an SVG image");
  }
  const rebuild = (node) => {
    const el = document.createElementNS(SVG_NS, node.localName);
    for (const attr of Array.from(node.attributes)) {
      if (SVG_ATTRS.has(attr.localName)) el.setAttribute(attr.localName, attr.value);
    }
    if (node.localName === "title" || node.localName === "desc") el.textContent = node.textContent;
    for (const child of Array.from(node.children)) {
      if (SVG_TAGS.has(child.localName) && child.localName !== "svg") el.append(rebuild(child));
    }
    return el;
  };
  const svg = rebuild(src);
  const w = parseFloat(svg.getAttribute("width")), hgt = parseFloat(svg.getAttribute("height"));
  if (!svg.getAttribute("viewBox") && w > 0 && hgt > 0) svg.setAttribute("viewBox", `0 0 ${w} ${hgt}`);
  svg.setAttribute("role", "img");
  return svg;
}

export async function renderEnrol(root, token, { langSwitch }) {
  const main = h("main", { id: "main", class: "auth-page" }, langSwitch());
  replace(root, main);
  let info;
  try {
    info = await get("/auth/enrolment/" + encodeURIComponent(token), { quiet401: true });
  } catch (e) {
    main.append(h("div", { class: "card auth" }, h("h1", { text: t("enrol.title") }),
      h("p", { class: "error", role: "alert", text: t("enrol.invalid") }),
      h("p", {}, h("a", { href: "/", text: t("enrol.to_login") }))));
    return;
  }
  let qr;
  try {
    qr = safeSvg(info.qr_svg);
    qr.setAttribute("aria-label", t("enrol.qr_label"));
  } catch {
    qr = h("p", { class: "error", text: t("enrol.qr_broken") });
  }
  const password = h("input", { type: "password", autocomplete: "new-password", minlength: 12, maxlength: 256 });
  const password2 = h("input", { type: "password", autocomplete: "new-password", minlength: 12, maxlength: 256 });
  const code = h("input", { type: "text", inputmode: "numeric", autocomplete: "one-time-code", required: true, pattern: "[0-9]{6,8}", maxlength: 8 });
  const err = errorBox();
  const uri = h("details", {}, h("summary", { text: t("enrol.manual") }), h("code", { class: "break", text: info.otpauth_uri }));
  const form = h("form", { class: "card auth wide", "aria-labelledby": "enrol-title" },
    h("h1", { id: "enrol-title", text: t("enrol.title") }),
    h("p", { text: t("enrol.for", { email: info.email }) }),
    h("ol", { class: "steps" },
      h("li", { text: t("enrol.step_scan") }),
      h("li", { text: t("enrol.step_code") })),
    h("div", { class: "qr" }, qr), uri,
    info.needs_password ? [field(t("enrol.password"), password, t("enrol.password_hint")), field(t("enrol.password2"), password2)] : null,
    field(t("login.code"), code),
    err,
    h("button", { type: "submit", class: "primary", text: t("enrol.submit") }),
    h("p", { class: "muted", text: t("enrol.expires", { at: when(info.expires_at, lang()) }) }));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    showError(err, "");
    if (info.needs_password && password.value !== password2.value) {
      showError(err, t("enrol.mismatch"));
      return;
    }
    try {
      const out = await post("/auth/enrolment/" + encodeURIComponent(token), { password: password.value, code: code.value.trim() }, { quiet401: true });
      password.value = password2.value = "";
      showCodes(main, out.recovery_codes);
    } catch (e) {
      showError(err, (e instanceof ApiError && e.problem.detail) ? e.problem.detail : t("enrol.failed"));
    }
  });
  main.append(form);
}

function showCodes(main, codes) {
  const list = h("ul", { class: "codes" }, codes.map((c) => h("li", {}, h("code", { text: c }))));
  const done = h("a", { href: "/", class: "button primary", text: t("enrol.done") });
  replace(main, h("div", { class: "card auth wide", role: "region", "aria-labelledby": "codes-title" },
    h("h1", { id: "codes-title", text: t("enrol.codes_title") }),
    h("p", { class: "warn", text: t("enrol.codes_once") }),
    list, done));
  history.replaceState(null, "", "/enrol/done");
  done.focus();
}

export async function renderSessions(main) {
  const table = h("tbody");
  const box = h("section", { class: "card", "aria-labelledby": "sess-title" },
    h("h2", { id: "sess-title", text: t("sessions.title") }),
    h("table", {}, h("thead", {}, h("tr", {},
      [t("sessions.started"), t("sessions.last_seen"), t("sessions.expires"), t("sessions.client"), ""].map((x) => h("th", { scope: "col", text: x })))),
      table));
  main.append(box);
  const load = async () => {
    const sessions = await get("/auth/sessions");
    replace(table, sessions.map((row) => h("tr", {},
      h("td", { text: when(row.created_at, lang()) }),
      h("td", { text: when(row.last_seen_at, lang()) }),
      h("td", { text: when(row.idle_expires_at, lang()) }),
      h("td", { text: row.client }),
      h("td", {}, row.current ? h("span", { class: "badge ok", text: t("sessions.current") }) :
        h("button", { type: "button", text: t("sessions.revoke"), onclick: async () => { await del("/auth/sessions/" + row.id); announce(t("sessions.revoked")); load(); } })))));
  };
  await load();
}
