// The API as the pages use it: JSON over fetch with the caller's bearer token, errors as ApiError with the
// server's stable code (docs/api.md, "Errors"). The token lives in sessionStorage: it dies with the tab.

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details || [];
  }
}

const KEY = "evalroom.token";

export function token() {
  return sessionStorage.getItem(KEY);
}

export function setToken(value) {
  if (value) sessionStorage.setItem(KEY, value);
  else sessionStorage.removeItem(KEY);
}

export async function api(path, { method = "GET", body, raw, type } = {}) {
  const response = await request(path, { method, body, raw, type });
  return response.status === 204 ? null : response.json();
}

/** A document's bytes and the hash the coordinator states for them (X-Content-SHA256). */
export async function apiBytes(path) {
  const response = await request(path, {});
  return { bytes: new Uint8Array(await response.arrayBuffer()), sha256: response.headers.get("X-Content-SHA256") };
}

async function request(path, { method = "GET", body, raw, type }) {
  // `body` goes as JSON; `raw` (bytes) as is, with its content `type`.
  const headers = { Accept: "application/json" };
  const t = token();
  if (t) headers.Authorization = `Bearer ${t}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (raw !== undefined) headers["Content-Type"] = type;
  let response;
  try {
    response = await fetch(`/api/v1${path}`, {
      method, headers, body: raw !== undefined ? raw : body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new ApiError(0, "network", String(err));
  }
  if (!response.ok) {
    const data = await response.json().catch(() => null);
    const e = (data && data.error) || {};
    throw new ApiError(response.status, e.code || "http_" + response.status, e.message || response.statusText, e.details);
  }
  return response;
}

/** A page's start: with a token kept in this tab, carry on with it; without one (or a dead one), log in. */
export function resumeOrLogin(start, loginSection) {
  if (!token()) {
    loginSection.hidden = false;
    return;
  }
  start().catch(() => {
    setToken(null);
    loginSection.hidden = false;
  });
}
