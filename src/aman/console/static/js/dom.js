// Building DOM safely: every text goes in through textContent, never through HTML parsing.

const SVG_NS = "http://www.w3.org/2000/svg";

function apply(el, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") el.textContent = String(value);
    else if (key === "class") el.setAttribute("class", Array.isArray(value) ? value.filter(Boolean).join(" ") : value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "value" && "value" in el) el.value = value;
    else if (key === "checked" || key === "disabled" || key === "selected" || key === "hidden") el[key] = Boolean(value);
    else if (/^on/i.test(key) || key === "style" || key === "srcdoc") throw new Error("refused attribute " + key);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** h("button", {class: "x", onclick: f}, "label", child...) */
export function h(tag, attrs, ...children) {
  return append(apply(document.createElement(tag), attrs), children);
}

/** The same for SVG elements (charts, flow diagrams). */
export function s(tag, attrs, ...children) {
  return append(apply(document.createElementNS(SVG_NS, tag), attrs), children);
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

export function replace(el, ...children) {
  return append(clear(el), children);
}

let uid = 0;
/** A labelled form control: <label for=id>text</label> + control with that id. */
export function field(label, control, hint) {
  if (!control.id) control.id = "f" + (++uid);
  const parts = [h("label", { for: control.id, text: label }), control];
  if (hint) {
    const hid = control.id + "-hint";
    control.setAttribute("aria-describedby", hid);
    parts.push(h("small", { id: hid, class: "hint", text: hint }));
  }
  return h("div", { class: "field" }, parts);
}

export function when(ts, lang) {
  if (ts === null || ts === undefined) return "—";
  const d = new Date(ts * 1000);
  return d.toLocaleString(lang === "id" ? "id-ID" : "en-GB", {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
  });
}

export function ago(ts, lang) {
  if (!ts) return "—";
  const secs = Math.max(0, Date.now() / 1000 - ts);
  const fmt = new Intl.RelativeTimeFormat(lang === "id" ? "id" : "en", { numeric: "auto" });
  if (secs < 60) return fmt.format(-Math.round(secs), "second");
  if (secs < 3600) return fmt.format(-Math.round(secs / 60), "minute");
  if (secs < 86400) return fmt.format(-Math.round(secs / 3600), "hour");
  return fmt.format(-Math.round(secs / 86400), "day");
}

/** Show a number masked unless it already is: keep the first 2 and last 2 digits. */
export function maskNumber(value) {
  const text = String(value ?? "");
  if (text.includes("*")) return text;
  const digits = text.replace(/\D/g, "");
  if (digits.length < 7) return "****";
  return digits.slice(0, 2) + "*".repeat(digits.length - 4) + digits.slice(-2);
}

export function announce(message) {
  const region = document.getElementById("live");
  if (region) {
    region.textContent = "";
    setTimeout(() => { region.textContent = message; }, 30);
  }
}

/** A button that asks for a second press (no modal dialog) before running ``action``. */
export function confirmButton(label, again, action, cls) {
  let armed = 0;
  const btn = h("button", { type: "button", class: cls || "", text: label });
  btn.addEventListener("click", async () => {
    if (!armed) {
      btn.textContent = again;
      btn.classList.add("armed");
      armed = setTimeout(() => { armed = 0; btn.textContent = label; btn.classList.remove("armed"); }, 5000);
      return;
    }
    clearTimeout(armed);
    armed = 0;
    btn.disabled = true;
    try { await action(); } finally { btn.disabled = false; btn.textContent = label; btn.classList.remove("armed"); }
  });
  return btn;
}
