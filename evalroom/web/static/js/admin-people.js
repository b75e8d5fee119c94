// The admin's people: staff accounts (create, disable and enable, unlock, a new password) and the sessions across
// the coordinator, filtered by state, day and host venue, each with its supervisors and a form to assign one, and
// a button that opens its committee (js/admin-committee.js).

import { api } from "./api.js";
import * as i18n from "./i18n.js";
import { $, el, onSubmit, rows, when } from "./ui.js";

const t = i18n.t;
let reload = async () => {};
let failed = () => {};
let shared = { venues: [], accounts: [] };
let sessions = [];
let supervisors = {}; // session id → its supervisors
let resetting = null; // the account whose new password is being typed
let assigning = null; // the session a supervisor is being assigned to
let openCommittee = null; // (session) => shows its committee

const venueName = (id) => (shared.venues.find((v) => v.id === id) || { name: id }).name;

// --- accounts ------------------------------------------------------------------------------------------------
function accountState(a) {
  if (a.disabled) return el("span", { class: "bad" }, t("ad.disabled"));
  if (a.locked_until && new Date(a.locked_until) > new Date()) {
    return el("span", { class: "bad" }, t("ad.locked_until", { time: when(a.locked_until) }));
  }
  return el("span", { class: "ok" }, t("ad.enabled"));
}

function showAccounts() {
  rows($("accounts-body"), shared.accounts, (a) => {
    const hidden = el("span", { class: "visually-hidden" }, ` ${a.username}`);
    const locked = a.locked_until && new Date(a.locked_until) > new Date();
    return el("tr", {},
      el("td", {}, a.username), el("td", {}, a.display_name), el("td", {}, t(`role.${a.role}`)),
      el("td", {}, a.venue_id ? venueName(a.venue_id) : "—"), el("td", {}, accountState(a)),
      el("td", { class: "buttons" },
        el("button", { type: "button", class: "secondary", onclick: () => change(a, { disabled: !a.disabled }) },
          t(a.disabled ? "ad.enable" : "ad.disable"), hidden.cloneNode(true)),
        locked ? el("button", { type: "button", class: "secondary", onclick: () => change(a, { unlock: true }) },
          t("ad.unlock"), hidden.cloneNode(true)) : null,
        el("button", { type: "button", class: "secondary", onclick: () => askPassword(a) },
          t("ad.password_reset"), hidden.cloneNode(true))));
  }, "ad.none");
  const venueSelect = $("ac-venue");
  const chosen = venueSelect.value;
  venueSelect.replaceChildren(...shared.venues.map((v) => el("option", { value: v.id }, `${v.name}（${v.code}）`)));
  if (chosen) venueSelect.value = chosen;
  const supervisorSelect = $("as-account");
  supervisorSelect.replaceChildren(...shared.accounts.filter((a) => a.role === "supervisor" && !a.disabled)
    .map((a) => el("option", { value: a.id }, `${a.display_name}（${a.username}）`)));
}

async function change(a, body) {
  try {
    await api(`/accounts/${a.id}`, { method: "PATCH", body });
  } catch (err) {
    return failed(err);
  }
  $("accounts-status").textContent = t("ad.account_changed", { username: a.username });
  await reload();
}

function askPassword(a) {
  resetting = a;
  $("password-form").hidden = false;
  $("pw-label").textContent = t("ad.password_for", { username: a.username });
  $("pw-new").value = "";
  $("pw-new").focus();
}

function venueRowShown() {
  $("ac-venue-row").hidden = $("ac-role").value !== "hall-operator";
}

// --- sessions ------------------------------------------------------------------------------------------------
function beijingDay(iso) {
  return new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(new Date(iso));
}

const SUPERVISORS_READ = 100; // rows whose supervisors are read: the filters narrow a coordinator's many sessions

