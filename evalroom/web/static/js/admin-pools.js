// The admin's expert pools: a region's file imported all or nothing (every error of a refused file in a table:
// row, field, code, message), the pool searched by name, specialty or employer and filtered by state, and one
// expert's record with their recent evaluations and a change of state with the reason the rules require.
// Identity numbers arrive masked from the API and stay so.

import { api, ApiError } from "./api.js";
import * as i18n from "./i18n.js";
import "./committee-text.js";
import { $, el, fileText, onSubmit, rows, when } from "./ui.js";

const t = i18n.t;
let failed = () => {};
let shared = { regions: [] };
let pool = [];
let expert = null; // the expert whose record is open
const SHOWN = 200; // rows shown at once; the search narrows the rest

function region() {
  return $("pool-region").value;
}

async function loadPool() {
  if (!region()) {
    pool = [];
    return showPool();
  }
  try {
    pool = await api(`/regions/${region()}/experts`);
  } catch (err) {
    return failed(err);
  }
  showPool();
}

function matches(x, words) {
  const text = [x.name, x.code || "", x.employer, ...x.specialties].join(" ").toLowerCase();
  return words.every((w) => text.includes(w));
}

function showPool() {
  const words = $("pool-search").value.trim().toLowerCase().split(/\s+/).filter(Boolean);
  const state = $("pool-state").value;
  const found = pool.filter((x) => (!state || x.credit_status === state) && matches(x, words));
  $("pool-count").textContent = t("ad.shown", { n: Math.min(found.length, SHOWN), total: found.length });
  rows($("pool-body"), found.slice(0, SHOWN), (x) => el("tr", {},
    el("td", {}, x.name), el("td", {}, x.code || "—"), el("td", { class: "mono" }, x.id_number),
    el("td", {}, x.employer), el("td", {}, x.specialties.join("，")),
    el("td", {}, el("span", { class: x.credit_status === "active" ? "ok" : "bad" }, t(`credit.${x.credit_status}`))),
    el("td", {}, el("button", { type: "button", class: "secondary", onclick: () => openExpert(x.id) },
      t("ad.expert_open"), el("span", { class: "visually-hidden" }, ` ${x.name}`)))), "ad.none");
}

async function openExpert(id, focus = true) {
  let x;
  try {
    x = await api(`/experts/${id}`);
  } catch (err) {
    return failed(err);
  }
  expert = x;
  $("expert-part").hidden = false;
  $("expert-h").textContent = `${x.name}（${x.code || x.id_number}）`;
  const fact = (key, value) => [el("dt", {}, t(key)), el("dd", {}, value)];
  $("expert-facts").replaceChildren(
    ...fact("ad.expert_id", x.id_number), ...fact("ad.employer", x.employer),
    ...fact("ad.specialties", x.specialties.join("，")), ...fact("ad.certificate", x.certificate || "—"),
    ...fact("ad.credit", t(`credit.${x.credit_status}`) + (x.credit_reason ? `：${x.credit_reason}` : "")),
    ...fact("ad.punished", t(x.punished ? "ad.yes" : "ad.no")),
    ...fact("ad.unavailable", x.unavailable.map(([a, b]) => `${a} – ${b}`).join("，") || "—"));
  const list = (id, items, line) => $(id).replaceChildren(...(items.length ? items.map((i) => el("li", {}, line(i)))
    : [el("li", { class: "muted" }, t("ad.none"))]));
  list("expert-recent", x.recent_evaluations, (e) => `${e.date} ${e.tenderer}`);
  list("expert-sessions", x.sessions, (p) => `${when(p.scheduled_start)} ${p.session_code}：${t(`cp.state.${p.member_state}`)}`
    + (p.vacancy_reason ? `（${p.vacancy_reason}）` : ""));
  $("expert-rating-average").textContent = x.rating_average ? t("ad.rating_average", { average: x.rating_average,
    n: x.ratings.length }) : "";
  list("expert-ratings", x.ratings, (r) => `${when(r.rated_at)} ${r.session_code || ""} ${t(`ad.rater.${r.rater}`)}：`
    + `${r.score}${r.comment ? `（${r.comment}）` : ""}`);
  list("expert-flags", x.flags, (f) => `${when(f.created_at)} ${f.session_code} ${t(`level.${f.level}`)}：${f.text}`);
  $("cr-status").value = x.credit_status === "active" ? "suspended" : "active";
  if (focus) $("expert-h").focus();
}

function showImportErrors(err) {
  const table = $("import-errors");
  table.hidden = !(err instanceof ApiError && err.code === "import_rejected");
  if (table.hidden) return;
  rows($("import-errors-body"), err.details, (d) => el("tr", {},
    el("td", {}, String(d.row)), el("td", {}, d.field || "—"), el("td", { class: "mono" }, d.code),
    el("td", {}, d.message)), "ad.none");
}

export function start(reloadAll, fail) {
  failed = fail;
  $("pool-region").addEventListener("change", () => {
    $("expert-part").hidden = true;
    loadPool();
  });
  $("pool-search").addEventListener("input", showPool);
  $("pool-state").addEventListener("change", showPool);
  const form = $("import-form");
  onSubmit(form, async (f) => {
    const input = f.elements.namedItem("content");
    const name = input.files[0] ? input.files[0].name.toLowerCase() : "";
    try {
      return await api(`/regions/${region()}/experts/import`, { method: "POST", body: {
        format: name.endsWith(".json") ? "json" : "csv", content: await fileText(input) } });
    } catch (err) {
      showImportErrors(err);
      // The rows' errors are in their table; the form's line keeps the message alone.
      throw err instanceof ApiError ? new ApiError(err.status, err.code, err.message, []) : err;
    }
  }, async (result) => {
    showImportErrors(null);
    form.reset();
    form.querySelector("[data-form-status]").textContent = t("ad.imported", result);
    await loadPool();
    await reloadAll(); // the region's specialties follow its pool
  });
  onSubmit($("credit-form"), (f) => api(`/experts/${expert.id}`, { method: "PATCH", body: {
    credit_status: f.elements.namedItem("credit_status").value, reason: f.elements.namedItem("reason").value.trim(),
  } }), async () => {
    $("credit-form").elements.namedItem("reason").value = "";
    await openExpert(expert.id, false);
    await loadPool();
  }, "ad.saved");
}

export function show(state) {
  shared = state;
  const select = $("pool-region");
  const chosen = select.value;
  select.replaceChildren(...shared.regions.map((r) => el("option", { value: r.id }, `${r.name}（${r.code}）`)));
  if (chosen && shared.regions.some((r) => r.id === chosen)) select.value = chosen;
  if (select.value !== chosen) loadPool();
}
