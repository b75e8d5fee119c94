// The committee's forming, on the host operator's console (docs/web.md, "The operator's page"): the plan (project
// type from the rule table, whose rule is shown beside it; size, representatives, budget; per venue the experts
// by specialty — the host and each confirmed guest request, by its number only, 四不知; the parties that
// avoidance screens against), the tenderer's representatives, the draws (commit, draw, reveal: the commitment and
// the seed as logged, and the check in this browser: js/draws.js), and no-shows with their replacement
// draw. Every rule is the server's: a refused plan's every problem shows on its field. Reloaded with the rest of
// the session on its events.

import * as i18n from "./i18n.js";
import "./committee-text.js";
import { renderDraws } from "./draws.js";
import { $, el, onSubmit, rows } from "./ui.js";

const t = i18n.t;
const OPEN = ["waiting", "evaluating", "suspended"];
let io = null; // {call, refreshSession}
let rules = []; // GET /committee/rules: the project types
let shown = null; // {session, committee, offers}

/** The venues a plan may draw for: the host, and each confirmed guest request by its number among the offers. */
function venues(offers) {
  const confirmed = (offers || []).map((o, i) => ({ o, n: i + 1 })).filter(({ o }) => o.state === "confirmed");
  return [{ venue: "host", label: t("cm.host") },
    ...confirmed.map(({ o, n }) => ({ venue: `offer:${o.offer_id}`, label: t("cm.offer_n", { n, seats: o.seats }) }))];
}

function venueLabel(venue) {
  if (venue === "host") return t("cm.host");
  const i = (shown.offers || []).findIndex((o) => `offer:${o.offer_id}` === venue);
  return i >= 0 ? t("cm.offer_short", { n: i + 1 }) : t("cm.guest");
}

const mix = (specialties) => Object.entries(specialties).map(([code, n]) => `${code}:${n}`).join(" ");
/** "B01:2 D01:1" as {B01: 2, D01: 1}; a count that is not a whole number is kept as typed, for the server. */
function parseMix(text) {
  const out = {};
  for (const part of text.split(/[\s,，、]+/).filter(Boolean)) {
    const [code, n = "1"] = part.split(/[:：]/);
    out[code] = /^\d{1,3}$/.test(n) ? Number(n) : n;
  }
  return out;
}
const whole = (text) => (/^\d{1,3}$/.test(text.trim()) ? Number(text.trim()) : text.trim());

function ruleText(projectType) {
  const r = rules.find((x) => x.project_type === projectType);
  if (!r) return "";
  let text = t("cm.rule", { minimum: r.minimum, share: r.expert_share });
  if (r.large_budget_yuan) text += t("cm.rule_large", { budget: r.large_budget_yuan, minimum: r.large_minimum });
  if (r.complex_minimum) text += t("cm.rule_complex", { minimum: r.complex_minimum });
  return text;
}

// --- the plan ------------------------------------------------------------------------------------------------
let filled = { venues: null, version: null }; // what the form shows: typed values survive reloads on events

function fillPlanForm(committee, offers) {
  const form = $("cm-plan-form");
  const type = $("cm-type");
  if (type.options.length !== rules.length) {
    type.replaceChildren(...rules.map((r) => el("option", { value: r.project_type }, `${r.name}（${r.project_type}）`)));
  }
  const plan = committee && committee.plan;
  const rowsFor = venues(offers);
  const key = rowsFor.map((v) => v.venue).join(" ");
  if (key !== filled.venues) { // a guest request confirmed or cancelled: the rows change, typed mixes stay
    const typed = new Map([...$("cm-quota-rows").querySelectorAll("input")].map((i) => [i.dataset.venue, i.value]));
    $("cm-quota-rows").replaceChildren(...rowsFor.map((v, i) => el("div", {},
      el("label", { for: `cm-quota-${i}` }, v.label), " ",
      el("input", { id: `cm-quota-${i}`, size: 24, dataset: { venue: v.venue }, value: typed.get(v.venue) || "",
        "aria-describedby": `cm-quota-${i}-error` }),
      el("span", { id: `cm-quota-${i}-error`, class: "error" }))));
    filled.venues = key;
  }
  if (!plan || committee.plan_version === filled.version) return;
  filled.version = committee.plan_version; // a plan saved (here or elsewhere): the form shows it
  const quotas = new Map(plan.quotas.map((q) => [q.venue, q.specialties]));
  for (const input of $("cm-quota-rows").querySelectorAll("input")) {
    input.value = quotas.has(input.dataset.venue) ? mix(quotas.get(input.dataset.venue)) : "";
  }
  type.value = plan.project_type;
  for (const [name, value] of [["total", plan.total], ["representatives", plan.representatives],
    ["budget_yuan", plan.budget_yuan || ""]]) form.elements.namedItem(name).value = value;
  form.elements.namedItem("complex_project").checked = plan.complex_project;
  form.elements.namedItem("exclude_home_region").checked = plan.exclude_home_region;
  const parties = committee.parties;
  for (const name of ["tenderer", "authority", "supervisor"]) form.elements.namedItem(name).value = parties[name] || "";
  form.elements.namedItem("bidders").value = (parties.bidders || []).join("\n");
}

/** The plan's body. The quota inputs are named by their place in the body's list as it is sent, so that the
 * server's findings (`quotas[1]: …`) show on the row they are about; rows left empty are not sent. */
