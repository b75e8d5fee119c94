// The chair's controls on the expert's page, shown only to the elected chair (docs/web.md, "The expert's page"):
// leave the current phase (the server decides whether the phase may end and says why not), confirm each flag's
// resolution once its member has explained or corrected it, and record how the committee settled a tie that
// every tie-break left standing (the order decided, e.g. by lot, and how). Every rule is the server's.

import { api, ApiError } from "./api.js";
import * as i18n from "./i18n.js";
import { $, el, rows } from "./ui.js";

i18n.extend({
  zh: {
    "cc.title": "组长操作",
    "cc.leave": "结束本环节：{phase}",
    "cc.left": "已进入下一环节。",
    "cc.flags": "待组长确认的提示",
    "cc.member": "委员",
    "cc.item": "投标与评分项",
    "cc.resolution": "处理情况",
    "cc.action": "操作",
    "cc.confirm": "确认",
    "cc.confirmed": "已确认",
    "cc.none": "暂无。",
    "cc.ties": "须由评标委员会决定的并列",
    "cc.tie": "第 {lot} 标段，第 {rank} 名并列：{bids}",
    "cc.position": "第 {n} 位",
    "cc.reason": "决定方式（如：抽签）",
    "cc.settle": "记录决定",
    "cc.settled": "已记录。",
  },
  en: {
    "cc.title": "The chair's controls",
    "cc.leave": "End this phase: {phase}",
    "cc.left": "On to the next phase.",
    "cc.flags": "Flags for the chair to confirm",
    "cc.member": "Member",
    "cc.item": "Bid and item",
    "cc.resolution": "Resolution",
    "cc.action": "Action",
    "cc.confirm": "Confirm",
    "cc.confirmed": "confirmed",
    "cc.none": "None.",
    "cc.ties": "Ties the committee must settle",
    "cc.tie": "Lot {lot}, tied at rank {rank}: {bids}",
    "cc.position": "Position {n}",
    "cc.reason": "How it was decided (e.g. by lot)",
    "cc.settle": "Record the decision",
    "cc.settled": "Recorded.",
  },
});

const t = i18n.t;
let sessionId = null;
let reload = null;
let leaving = null; // the phase the button leaves
let tiesShown = null; // the ties the forms are for

async function confirmFlag(flag) {
  try {
    await api(`/sessions/${sessionId}/flags/${flag.id}/confirm`, { method: "POST" });
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    $("cc-status").textContent = err.message;
  }
  await reload();
}

function tieForm(tie, i) {
  const id = `cc-tie-${i}`;
  const choice = (n) => el("span", {}, el("label", { for: `${id}-${n}` }, t("cc.position", { n: n + 1 })), " ",
    el("select", { id: `${id}-${n}`, name: "order" }, ...tie.bids.map((b, k) =>
      el("option", { value: b.bid, selected: k === n }, b.bidder))), " ");
  const reason = el("input", { id: `${id}-reason`, name: "reason", size: 24, maxLength: 500, required: true,
    "aria-describedby": `${id}-error` });
  const note = el("span", { id: `${id}-error`, class: "error", role: "alert" });
  const form = el("form", { class: "inline", noValidate: true, dataset: { lot: tie.lot } },
    el("p", {}, t("cc.tie", { lot: tie.lot, rank: tie.rank, bids: tie.bids.map((b) => `${b.bidder}（${b.final}）`).join("、") })),
    ...tie.bids.map((_, n) => choice(n)), el("label", { for: `${id}-reason` }, t("cc.reason")), " ", reason, " ",
    el("button", { type: "submit" }, t("cc.settle")), note);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    reason.setAttribute("aria-invalid", "false");
    note.textContent = "";
    const order = [...form.querySelectorAll("select")].map((s) => s.value);
    try {
      await api(`/sessions/${sessionId}/ties`, { method: "POST",
        body: { lot: tie.lot, order, reason: reason.value.trim() } });
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      note.textContent = err.message;
      if (err.details.some((d) => (Array.isArray(d.loc) ? d.loc : [d.loc]).includes("reason"))) {
        reason.setAttribute("aria-invalid", "true");
      }
      return;
    }
    $("cc-status").textContent = t("cc.settled");
    await reload();
  });
  return form;
}

/** ``status``: GET …/status; ``committee``: this member's view; ``myId``: their member id. */
export async function render(status, committee, myId) {
  const chair = status.state === "evaluating" && committee.chair_member_id === myId;
  $("chair-controls").hidden = !chair;
  if (!chair) return;
  leaving = status.phase;
  $("cc-leave").textContent = t("cc.leave", { phase: t(`phase.${status.phase}`) });
  $("cc-leave").hidden = status.phase === "report_signing";
  const name = (id) => (committee.members.find((m) => m.member_id === id) || { name: "—" }).name;
  const [flags, ties] = await Promise.all([api(`/sessions/${sessionId}/flags`), api(`/sessions/${sessionId}/ties`)]);
  const toConfirm = flags.filter((f) => f.status !== "open" && f.status !== "cleared");
  rows($("cc-flags-body"), toConfirm, (f) => el("tr", { dataset: { flag: f.id } },
    el("td", {}, name(f.member_id)), el("td", {}, `${f.bid} ${f.criterion || ""}`),
    el("td", {}, t(`flag.status.${f.status}`) + (f.explanation ? `：${f.explanation}` : "")),
    el("td", {}, f.confirmed_at ? t("cc.confirmed") : el("button", { type: "button", class: "secondary",
      onclick: () => confirmFlag(f) }, t("cc.confirm"), el("span", { class: "visually-hidden" }, ` ${f.bid} ${name(f.member_id)}`)))),
  "cc.none");
  const key = JSON.stringify([i18n.lang, ties]);
  if (key !== tiesShown) { // rebuilt only when the ties change: an order being chosen survives other events
    tiesShown = key;
    $("cc-ties").replaceChildren(...ties.map(tieForm));
  }
  $("cc-ties-part").hidden = ties.length === 0;
}

export function init(session, refresh) {
  sessionId = session;
  reload = refresh;
  $("cc-leave").addEventListener("click", async () => {
    $("cc-status").textContent = "";
    try {
      await api(`/sessions/${sessionId}/phase`, { method: "POST", body: { leave: leaving } });
      $("cc-status").textContent = t("cc.left");
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      $("cc-status").textContent = err.message;
    }
    await reload();
  });
}
