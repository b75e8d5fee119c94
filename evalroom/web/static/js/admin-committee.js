// A session's committee as the coordinator admin sees it (docs/web.md, "The admin's page"): every member with
// their venue, specialty and state; for a drawn expert who told the coordinator they will not come, "declined";
// for a member found later to have a conflict of interest, "void" (their evaluation is voided) — each with the
// reason the log keeps, the replacement drawn at once; and the session's draws, each checked in this browser
// (js/draws.js), whole at any time for the admin.

import { api, ApiError } from "./api.js";
import * as i18n from "./i18n.js";
import "./committee-text.js";
import { renderDraws } from "./draws.js";
import { $, clearForm, el, onSubmit, rows } from "./ui.js";

const t = i18n.t;
let shared = null; // {venues}
let failed = null;
let session = null; // the session whose committee is shown
let vacating = null; // {member, action}

const venueName = (id) => (shared.venues.find((v) => v.id === id) || { name: "—" }).name;

function actions(m) {
  const button = (action) => el("button", { type: "button", class: "secondary", onclick: () => askVacate(m, action) },
    t(`cp.${action}`), el("span", { class: "visually-hidden" }, ` ${m.name}`));
  return [m.state === "drawn" && m.kind === "expert" ? button("decline") : null,
    ["drawn", "checked_in", "seated"].includes(m.state) ? button("void") : null];
}

export async function open(s) {
  session = s;
  $("cp").hidden = false;
  $("cp-h").textContent = t("cp.title", { code: s.code, title: s.title });
  $("cp-vacate-form").hidden = true;
  $("cp-status").textContent = "";
  await load();
  $("cp-h").focus();
}

async function load() {
  let committee;
  try {
    committee = await api(`/sessions/${session.id}/committee`);
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 404)) return failed(err);
    committee = null;
  }
  $("cp-summary").textContent = committee
    ? t("cp.summary", { total: committee.plan.total, version: committee.plan_version }) : t("cm.no_plan");
  rows($("cp-members"), committee ? committee.members : [], (m) => el("tr", { dataset: { member: m.member_id } },
    el("th", { scope: "row" }, m.name), el("td", {}, t(`cp.kind.${m.kind}`)),
    el("td", {}, `${venueName(m.venue_id)} ${m.specialty || ""}`),
    el("td", {}, t(`cp.state.${m.state}`) + (m.vacancy_reason ? `（${m.vacancy_reason}）` : "")),
    el("td", { class: "buttons" }, ...actions(m))), "ad.none");
  renderDraws($("cp-draws"), committee ? committee.draws : [],
    (d) => api(`/sessions/${session.id}/committee/draws/${d.draw_id}`));
}

function askVacate(member, action) {
  vacating = { member, action };
  const form = $("cp-vacate-form");
  form.hidden = false;
  form.reset();
  clearForm(form);
  $("cp-vacate-h").textContent = t(`cp.${action}_h`, { name: member.name });
  $("cp-reason").focus();
}

export function start(fail) {
  failed = fail;
  onSubmit($("cp-vacate-form"), (f) => api(`/committee/members/${vacating.member.member_id}/${vacating.action}`, {
    method: "POST", body: { reason: f.elements.namedItem("reason").value.trim() } }), async (answer) => {
    $("cp-vacate-form").hidden = true;
    const failures = (answer.replacements || []).filter((d) => d.error);
    $("cp-status").textContent = failures.length ? failures.map((d) => d.error.message).join("；")
      : t("cp.vacated", { name: vacating.member.name, n: (answer.replacements || []).length });
    await load();
  });
  $("cp-vacate-cancel").addEventListener("click", () => {
    $("cp-vacate-form").hidden = true;
  });
}

export function show(state) {
  shared = state;
}
