// WebAuthn as the second factor, from the expert's page (docs/signing.md, "Second factors"): a security key or
// the device's own authenticator, registered once with user verification, then asked to sign the coordinator's
// single-use challenge for one document — SHA-256("evalroom-sign-v1" ‖ the document's hash ‖ a nonce) — so an
// assertion authorises that document and nothing else, once. The browser does the ceremony; the coordinator
// makes the options and checks the answer (py_webauthn). The one-time code stays available beside it.
//
// The options travel as WebAuthn's JSON encoding (base64url for binary fields) and the credentials go back the
// same way; the conversion is written here rather than left to PublicKeyCredential.parse*OptionsFromJSON and
// toJSON(), which older browsers on venues' machines lack.

import { api } from "./api.js";

const b64url = (buffer) => btoa(String.fromCharCode(...new Uint8Array(buffer)))
  .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const unb64url = (text) => Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
const hex = (bytes) => [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
const descriptors = (list) => (list || []).map((c) => ({ ...c, id: unb64url(c.id) }));

/** Whether this browser can use WebAuthn at all (a secure context with PublicKeyCredential). */
export function available() {
  return window.isSecureContext && typeof window.PublicKeyCredential === "function";
}

/** Register an authenticator for the seated member of `sessionId`: the browser asks the person to touch it. */
export async function register(sessionId) {
  const options = await api(`/sessions/${sessionId}/factors/webauthn/options`, { method: "POST" });
  const credential = await navigator.credentials.create({ publicKey: {
    ...options, challenge: unb64url(options.challenge), user: { ...options.user, id: unb64url(options.user.id) },
    excludeCredentials: descriptors(options.excludeCredentials),
  } });
  const response = credential.response;
  return api(`/sessions/${sessionId}/factors/webauthn`, { method: "POST", body: {
    nonce: hex(unb64url(options.challenge)),
    credential: {
      id: credential.id, rawId: b64url(credential.rawId), type: credential.type,
      response: { clientDataJSON: b64url(response.clientDataJSON), attestationObject: b64url(response.attestationObject),
                  transports: response.getTransports ? response.getTransports() : [] },
      clientExtensionResults: credential.getClientExtensionResults(),
      authenticatorAttachment: credential.authenticatorAttachment ?? undefined,
    },
  } });
}

/**
 * The factor that authorises the document `ref` ({document, phase, sha256}): the coordinator's challenge for
 * that hash, signed by the person's authenticator. Presented once (POST …/signing/authorisations).
 */
export async function factorFor(sessionId, ref) {
  const challenge = await api(`/sessions/${sessionId}/signing/challenges`, { method: "POST", body: ref });
  const options = typeof challenge.options === "string" ? JSON.parse(challenge.options) : challenge.options;
  const credential = await navigator.credentials.get({ publicKey: {
    ...options, challenge: unb64url(options.challenge), allowCredentials: descriptors(options.allowCredentials),
  } });
  const response = credential.response;
  return { kind: "webauthn", nonce: challenge.nonce, assertion: {
    id: credential.id, rawId: b64url(credential.rawId), type: credential.type,
    response: { clientDataJSON: b64url(response.clientDataJSON), authenticatorData: b64url(response.authenticatorData),
                signature: b64url(response.signature),
                userHandle: response.userHandle ? b64url(response.userHandle) : undefined },
    clientExtensionResults: credential.getClientExtensionResults(),
    authenticatorAttachment: credential.authenticatorAttachment ?? undefined,
  } };
}
