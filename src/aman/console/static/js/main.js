// The console's entry point: sign-in state, navigation between screens, language switch.

import { h, replace, announce } from "./dom.js";
import { t, lang, setLang } from "./i18n.js";
import { get, post, setCsrf, hasCsrf, whenUnauthorized } from "./api.js";
import { renderLogin, renderEnrol, renderSessions } from "./auth.js";
import { renderInbox } from "./inbox.js";
import { renderContacts } from "./contacts.js";
import { renderBroadcasts } from "./broadcasts.js";
import { renderFlows } from "./flows.js";
import { renderAnalytics } from "./analytics.js";
import { renderSecurity } from "./security.js";

const root = document.getElementById("app");

const SCREENS = [
  { path: "inbox", key: "nav.inbox", needs: ["conversations:list"], render: renderInbox },
  { path: "contacts", key: "nav.contacts", needs: ["contacts:read"], render: renderContacts },
  { path: "broadcasts", key: "nav.broadcasts", needs: ["campaigns:write"], render: renderBroadcasts },
  { path: "flows", key: "nav.flows", needs: ["analytics:read"], render: renderFlows },
  { path: "analytics", key: "nav.analytics", needs: ["analytics:read"], render: renderAnalytics },
  { path: "security", key: "nav.security", needs: ["audit:read", "users:manage", "tokens:manage"], render: renderSecurity },
  { path: "account", key: "nav.account", needs: [], render: (main) => { replace(main, h("h1", { text: t("nav.account") })); return renderSessions(main); } },
];

let me = null;
let cleanup = null;

function langSwitch() {
  const other = lang() === "id" ? "en" : "id";
  return h("button", {
    type: "button", class: "lang", lang: other, "aria-label": t("lang.switch"),
    text: other === "en" ? "English" : "Bahasa Indonesia",
    onclick: () => { setLang(other); start(); },
  });
}

function allowed(screen) {
  return !screen.needs.length || screen.needs.some((p) => me.permissions.includes(p));
}

function current() {
  const path = (location.hash || "").replace(/^#\/?/, "").split("?")[0];
  const screens = SCREENS.filter(allowed);
  return screens.find((sc) => sc.path === path) || screens[0];
}

async function show() {
  if (cleanup) { try { cleanup(); } catch { /* screen already gone */ } cleanup = null; }
  const screen = current();
  for (const a of document.querySelectorAll("nav.main a")) {
    if (a.dataset.path === screen.path) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const main = document.getElementById("main");
  replace(main, h("p", { class: "muted", text: t("common.loading") }));
  document.title = t(screen.key) + " · aman";
  try {
    const result = await screen.render(main, { me });
    if (typeof result === "function") cleanup = result;
  } catch (err) {
    replace(main, h("h1", { text: t(screen.key) }), h("p", { class: "error", role: "alert", text: t("error.generic") + " " + (err && err.message || err) }));
  }
}

async function signOut() {
  try { await post("/auth/logout"); } catch { /* the session may already be gone */ }
  setCsrf(null);
  me = null;
  if (cleanup) cleanup();
  start();
}

function shell() {
  const nav = h("nav", { class: "main", "aria-label": t("nav.label") },
    h("ul", {}, SCREENS.filter(allowed).map((sc) => h("li", {}, h("a", { href: "#/" + sc.path, "data-path": sc.path, text: t(sc.key) })))));
  const who = me.kind === "user" ? t("header.user", { id: me.user_id, role: t("role." + (me.roles[0] || ""), null, me.roles[0] || "") }) : me.principal;
  replace(root,
    h("a", { class: "skip", href: "#main", text: t("common.skip") }),
    h("header", { class: "top" },
      h("a", { class: "brand", href: "#/", "aria-label": "aman" }, h("span", { class: "logo", "aria-hidden": "true", text: "◆" }), " aman"),
      nav,
      h("div", { class: "who" }, h("span", { class: "muted small", text: who }), langSwitch(),
        h("button", { type: "button", class: "signout", text: t("header.signout"), onclick: signOut }))),
    h("main", { id: "main", tabindex: "-1" }));
  if (!hasCsrf()) announce(t("header.csrf_missing"));
}

async function start() {
  document.documentElement.lang = lang();
  if (cleanup) { cleanup(); cleanup = null; }
  const path = location.pathname;
  if (path.startsWith("/enrol/") && path !== "/enrol/done") {
    await renderEnrol(root, decodeURIComponent(path.slice("/enrol/".length)), { langSwitch });
    return;
  }
  try {
    const who = await get("/auth/me", { quiet401: true });
    me = { ...who, user_id: who.kind === "user" ? Number(String(who.principal).split(":")[1]) : null };
  } catch {
    me = null;
  }
  if (!me || !hasCsrf()) {
    // No CSRF token in this tab (a new tab, or signed out): sign in again for this tab.
    renderLogin(root, { onSignedIn: start, langSwitch });
    return;
  }
  if (path !== "/") history.replaceState(null, "", "/" + location.hash);
  shell();
  await show();
}

whenUnauthorized(() => {
  if (me) { me = null; setCsrf(null); if (cleanup) cleanup(); cleanup = null; renderLogin(root, { onSignedIn: start, langSwitch }); announce(t("login.expired")); }
});
window.addEventListener("hashchange", () => { if (me) show(); });
start();
