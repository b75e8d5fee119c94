// Correcting a flagged score on the expert's page (docs/evaluation.md, "Flags"): besides a written explanation,
// the member whose sheet a check flagged may change the flagged item itself, with the reason; the server writes
// the sheet's next version (cause "flag") and runs the checks again, and the chair then confirms the resolution.
// Offered for a flag on one criterion of one bid, while the flag is open in the detailed review.

import { api, ApiError } from "./api.js";
import * as i18n from "./i18n.js";
import { el } from "./ui.js";

i18n.extend({
  zh: {
    "fc.value": "更正为",
    "fc.reason": "更正理由",
    "fc.submit": "更正评分",
    "fc.done": "已更正，评分表已生成新版本。",
  },
  en: {
    "fc.value": "Correct it to",
    "fc.reason": "Reason for the correction",
    "fc.submit": "Correct the score",
    "fc.done": "Corrected; the sheet has a new version.",
  },
});

const t = i18n.t;

/** The correction form for ``flag`` (with a ``criterion``) of the member's sheet in ``sessionId``;
 * ``done()`` follows a correction. The server's refusal shows on the field it names, or on the form. */
export function correctionForm(flag, sessionId, done) {
  const id = `correct-${flag.id}`;
  const value = el("input", { id: `${id}-value`, name: "value", inputmode: "decimal", size: 8, required: true,
    "aria-describedby": `${id}-error` });
  const reason = el("input", { id: `${id}-reason`, name: "reason", size: 40, maxLength: 500, required: true,
    "aria-describedby": `${id}-error` });
  const status = el("p", { id: `${id}-error`, role: "status" });
  const form = el("form", { class: "inline", noValidate: true, dataset: { flag: flag.id } },
    el("label", { for: `${id}-value` }, t("fc.value")), " ", value, " ",
    el("label", { for: `${id}-reason` }, t("fc.reason")), " ", reason, " ",
    el("button", { type: "submit", class: "secondary" }, t("fc.submit")), status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    for (const field of [value, reason]) field.setAttribute("aria-invalid", "false");
    try {
      await api(`/sessions/${sessionId}/scores/corrections`, { method: "POST", body: {
        scores: { [flag.bid]: { [flag.criterion]: value.value.trim() } }, reason: reason.value.trim() } });
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      status.textContent = err.message;
      const named = err.details.flatMap((d) => (Array.isArray(d.loc) ? d.loc : [d.loc || d.field]));
      if (named.includes("reason")) reason.setAttribute("aria-invalid", "true");
      if (named.some((n) => n === flag.criterion || n === "scores")) value.setAttribute("aria-invalid", "true");
      return;
    }
    status.textContent = t("fc.done");
    done();
  });
  return form;
}
