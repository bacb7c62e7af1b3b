// The REST API client: same-origin cookie session, CSRF token on unsafe methods, problem documents.

const BASE = "/api/v1";
const CSRF_KEY = "aman.csrf";
const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || "HTTP " + status);
    this.status = status;
    this.problem = problem || {};
  }
  get missing() { return this.status === 404; }
}

export function setCsrf(token) {
  if (token) sessionStorage.setItem(CSRF_KEY, token);
  else sessionStorage.removeItem(CSRF_KEY);
}

export function hasCsrf() { return Boolean(sessionStorage.getItem(CSRF_KEY)); }

let onUnauthorized = () => {};
export function whenUnauthorized(fn) { onUnauthorized = fn; }

/** ``raw``: a body sent as is with its media type, e.g. {body: file, type: "text/csv"}. */
export async function api(method, path, body, { raw, quiet401 } = {}) {
  const headers = { Accept: "application/json, application/problem+json" };
  const init = { method, headers, credentials: "same-origin", cache: "no-store" };
  if (!SAFE.has(method)) {
    const csrf = sessionStorage.getItem(CSRF_KEY);
    if (csrf) headers["X-CSRF-Token"] = csrf;
  }
  if (raw) {
    headers["Content-Type"] = raw.type;
    init.body = raw.body;
  }
  else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(BASE + path, init);
  } catch (err) {
    throw new ApiError(0, { title: "network", detail: String(err && err.message || err) });
  }
  const type = resp.headers.get("content-type") || "";
  const data = type.includes("json") ? await resp.json().catch(() => null) : null;
  if (resp.status === 401 && !quiet401) onUnauthorized();
  if (!resp.ok) throw new ApiError(resp.status, data);
  return data;
}

export const get = (path, opts) => api("GET", path, undefined, opts);
export const post = (path, body, opts) => api("POST", path, body, opts);
export const put = (path, body) => api("PUT", path, body);
export const del = (path) => api("DELETE", path);

/** GET that answers null when the endpoint does not exist (404): the screen says "not available". */
export async function optional(path) {
  try {
    return await get(path);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return null;
    throw err;
  }
}

/** Items of a list answer, whether it is a bare list or a page {items: [...]}. */
export function items(data) {
  if (Array.isArray(data)) return data;
  if (data && Array.isArray(data.items)) return data.items;
  return [];
}
