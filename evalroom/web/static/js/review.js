// The qualification and compliance review (资格/符合性审查) on the expert's page (docs/web.md, "The expert's
// page"): every bid of the tender marked pass or fail — item by item when the tender lists its review items
// (资格审查项, 符合性审查项), the bid passing only when every item does — a written reason required for each
// fail (the server's rule, shown at the bid or item it names). The sheet is sealed until every member has submitted (the server shows a
// member only their own); then the committee's tally by the rule — a bid is rejected when more than half fail
// it — with every fail's reason, a minority's too. Reloaded with the rest of the page on the session's events.

import { api, ApiError } from "./api.js";
import * as i18n from "./i18n.js";
import { $, el } from "./ui.js";

i18n.extend({
  zh: {
    "rv.title": "资格审查与符合性审查",
    "rv.help": "逐一审查每份投标：不通过的须写明理由。全体委员提交前，各人的审查结果互不可见。",
    "rv.pass": "通过",
    "rv.fail": "不通过",
    "rv.reason": "不通过的理由",
    "rv.submit": "提交审查结果",
    "rv.submitted": "已提交，等待其他委员（{n}/{total} 人已提交）。",
    "rv.fix": "请按提示修改后再提交。",
    "rv.tally": "委员会审查结果",
    "rv.bid": "投标",
    "rv.result": "结果",
    "rv.votes": "不通过票数",
    "rv.reasons": "不通过理由",
    "rv.passed": "通过",
    "rv.rejected": "否决",
    "rv.kind.qualification": "资格审查",
    "rv.kind.compliance": "符合性审查",
  },
  en: {
    "rv.title": "Qualification and compliance review",
    "rv.help": "Review every bid; a fail needs a written reason. Until every member has submitted, no one sees another's marks.",
    "rv.pass": "Pass",
    "rv.fail": "Fail",
    "rv.reason": "Why it fails",
    "rv.submit": "Submit the review",
    "rv.submitted": "Submitted; waiting for the others ({n} of {total} have submitted).",
    "rv.fix": "Correct what is marked, then submit again.",
    "rv.tally": "The committee's review",
    "rv.bid": "Bid",
    "rv.result": "Result",
    "rv.votes": "Fail votes",
    "rv.reasons": "Reasons for failing",
    "rv.passed": "passed",
    "rv.rejected": "rejected",
    "rv.kind.qualification": "Qualification",
    "rv.kind.compliance": "Compliance",
  },
});

const t = i18n.t;
let sessionId = null;
let reload = null;
let bids = null; // [{key, label}] from the tender, read once
let items = []; // the tender's review items [{code, name, kind}]: none, each bid is marked as a whole

async function tenderBids() {
  if (!bids) {
    const doc = (await api(`/sessions/${sessionId}/project`)).document;
    const names = new Map(doc.bidders.map((b) => [b.code, b.name]));
    bids = doc.lots.flatMap((lot) => lot.bids.map((b) => ({ key: `${lot.code}/${b.bidder}`,
      label: `${lot.name} · ${names.get(b.bidder) || b.bidder}` })));
    items = doc.review_items || [];
  }
  return bids;
}

const safe = (key) => key.replace(/[^A-Za-z0-9_-]/g, "_");

// Pass, fail and the reason for a fail: for a whole bid (`id` = rv-<bid>), or for one review item of it
// (rv-<bid>-<item>). Each has its error line, where the server's refusal of it is shown.
function passFail(id) {
  const radio = (value, key) => el("span", {},
    el("input", { type: "radio", id: `${id}-${value}`, name: `${id}-mark`, value }), " ",
    el("label", { for: `${id}-${value}` }, t(key)), " ");
  return [radio("pass", "rv.pass"), radio("fail", "rv.fail"),
    el("div", {}, el("label", { for: `${id}-reason` }, t("rv.reason")), " ",
      el("input", { id: `${id}-reason`, size: 40, maxLength: 1000, "aria-describedby": `${id}-error` })),
    el("span", { id: `${id}-error`, class: "error" })];
}

