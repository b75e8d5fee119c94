// The report's signing as the host's operator follows it (docs/web.md, "The operator's page"): once the report
// exists, who has not signed what (GET …/status, `signing.missing`); for a member whose only missing signature
// is the report's, a deemed agreement with the reason the rules require (条例 Art. 53: a member who neither
// signs nor states a dissent is deemed to agree; the server refuses it for a dissenter); and the seal, which the
// server allows once nothing is missing. Reloaded with the rest of the session on its events.

import * as i18n from "./i18n.js";
import { $, el, onSubmit, rows } from "./ui.js";

const t = i18n.t;
let io = null; // {call, refreshSession}
let shown = null; // {sessionId, signing, sealed}
const typed = new Map(); // member id → the reason being typed, kept when the rows are rebuilt

function deemForm(m) {
  const onlyReport = m.unsigned.every((u) => u.startsWith("report"));
  if (!onlyReport) return el("span", { class: "muted" }, t("op.sign.sheets_first"));
  const id = `deem-${m.member_id}`;
  const form = el("form", { class: "inline", noValidate: true },
    el("label", { for: `${id}-reason` }, t("op.sign.reason")), " ",
    el("input", { id: `${id}-reason`, name: "reason", required: true, maxLength: 500, size: 30,
      value: typed.get(m.member_id) || "", "aria-describedby": `${id}-reason-error`,
      oninput: (event) => typed.set(m.member_id, event.target.value) }),
    el("span", { id: `${id}-reason-error`, class: "error" }), " ",
    el("button", { type: "submit", class: "secondary" }, t("op.sign.deem"),
      el("span", { class: "visually-hidden" }, ` ${m.name}`)),
    el("span", { class: "error", role: "alert", "data-form-error": "" }));
  onSubmit(form, (f) => io.call(`/sessions/${shown.sessionId}/report/deemed-agreements`, { method: "POST",
    body: { member_id: m.member_id, reason: f.elements.namedItem("reason").value.trim() } }), async () => {
    typed.delete(m.member_id);
    await io.refreshSession();
  });
  return form;
}

/** ``status`` is the session's (GET …/status); null hides the part. */
export function render(sessionId, status, hosted) {
  const signing = hosted && status && status.signing;
  $("signing-part").hidden = !signing;
  if (!signing) return;
  shown = { sessionId, signing, sealed: status.report_sealed };
  const missing = signing.missing.length;
  $("signing-state").textContent = status.report_sealed ? t("op.sign.sealed", { version: signing.report_version })
    : t(missing ? "op.sign.waiting" : "op.sign.ready", { version: signing.report_version, n: missing });
  if (!missing) $("seal-error").textContent = ""; // a refusal of the seal while someone had not signed is past
  const active = document.activeElement && $("signing-body").contains(document.activeElement)
    ? document.activeElement.id : null;
  rows($("signing-body"), signing.missing, (m) => el("tr", { dataset: { member: m.member_id } },
    el("td", {}, m.name), el("td", {}, m.unsigned.join("，")), el("td", {}, deemForm(m))), "op.sign.none_missing");
  if (active && $(active)) $(active).focus();
  $("seal").hidden = status.report_sealed;
}

export function init(deps) {
  io = deps;
  $("seal").addEventListener("click", async () => {
    $("seal-error").textContent = $("seal-status").textContent = "";
    try {
      await io.call(`/sessions/${shown.sessionId}/report/seal`, { method: "POST" });
    } catch (err) {
      $("seal-error").textContent = err.message;
      return;
    }
    $("seal-status").textContent = t("op.sign.seal_done");
    await io.refreshSession();
  });
}

