// Clearing a member's second factors after a lost phone or a broken authenticator (DELETE
// …/members/{id}/factors): by an operator of the member's own venue — the host's committee table, or a guest's
// view of the session it takes part in — once they have checked the person's identity as at check-in. The
// member then registers a new authenticator on their page. Asked to confirm first: it cannot be undone.

import * as i18n from "./i18n.js";
import { el } from "./ui.js";

i18n.extend({
  zh: {
    "fr.button": "重置第二因素",
    "fr.confirm": "已核对 {name} 本人的身份证和人脸？确认后其已登记的动态口令和安全密钥全部作废，须重新登记。",
    "fr.done": "已重置 {name} 的第二因素（作废 {n} 个），请其在本人页面重新登记。",
  },
  en: {
    "fr.button": "Reset second factors",
    "fr.confirm": "Have you checked {name}'s ID card and face? Their one-time-code authenticators and security keys stop working and must be registered again.",
    "fr.done": "{name}'s second factors are reset ({n} removed); they register a new one on their page.",
  },
});

const t = i18n.t;

/** The button for ``member`` ({member_id, name}) of ``sessionId``; ``call`` is the page's API call, ``say(text)``
 * shows the outcome (or the server's refusal) where the page keeps such lines. */
export function resetButton(sessionId, member, call, say) {
  return el("button", { type: "button", class: "secondary", onclick: async () => {
    if (!confirm(t("fr.confirm", { name: member.name }))) return;
    try {
      const answer = await call(`/sessions/${sessionId}/members/${member.member_id}/factors`, { method: "DELETE" });
      say(t("fr.done", { name: member.name, n: answer.removed }));
    } catch (err) {
      say(err.message);
    }
  } }, t("fr.button"), el("span", { class: "visually-hidden" }, ` ${member.name}`));
}