function planBody(form) {
  const value = (name) => form.elements.namedItem(name).value.trim();
  const quotas = [];
  for (const input of $("cm-quota-rows").querySelectorAll("input")) {
    input.name = input.value.trim() ? `quotas[${quotas.length}]` : "";
    if (input.value.trim()) quotas.push({ venue: input.dataset.venue, specialties: parseMix(input.value) });
  }
  return {
    project_type: value("project_type"), total: whole(value("total")), representatives: whole(value("representatives") || "0"),
    budget_yuan: value("budget_yuan") || null, complex_project: form.elements.namedItem("complex_project").checked,
    exclude_home_region: form.elements.namedItem("exclude_home_region").checked, quotas,
    parties: { tenderer: value("tenderer"), authority: value("authority") || null, supervisor: value("supervisor") || null,
      bidders: value("bidders").split("\n").map((b) => b.trim()).filter(Boolean) },
  };
}

function renderPlan(committee) {
  const plan = committee && committee.plan;
  $("cm-plan-current").replaceChildren(plan
    ? el("dl", { class: "facts" },
      el("dt", {}, t("cm.plan_version")), el("dd", {}, String(committee.plan_version)),
      el("dt", {}, t("cm.type")), el("dd", {}, (rules.find((r) => r.project_type === plan.project_type) || { name: plan.project_type }).name),
      el("dt", {}, t("cm.total")), el("dd", {}, t("cm.total_value", { total: plan.total, reps: plan.representatives })),
      el("dt", {}, t("cm.quotas_short")), el("dd", {}, plan.quotas.map((q) => `${venueLabel(q.venue)} ${mix(q.specialties)}`).join("；")))
    : el("p", { class: "muted" }, t("cm.no_plan")));
}

// --- draws ---------------------------------------------------------------------------------------------------
async function act(path, doneKey) {
  $("cm-draw-status").textContent = "";
  try {
    const answer = await io.call(`/sessions/${shown.session.id}${path}`, { method: "POST" });
    // A draw request answers with its draws; no-shows with those absent and their replacement draws.
    const draws = Array.isArray(answer) ? answer : answer.replacements;
    const failed = draws.filter((d) => d.error);
    $("cm-draw-status").textContent = failed.length ? failed.map((d) => d.error.message).join("；")
      : t(doneKey, { absent: (answer.absent || []).length, draws: draws.length });
  } catch (err) {
    $("cm-draw-status").textContent = err.message;
  }
  await io.refreshSession();
}

let loadingRules = null;
/** The rule table, read once at the first session shown (it is configuration: fixed while the coordinator runs). */
function loadRules() {
  loadingRules = loadingRules || io.call("/committee/rules").then((answer) => {
    rules = answer.project_types;
    if (shown) render(shown);
  }, () => {
    loadingRules = null; // tried again at the next render
  });
}

// --- rendering -----------------------------------------------------------------------------------------------
/** ``data``: {session, committee, offers} of a session hosted here (offers null once it no longer waits), or null. */
export function render(data) {
  if (!data || !shown || data.session.id !== shown.session.id) { // another session: nothing typed carries over
    filled = { venues: null, version: null };
    $("cm-plan-form").reset();
    $("cm-quota-rows").replaceChildren();
  }
  shown = data && OPEN.includes(data.session.state) ? data : null;
  $("cm").hidden = !shown;
  if (!shown) return;
  const { session, committee, offers } = shown;
  if (!rules.length) loadRules();
  const waiting = session.state === "waiting";
  const drawn = Boolean(committee && committee.draws.some((d) => d.purpose === "initial" && d.outcome === "drawn"));
  $("cm-plan-form").hidden = !waiting || drawn;
  if (waiting && !drawn) fillPlanForm(committee, offers);
  $("cm-rule").textContent = ruleText($("cm-type").value);
  renderPlan(committee);
  const reps = committee ? committee.plan.representatives : 0;
  $("cm-rep-form").hidden = !committee || reps === 0;
  $("cm-rep-count").textContent = committee ? t("cm.rep_count", { n: reps }) : "";
  renderDraws($("cm-draws"), committee ? committee.draws : [],
    (d) => io.call(`/sessions/${session.id}/committee/draws/${d.draw_id}`));
  $("cm-draw").disabled = !committee;
}

export function init(deps) {
  io = deps;
  $("cm-type").addEventListener("change", () => {
    $("cm-rule").textContent = ruleText($("cm-type").value);
  });
  onSubmit($("cm-plan-form"), (f) => io.call(`/sessions/${shown.session.id}/committee/plan`, { method: "PUT",
    body: planBody(f) }), () => io.refreshSession(), "cm.plan_saved");
  onSubmit($("cm-rep-form"), (f) => io.call(`/sessions/${shown.session.id}/committee/representatives`, {
    method: "POST", body: { name: f.elements.namedItem("name").value.trim(),
      id_number: f.elements.namedItem("id_number").value.trim() } }), async () => {
    $("cm-rep-form").reset();
    await io.refreshSession();
  }, "cm.rep_done");
  $("cm-draw").addEventListener("click", () => act("/committee/draws", "cm.draw_done"));
  $("cm-no-shows").addEventListener("click", () => act("/committee/no-shows", "cm.no_shows_done"));
}
