// Signing at the seat (docs/signing.md, "Signing from the browser"): the page fetches the document from the
// coordinator and shows its SHA-256, computed here from the bytes; the second factor (a one-time code, or a
// WebAuthn assertion over the coordinator's challenge for that hash, js/webauthn.js) authorises that hash; the
// seat's local signer (evalroom seat-signer, on loopback: the key never leaves the seat) signs the same bytes
// with the PIN; the signature goes back to the coordinator, which checks it all again.

import { api, apiBytes } from "./api.js";

export class SignerError extends Error {
  constructor(code, message, details) {
    super(message);
    this.code = code;
    this.details = details || [];
  }
}

let signerUrl = null;

async function signerBase() {
  signerUrl ??= (await api("/web/config")).seat_signer_url;
  return signerUrl;
}

/** Whether the seat's signer answers (it runs beside the browser, with the UKey plugged in). */
export async function signerStatus() {
  try {
    const response = await fetch(`${await signerBase()}/v1/status`);
    return response.ok ? await response.json() : null;
  } catch {
    return null;
  }
}

async function signLocally(request) {
  let response;
  try {
    response = await fetch(`${await signerBase()}/v1/sign`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(request),
    });
  } catch (err) {
    throw new SignerError("signer_unreachable", String(err));
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const e = data.error || {};
    throw new SignerError(e.code || "signer_error", e.message || response.statusText, e.details);
  }
  return data.signature;
}

export async function sha256Hex(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function base64(bytes) {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

function unbase64(text) {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

/**
 * One document to sign for the member of `sessionId`: `item` is {document: "sheet", phase} or
 * {document: "report"}. fetch() loads it and checks the stated hash against the bytes; sign() authorises with
 * the second factor — `factor(ref)` gives it for the document reference, once — and signs with the PIN.
 */
export class Signing {
  constructor(sessionId, item) {
    this.sid = sessionId;
    this.item = item;
  }

  async fetch() {
    const query = new URLSearchParams({ document: this.item.document, ...(this.item.phase ? { phase: this.item.phase } : {}) });
    const { bytes, sha256 } = await apiBytes(`/sessions/${this.sid}/signing/document?${query}`);
    const computed = await sha256Hex(bytes);
    if (computed !== sha256) throw new SignerError("hash_mismatch", "the document's bytes do not match the stated hash");
    this.bytes = bytes;
    this.sha256 = computed;
    return computed;
  }

  async sign({ pin, factor, name, location, field, dissent }) {
    const ref = { document: this.item.document, phase: this.item.phase || null, sha256: this.sha256 };
    const auth = await api(`/sessions/${this.sid}/signing/authorisations`, {
      method: "POST", body: { ...ref, factor: await factor(ref) },
    });
    const kind = this.item.document;
    const signature = await signLocally({
      kind, document: base64(this.bytes), sha256: this.sha256, pin, name, location, field, dissent: dissent || null,
    });
    if (kind === "sheet") {
      return api(`/sessions/${this.sid}/signatures/sheets`, {
        method: "POST", body: { authorisation: auth.authorisation, cms: signature },
      });
    }
    return api(`/sessions/${this.sid}/signatures/report?authorisation=${encodeURIComponent(auth.authorisation)}`, {
      method: "POST", raw: unbase64(signature), type: "application/pdf",
    });
  }
}