function markFields(bid) {
  const id = `rv-${safe(bid.key)}`;
  if (!items.length) return el("fieldset", { dataset: { bid: bid.key } }, el("legend", {}, bid.label), ...passFail(id));
  return el("fieldset", { dataset: { bid: bid.key } }, el("legend", {}, bid.label),
    ...items.map((item) => el("fieldset", { class: "review-item", dataset: { item: item.code } },
      el("legend", {}, `${t(`rv.kind.${item.kind || "qualification"}`)} · ${item.name}`),
      ...passFail(`${id}-${safe(item.code)}`))),
    el("span", { id: `${id}-error`, class: "error" }));
}

function chosen(id) {
  const radio = document.querySelector(`input[name="${id}-mark"]:checked`);
  return radio && { passed: radio.value === "pass", reason: $(`${id}-reason`).value.trim() };
}

/** ``status``: GET …/status; ``names``: member id → name. */
export async function render(status, names) {
  const open = ["evaluating", "suspended"].includes(status.state) && status.phase === "review";
  $("review").hidden = !open;
  if (!open) return;
  const [listed, list] = await Promise.all([api(`/sessions/${sessionId}/sheets?phase=review`), tenderBids()]);
  const form = $("review-form");
  const mine = listed.revealed ? null : listed.sheets[0]; // before the reveal the server shows only one's own
  form.hidden = Boolean(mine) || listed.revealed;
  if (!form.hidden && !form.querySelector("fieldset")) form.prepend(...list.map(markFields));
  $("review-status").textContent = mine ? t("rv.submitted", { n: listed.submitted.length, total: listed.members.length }) : "";
  $("review-tally").hidden = !listed.revealed;
  if (!listed.revealed) return;
  const label = new Map(list.map((b) => [b.key, b.label]));
  $("review-tally-body").replaceChildren(...listed.outcome.map((o) => el("tr", { dataset: { bid: o.bid } },
    el("th", { scope: "row" }, label.get(o.bid) || o.bid),
    el("td", { class: o.passed ? "ok" : "bad" }, t(o.passed ? "rv.passed" : "rv.rejected")),
    el("td", {}, String(o.fail_votes)),
    el("td", {}, o.reasons.map((r) => `${names.get(r.member_id) || "—"}：${r.reason}`).join("；") || "—"))));
}

// What the form says, as the API takes it. By item, a bid passes when every item is marked and passes (the
// server checks the same); an item left unmarked is not sent, so the server names it.
function marks() {
  const out = {};
  for (const set of $("review-form").querySelectorAll("fieldset[data-bid]")) {
    const id = `rv-${safe(set.dataset.bid)}`;
    if (!items.length) {
      const mark = chosen(id);
      if (mark) out[set.dataset.bid] = mark;
      continue;
    }
    const marked = Object.fromEntries(items.map((i) => [i.code, chosen(`${id}-${safe(i.code)}`)]).filter(([, m]) => m));
    const all = Object.keys(marked).length === items.length;
    if (Object.keys(marked).length) {
      out[set.dataset.bid] = { passed: all && Object.values(marked).every((m) => m.passed), reason: "", items: marked };
    }
  }
  return out;
}

export function init(session, refresh) {
  sessionId = session;
  reload = refresh;
  $("review-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    for (const e of $("review-form").querySelectorAll(".error")) e.textContent = "";
    $("review-error").textContent = "";
    try {
      await api(`/sessions/${sessionId}/review`, { method: "POST", body: { marks: marks() } });
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      $("review-error").textContent = `${err.message} ${t("rv.fix")}`;
      for (const d of err.details) {
        const note = d.bid && $(d.item ? `rv-${safe(d.bid)}-${safe(d.item)}-error` : `rv-${safe(d.bid)}-error`);
        if (note) note.textContent = d.message;
      }
      return;
    }
    await reload();
  });
}
