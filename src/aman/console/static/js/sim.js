// The demo's simulated customer phone: talk to the bots through the real signed-webhook path.

import { h, replace, field } from "./dom.js";
import { lang, setLang } from "./i18n.js";

const T = {
  id: { title: "Ponsel pelanggan (simulasi)", intro: "Mode demo: pesan dari sini dikirim sebagai webhook bertanda tangan, persis seperti dari WhatsApp.",
    number: "Nomor bisnis", me: "Nomor Anda", name: "Nama Anda", message: "Pesan", send: "Kirim", menu: "Lihat pilihan",
    empty: "Ketik \"halo\" untuk mulai, atau \"agent\" untuk bicara dengan CS.", failed: "Gagal mengirim:", you: "Anda", bot: "Bot", other: "English" },
  en: { title: "Customer phone (simulated)", intro: "Demo mode: messages from here go in as signed webhooks, exactly as from WhatsApp.",
    number: "Business number", me: "Your number", name: "Your name", message: "Message", send: "Send", menu: "See options",
    empty: "Type \"hi\" to start, or \"agent\" to talk to a human.", failed: "Could not send:", you: "You", bot: "Bot", other: "Bahasa Indonesia" },
};
const tr = (k) => T[lang()][k];

const root = document.getElementById("app");
const state = { since: 0, timer: 0, numbers: [] };

function myNumber() {
  let n = sessionStorage.getItem("aman.sim.number");
  if (!n) {
    n = "62812" + String(Math.floor(Math.random() * 1e8)).padStart(8, "0");
    sessionStorage.setItem("aman.sim.number", n);
  }
  return n;
}

async function call(method, path, body) {
  const init = { method, headers: { Accept: "application/json" }, cache: "no-store" };
  if (body) { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
  const resp = await fetch("/simulator/api/" + path, init);
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new Error(data.error || "HTTP " + resp.status);
  return data;
}

function draw() {
  const numberSel = h("select", { id: "sim-number" }, state.numbers.map((n) => h("option", { value: n.phone_number_id, text: n.label })));
  const me = h("input", { id: "sim-me", type: "tel", value: myNumber(), pattern: "[1-9][0-9]{7,14}", maxlength: 15 });
  const name = h("input", { id: "sim-name", type: "text", value: sessionStorage.getItem("aman.sim.name") || "Budi", maxlength: 60 });
  const chat = h("ol", { class: "sim-chat", "aria-live": "polite", "aria-label": tr("title") }, h("li", { class: "muted center", text: tr("empty") }));
  const text = h("input", { id: "sim-text", type: "text", maxlength: 4096, autocomplete: "off", required: true });
  const err = h("p", { class: "error", role: "alert", hidden: true });
  const form = h("form", { class: "sim-compose" }, h("label", { for: "sim-text", class: "sr-only", text: tr("message") }), text,
    h("button", { type: "submit", class: "primary", text: tr("send") }));

  const send = async (body, shown) => {
    err.hidden = true;
    chat.querySelector(".center")?.remove();
    chat.append(h("li", { class: "bubble out" }, h("span", { class: "who sr-only", text: tr("you") + ": " }), shown));
    chat.lastElementChild.scrollIntoView({ block: "end" });
    sessionStorage.setItem("aman.sim.number", me.value);
    sessionStorage.setItem("aman.sim.name", name.value);
    try {
      await call("POST", "send", { from: me.value, to: numberSel.value, name: name.value || undefined, ...body });
    } catch (e) {
      err.textContent = tr("failed") + " " + e.message;
      err.hidden = false;
    }
  };
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (!text.value.trim()) return;
    send({ text: text.value }, text.value);
    text.value = "";
  });
  me.addEventListener("change", () => { state.since = 0; replace(chat); });

  const botMessage = (m) => {
    const body = m.body || {};
    const li = h("li", { class: "bubble in" }, h("span", { class: "who sr-only", text: tr("bot") + ": " }));
    if (m.type === "text") li.append(h("p", { text: (body.text && body.text.body) || "" }));
    else if (m.type === "interactive") {
      const inter = body.interactive || {};
      if (inter.header && inter.header.text) li.append(h("p", { class: "b-head", text: inter.header.text }));
      li.append(h("p", { text: (inter.body && inter.body.text) || "" }));
      if (inter.footer && inter.footer.text) li.append(h("p", { class: "b-foot", text: inter.footer.text }));
      const action = inter.action || {};
      if (inter.type === "button") {
        li.append(h("div", { class: "b-buttons" }, (action.buttons || []).map((b) => h("button", {
          type: "button", class: "b-button", text: b.reply.title,
          onclick: () => send({ reply_id: b.reply.id, title: b.reply.title, kind: "button" }, b.reply.title),
        }))));
      } else if (inter.type === "list") {
        li.append(h("details", { class: "b-list" }, h("summary", { text: action.button || tr("menu") }),
          (action.sections || []).map((sec) => h("div", {}, sec.title ? h("p", { class: "b-section", text: sec.title }) : null,
            (sec.rows || []).map((r) => h("button", {
              type: "button", class: "b-row", onclick: () => send({ reply_id: r.id, title: r.title, kind: "list" }, r.title),
            }, h("span", { text: r.title }), r.description ? h("small", { text: r.description }) : null))))));
      }
    } else if (m.type === "template") {
      li.append(h("p", { text: "[template " + ((body.template && body.template.name) || "") + "]" }));
    } else {
      li.append(h("p", { class: "muted", text: "[" + m.type + "]" }));
    }
    return li;
  };

  const poll = async () => {
    try {
      const msgs = await call("GET", `messages?to=${encodeURIComponent(me.value)}&since=${state.since}`);
      for (const m of msgs) {
        state.since = Math.max(state.since, Number(m.index) + 1);
        chat.querySelector(".center")?.remove();
        chat.append(botMessage(m));
        chat.lastElementChild.scrollIntoView({ block: "end" });
      }
    } catch { /* the next poll retries */ }
    state.timer = setTimeout(poll, 700);
  };

  replace(root, h("main", { id: "main", class: "sim" },
    h("header", { class: "sim-head" }, h("h1", { text: tr("title") }),
      h("button", { type: "button", class: "lang", text: tr("other"), onclick: () => { setLang(lang() === "id" ? "en" : "id"); clearTimeout(state.timer); draw(); } })),
    h("p", { class: "muted small", text: tr("intro") }),
    h("div", { class: "sim-settings" }, field(tr("number"), numberSel), field(tr("me"), me), field(tr("name"), name)),
    h("div", { class: "phone big" }, h("div", { class: "phone-bar", text: "WhatsApp" }), h("div", { class: "phone-screen" }, chat), err, form)));
  document.documentElement.lang = lang();
  state.since = 0;
  poll();
  text.focus();
}

(async () => {
  state.numbers = await call("GET", "numbers").catch(() => []);
  draw();
})();