async function showSessions() {
  const state = $("ss-state").value, day = $("ss-date").value, host = $("ss-venue").value;
  const shown = sessions.filter((s) => (!state || s.state === state) && (!host || s.host_venue_id === host)
    && (!day || beijingDay(s.scheduled_start) === day));
  const unread = shown.slice(0, SUPERVISORS_READ).filter((s) => !(s.id in supervisors));
  try {
    const lists = await Promise.all(unread.map((s) => api(`/sessions/${s.id}/supervisors`)));
    unread.forEach((s, i) => { supervisors[s.id] = lists[i]; });
  } catch (err) {
    return failed(err);
  }
  $("ss-count").textContent = t("ad.shown", { n: shown.length, total: sessions.length });
  rows($("sessions-body"), shown, (s) => el("tr", {},
    el("td", {}, s.code), el("td", {}, s.title), el("td", {}, venueName(s.host_venue_id)),
    el("td", {}, `${when(s.scheduled_start)} – ${when(s.scheduled_end, { timeStyle: "short" })}`),
    el("td", {}, t(`state.${s.state}`)),
    el("td", {},
      s.id in supervisors ? supervisors[s.id].map((x) => `${x.display_name}（${t(`level.${x.level}`)}）`).join("，") || "—"
        : t("ad.filter_to_see"), " ",
      el("button", { type: "button", class: "secondary", onclick: () => askAssign(s) },
        t("ad.assign"), el("span", { class: "visually-hidden" }, ` ${s.code}`)), " ",
      el("button", { type: "button", class: "secondary", onclick: () => openCommittee(s) },
        t("cp.open"), el("span", { class: "visually-hidden" }, ` ${s.code}`)))), "ad.none");
}

async function loadSessions() {
  try {
    sessions = await api("/sessions");
    supervisors = {};
  } catch (err) {
    return failed(err);
  }
  const venueFilter = $("ss-venue");
  const chosen = venueFilter.value;
  venueFilter.replaceChildren(el("option", { value: "" }, t("ad.all")),
    ...shared.venues.map((v) => el("option", { value: v.id }, v.name)));
  venueFilter.value = chosen;
  await showSessions();
}

function askAssign(s) {
  assigning = s;
  $("assign-form").hidden = false;
  $("assign-h").textContent = t("ad.assign_to", { code: s.code, title: s.title });
  $("assign-h").focus();
}

/** ``committee(session)`` opens a session's committee (js/admin-committee.js). */
export function start(reloadAll, fail, committee) {
  reload = reloadAll;
  failed = fail;
  openCommittee = committee;
  $("ac-role").addEventListener("change", venueRowShown);
  venueRowShown();
  onSubmit($("account-form"), (f) => {
    const body = { username: f.elements.namedItem("username").value.trim(),
      display_name: f.elements.namedItem("display_name").value.trim(), role: f.elements.namedItem("role").value,
      password: f.elements.namedItem("password").value };
    if (body.role === "hall-operator") body.venue_id = f.elements.namedItem("venue_id").value;
    return api("/accounts", { method: "POST", body });
  }, async () => {
    $("account-form").reset();
    venueRowShown();
    await reload();
  }, "ad.saved");
  onSubmit($("password-form"), (f) => api(`/accounts/${resetting.id}`, { method: "PATCH",
    body: { password: f.elements.namedItem("password").value } }), async () => {
    $("password-form").hidden = true;
    $("accounts-status").textContent = t("ad.password_done", { username: resetting.username });
    $("accounts-status").focus();
  });
  $("pw-cancel").addEventListener("click", () => {
    $("password-form").hidden = true;
  });
  for (const id of ["ss-state", "ss-date", "ss-venue"]) $(id).addEventListener("change", showSessions);
  onSubmit($("assign-form"), (f) => api(`/sessions/${assigning.id}/supervisors`, { method: "POST", body: {
    account_id: f.elements.namedItem("account_id").value, level: f.elements.namedItem("level").value,
  } }), loadSessions, "ad.assigned");
  $("assign-cancel").addEventListener("click", () => {
    $("assign-form").hidden = true;
  });
}

export function show(state) {
  shared = state;
  showAccounts();
  loadSessions();
}
