// A score corrected after the report, on the host operator's console (docs/web.md, "The operator's page"): only for
// the causes the rules allow (87号令 Art. 64 — a sum or transcription error, a score out of its range, objective
// scores that disagree, an abnormally high or low score the committee has confirmed), each with its reason; the
// server makes a new version of the member's sheet and of the report, and every signature starts again on it.
// The member, bid and criterion are chosen from the session's seated members and its tender; every rule stays
// the server's. Shown with the signing part while the report is being signed.

import { ApiError } from "./api.js";
import * as i18n from "./i18n.js";
import { $, el, onSubmit } from "./ui.js";

i18n.extend({
  zh: {
    "rc.title": "报告后的评分更正",
    "rc.help": "仅限规定情形：分值汇总计算错误、分项评分超出评分标准规定的分值范围、客观评分不一致、经评标委员会认定的评分畸高畸低。更正后生成新版评标报告，须重新签署。",
    "rc.member": "委员",
    "rc.bid": "投标",
    "rc.criterion": "评分项",
    "rc.value": "更正后的分值",
    "rc.cause": "更正情形",
    "rc.reason": "更正理由（记入日志）",
    "rc.submit": "更正",
    "rc.done": "已更正，评标报告已生成新版本。",
    "rc.cause.sum_error": "分值汇总计算错误",
    "rc.cause.out_of_range": "分项评分超出评分标准规定的分值范围",
    "rc.cause.objective_inconsistent": "客观评分不一致",
    "rc.cause.abnormal_score": "经评标委员会认定的评分畸高、畸低",
  },
  en: {
    "rc.title": "Correcting a score after the report",
    "rc.help": "Only for the causes the rules allow: a sum error, a score outside its criterion's range, objective scores that disagree, a score the committee found abnormally high or low. A correction makes a new version of the report, to be signed again.",
    "rc.member": "Member",
    "rc.bid": "Bid",
    "rc.criterion": "Criterion",
    "rc.value": "Corrected score",
    "rc.cause": "Cause",
    "rc.reason": "Reason (logged)",
    "rc.submit": "Correct",
    "rc.done": "Corrected; the report has a new version.",
    "rc.cause.sum_error": "a sum or transcription error",
    "rc.cause.out_of_range": "a score outside its criterion's range",
    "rc.cause.objective_inconsistent": "objective scores that disagree",
    "rc.cause.abnormal_score": "a score the committee found abnormally high or low",
  },
});

const t = i18n.t;
const CAUSES = ["sum_error", "out_of_range", "objective_inconsistent", "abnormal_score"];
let io = null; // {call, refreshSession}
let shown = null; // {sessionId, project}
const projects = new Map(); // session id → its tender document, read once

const leaves = (criteria) => criteria.flatMap((c) => (c.children && c.children.length ? leaves(c.children) : [c]));

function options(select, list, value, label) {
  const kept = select.value;
  select.replaceChildren(...list.map((x) => el("option", { value: value(x) }, label(x))));
  if (list.some((x) => value(x) === kept)) select.value = kept;
}

async function project(sessionId) {
  if (!projects.has(sessionId)) {
    projects.set(sessionId, io.call(`/sessions/${sessionId}/project`).then((p) => p.document, (err) => {
      projects.delete(sessionId);
      if (err instanceof ApiError && err.status === 404) return null;
      throw err;
    }));
  }
  return projects.get(sessionId);
}

/** Show the form for a session hosted here whose report is being signed (``status``: GET …/status). */
export async function render(session, status, committee, hosted) {
  const open = hosted && status && status.report_ready && !status.report_sealed && committee;
  $("correction-form").hidden = !open;
  if (!open) return;
  const doc = await project(session.id);
  if (!doc) return;
  shown = { sessionId: session.id };
  const form = $("correction-form");
  if (form.contains(document.activeElement)) return; // what is being chosen stays
  const bidders = new Map((doc.bidders || []).map((b) => [b.code, b.name]));
  options($("rc-member"), committee.members.filter((m) => m.state === "seated"), (m) => m.member_id, (m) => m.name);
  options($("rc-bid"), (doc.lots || []).flatMap((l) => (l.bids || []).map((b) => ({ lot: l, bid: b }))),
    (x) => `${x.lot.code}/${x.bid.bidder}`, (x) => `${x.lot.name} · ${bidders.get(x.bid.bidder) || x.bid.bidder}`);
  options($("rc-criterion"), leaves(doc.criteria || []), (c) => c.code, (c) => `${c.code} ${c.name}`);
  options($("rc-cause"), CAUSES, (c) => c, (c) => t(`rc.cause.${c}`));
}

export function init(deps) {
  io = deps;
  onSubmit($("correction-form"), (f) => {
    const value = (name) => f.elements.namedItem(name).value.trim();
    return io.call(`/sessions/${shown.sessionId}/report/corrections`, { method: "POST", body: {
      member_id: value("member_id"), bid: value("bid"), criterion: value("criterion"), value: value("value"),
      cause: value("cause"), reason: value("reason") } });
  }, async () => {
    for (const name of ["value", "reason"]) $("correction-form").elements.namedItem(name).value = "";
    await io.refreshSession();
  }, "rc.done");
}
