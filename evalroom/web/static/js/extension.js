// "The time is too short" on the expert's page (条例 Art. 48): a seated member says so once; when more than a
// third of the members who evaluate have, the coordinator extends the period once (the server's rule and count,
// GET …/status `extension`). The page shows the count so far, whether this member has asked, and the new end.

import { api, ApiError } from "./api.js";
import * as i18n from "./i18n.js";
import { $, when } from "./ui.js";

i18n.extend({
  zh: {
    "ex.title": "评审时间不足",
    "ex.ask": "评审时间不够",
    "ex.count": "已有 {n}/{members} 位委员认为评审时间不足；超过三分之一时延长评审时间。",
    "ex.asked": "您已提出评审时间不足。",
    "ex.extended": "评审时间已延长，结束时间为 {end}。",
  },
  en: {
    "ex.title": "Not enough time",
    "ex.ask": "The time is too short",
    "ex.count": "{n} of {members} members say the time is too short; more than a third extends the period.",
    "ex.asked": "You have said the time is too short.",
    "ex.extended": "The period is extended; it now ends at {end}.",
  },
});

const t = i18n.t;
let sessionId = null;
let reload = null;

/** ``status``: GET …/status as this member reads it; ``seated``: whether they evaluate. */
export function render(status, seated) {
  const open = seated && ["evaluating", "suspended"].includes(status.state);
  $("extension").hidden = !open;
  if (!open) return;
  const x = status.extension;
  $("extension-count").textContent = t("ex.count", { n: x.requests, members: x.members });
  $("extension-ask").hidden = x.requested || x.extended;
  $("extension-status").textContent = x.extended ? t("ex.extended", { end: when(status.scheduled_end) })
    : x.requested ? t("ex.asked") : $("extension-status").textContent;
}

export function init(session, refresh) {
  sessionId = session;
  reload = refresh;
  $("extension-ask").addEventListener("click", async () => {
    try {
      await api(`/sessions/${sessionId}/extension`, { method: "POST" });
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      $("extension-status").textContent = err.message;
      return;
    }
    await reload();
  });
}
