// Electing the chair (推选组长) on the expert's page (docs/web.md, "The expert's page"; the rule in
// evalroom/domain/chair.py): in the evaluation's first phase every seated member votes once per round for one of
// the round's candidates — in round 1 everyone seated, after a tie only those tied — and the server closes a
// round when the last vote is in. The page shows the round, how many have voted (never for whom), whether this
// member has, the candidates to choose from, and once elected the chair's name, which stays in the session's
// facts for everyone. Reloaded with the rest of the page on the session's events.

import { api, ApiError } from "./api.js";
import * as i18n from "./i18n.js";
import { $, el } from "./ui.js";

i18n.extend({
  zh: {
    "ch.title": "推选评标委员会组长",
    "ch.round": "第 {round} 轮：全体委员均为候选人，已投 {cast}/{voters} 票。",
    "ch.round_tied": "第 {round} 轮：上一轮得票最多者票数相同，只在他们之中再投，已投 {cast}/{voters} 票。",
    "ch.candidates": "候选人",
    "ch.self": "（本人）",
    "ch.vote": "投票",
    "ch.voted": "您已在本轮投票，等待其他委员。",
    "ch.choose": "请选择一名候选人。",
    "ch.done": "已投票。",
    "ch.chair": "组长",
    "ch.elected": "{name}（第 {round} 轮当选）",
  },
  en: {
    "ch.title": "Electing the committee's chair",
    "ch.round": "Round {round}: every member stands; {cast} of {voters} have voted.",
    "ch.round_tied": "Round {round}: the last round's leaders tied, so only they stand; {cast} of {voters} have voted.",
    "ch.candidates": "Candidates",
    "ch.self": " (you)",
    "ch.vote": "Vote",
    "ch.voted": "You have voted in this round; waiting for the others.",
    "ch.choose": "Choose one candidate.",
    "ch.done": "Voted.",
    "ch.chair": "Chair",
    "ch.elected": "{name} (elected in round {round})",
  },
});

const t = i18n.t;
let sessionId = null;
let lastRound = 0; // the round the candidates shown are of: a choice not yet sent stays within it
let reload = null;

/** ``status``: GET …/status; ``committee``: GET …/committee as this member sees it; ``myId``: their member id. */
export function render(status, committee, myId) {
  const seated = committee.members.filter((m) => m.state === "seated");
  const name = (id) => (committee.members.find((m) => m.member_id === id) || { name: "—" }).name;
  const e = committee.election;
  $("chair-name").textContent = committee.chair_member_id
    ? t("ch.elected", { name: name(committee.chair_member_id), round: e.round }) : "—";
  const open = status.state === "evaluating" && status.phase === "chair_election" && !committee.chair_member_id;
  $("chair").hidden = !open;
  if (!open) return;
  const round = Math.max(e.round, 1);
  $("chair-round").textContent = t(round > 1 ? "ch.round_tied" : "ch.round",
    { round, cast: e.votes_cast, voters: seated.length });
  const form = $("chair-form");
  const newRound = lastRound !== round;
  const picked = newRound ? null : (form.querySelector("input:checked") || {}).value;
  lastRound = round;
  const ids = e.candidates.length ? e.candidates : seated.map((m) => m.member_id);
  $("chair-candidates").replaceChildren(...ids.map((id) => el("div", {},
    el("input", { type: "radio", id: `chair-${id}`, name: "candidate_member_id", value: id, checked: id === picked,
      disabled: e.voted }), " ",
    el("label", { for: `chair-${id}` }, name(id), id === myId ? t("ch.self") : ""))));
  form.querySelector("button[type=submit]").hidden = e.voted;
  if (e.voted) $("chair-status").textContent = t("ch.voted");
  else if (newRound) $("chair-status").textContent = ""; // the last round's "voted" is past
}

/** ``session``: the member's session id; ``refresh()`` reloads the page's state after a vote. */
export function init(session, refresh) {
  sessionId = session;
  reload = refresh;
  $("chair-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const choice = $("chair-form").querySelector("input:checked");
    if (!choice) {
      $("chair-status").textContent = t("ch.choose");
      return;
    }
    try {
      await api(`/sessions/${sessionId}/chair/votes`, { method: "POST",
        body: { candidate_member_id: choice.value } });
      $("chair-status").textContent = t("ch.done");
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      $("chair-status").textContent = err.message;
    }
    await reload();
  });
}
