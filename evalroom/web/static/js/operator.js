// The hall operator's console (docs/web.md): the venue and its link, offers to answer, rooms and seat devices,
// check-in with the one-time login code, and — for the sessions hosted here — the session live with every
// venue's connectivity, the committee and the host's controls, and the work after it (js/operator-after.js:
// publication and objections, fee batches, ratings), the host's preparation and forming of the committee
// (js/operator-prep.js, js/operator-committee.js); and the sessions this venue lends seats to, from their check-in
// on (js/operator-guest.js). The server decides everything; the page shows what it answers, refusals included.
//
// What is not a session event (rooms, offers, the venue's link, the sessions it is a guest of) is polled every
// POLL_MS and on "refresh"; the chosen session follows its event stream (js/live.js), reloading on each burst of
// events.

import { api, apiBytes, ApiError, setToken, token } from "./api.js";
import * as i18n from "./i18n.js";
import "./operator-text.js";
import { coalesced, EventStream } from "./live.js";
import { MediaRoom, tile } from "./media.js";
import * as after from "./operator-after.js";
import * as faults from "./fault-marks.js";
import { resetButton } from "./factor-reset.js";
import * as forming from "./operator-committee.js";
import * as corrections from "./operator-corrections.js";
import * as guest from "./operator-guest.js";
import * as prep from "./operator-prep.js";
import * as signing from "./operator-signing.js";

const $ = (id) => document.getElementById(id);
const t = i18n.t;
const DEVICES = ["pc", "network", "microphone", "speaker", "camera"];
const POLL_MS = 15000;
const DESK_KEY = "evalroom.operator.desk";
const SCORE = /^(0(\.\d{1,4})?|1(\.0{1,4})?)$/;

let me = null;
let venue = null;
let rooms = [];
let offers = [];
let sessions = [];
let guestSessions = []; // GET /venues/{id}/guest-sessions: the sessions this venue lends seats to, from check-in on
let chosen = null; // the chosen session's id
let view = null; // {session, status, committee, after} of the chosen session
let stream = null;
let timer = null;
let result = null; // the last check-in or login-code answer, shown until the next
let declining = null; // the offer whose decline form is open
let room = null; // the chosen session's media room while it runs

// --- small helpers -------------------------------------------------------------------------------------------
function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") e.className = value;
    else if (key === "dataset") Object.assign(e.dataset, value);
    else if (/^(aria-|data-|scope$|colspan$|tabindex$|role$|form$)/.test(key)) e.setAttribute(key, value);
    else e[key] = value;
  }
  e.append(...children.filter((c) => c !== null && c !== undefined));
  return e;
}

function when(iso, parts = { dateStyle: "short", timeStyle: "short" }) {
  if (!iso) return "—";
  return new Intl.DateTimeFormat(i18n.lang === "en" ? "en-GB" : "zh-CN", { ...parts, hourCycle: "h23" }).format(new Date(iso));
}

const clock = (iso) => when(iso, { hour: "2-digit", minute: "2-digit" });

// Every call goes through here: a token that expired or was revoked ends the page's work and says so.
async function call(path, options, fetcher = api) {
  try {
    return await fetcher(path, options);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) expired(err);
    throw err;
  }
}

function expired(err) {
  clearInterval(timer);
  if (stream) stream.stop();
  leaveRoom();
  setToken(null);
  $("notice").replaceChildren(el("p", { class: "warning" }, t("op.expired", { message: err.message }), " ",
    el("a", { href: "/" }, t("op.login_again"))));
}

function fieldError(input, errorId, message) {
  for (const i of Array.isArray(input) ? input : [input]) i.setAttribute("aria-invalid", message ? "true" : "false");
  $(errorId).textContent = message;
  return !message;
}

// --- loading -------------------------------------------------------------------------------------------------
const refreshAll = coalesced(async () => {
  [venue, rooms, offers, sessions, guestSessions] = await Promise.all([
    call(`/venues/${me.venue_id}`), call(`/venues/${me.venue_id}/rooms`), call("/offers"), call("/sessions"),
    call(`/venues/${me.venue_id}/guest-sessions`)]);
  renderVenue();
  renderOffers();
  renderRooms();
  renderSessions();
  guest.render(guestSessions, venue.name, call);
  renderLive();
  if (chosen) await refreshSession();
  $("refreshed").textContent = t("op.refreshed", { time: when(new Date().toISOString(), { timeStyle: "medium" }) });
});

const refreshSession = coalesced(async () => {
  const id = chosen;
  if (!id) return;
  const [session, status, committee] = await Promise.all([
    call(`/sessions/${id}`), call(`/sessions/${id}/status`),
    call(`/sessions/${id}/committee`).catch((err) => {
      if (err instanceof ApiError && err.status === 404) return null; // no plan yet
      throw err;
    })]);
  // The work after the session, for the host's operators (a guest's never reach here: they see no session).
  const hosted = session.host_venue_id === me.venue_id;
  const [afterwards, preparing] = hosted ? await Promise.all([after.load(session, status, committee), prep.load(session)])
    : [null, null];
  if (id !== chosen) return; // another session was chosen meanwhile
  view = { session, status, committee, after: afterwards, prep: preparing,
    forming: hosted ? { session, committee, offers: preparing && preparing.offers } : null };
  sessions = sessions.map((s) => (s.id === id ? session : s)); // the chooser shows its state too
  renderSessions();
  renderSession();
});

function report(err) {
  if (!(err instanceof ApiError) || err.status !== 401) $("notice").replaceChildren(el("p", { class: "error" }, err.message));
}

// --- the venue -----------------------------------------------------------------------------------------------
function online(isOnline) {
  return el("span", { class: isOnline ? "ok" : "bad" }, t(isOnline ? "op.online" : "op.offline"));
}

function renderVenue() {
  $("who").textContent = `${venue.name}　${me.subject}`;
  $("venue-name").textContent = `${venue.name}（${venue.code}，${venue.city}）`;
  $("venue-online").replaceChildren(online(venue.online));
  $("venue-heartbeat").textContent = when(venue.last_heartbeat_at);
}

// --- offers --------------------------------------------------------------------------------------------------
function renderOffers() {
  $("offers-empty").hidden = offers.length > 0;
  $("offers-table").hidden = offers.length === 0;
  $("offers-body").replaceChildren(...offers.map((o) => {
    const dateId = `offer-${o.offer_id}-date`;
    const actions = el("td");
    if (o.state === "pending") {
      actions.append(
        el("button", { type: "button", "aria-describedby": dateId, onclick: () => confirmOffer(o) }, t("op.confirm")), " ",
        el("button", { type: "button", class: "secondary", "aria-describedby": dateId, onclick: () => openDecline(o) },
          t("op.decline")));
    }
    return el("tr", { dataset: { offer: o.offer_id } },
      el("th", { scope: "row", id: dateId }, o.date),
      el("td", {}, `${clock(o.starts_at)}–${clock(o.ends_at)}`),
      el("td", {}, String(o.seats)),
      el("td", {}, o.specialties.join("、") || "—"),
      el("td", {}, when(o.respond_by)),
      el("td", { class: `offer-${o.state}` }, t(`offer.${o.state}`),
        o.decline_reason ? `（${o.decline_reason}）` : null),
      el("td", {}, (o.assigned_seats || []).join("、") || "—"),
      actions);
  }));
  renderSeatChoice();
}

async function confirmOffer(offer) {
  $("offers-status").textContent = $("offers-error").textContent = "";
  try {
    const answer = await call(`/offers/${offer.offer_id}/confirm`, { method: "POST", body: { version: offer.version } });
    $("offers-status").textContent = t("op.offer_confirmed", { date: answer.date, seats: answer.assigned_seats.join("、") });
  } catch (err) {
    $("offers-error").textContent = err.message;
  }
  await refreshAll();
}

function openDecline(offer) {
  declining = offer;
  $("decline-form").hidden = false;
  $("decline-label").textContent = t("op.decline_label", { date: offer.date });
  $("decline-reason").value = "";
  $("decline-reason").focus();
}

function closeDecline() {
  declining = null;
  $("decline-form").hidden = true;
}

$("decline-cancel").addEventListener("click", closeDecline);
$("decline-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const offer = declining;
  $("offers-status").textContent = $("offers-error").textContent = "";
  try {
    await call(`/offers/${offer.offer_id}/decline`, {
      method: "POST", body: { version: offer.version, reason: $("decline-reason").value } });
    closeDecline();
    $("offers-status").textContent = t("op.offer_declined", { date: offer.date });
  } catch (err) {
    $("offers-error").textContent = err.message;
    return;
  }
  await refreshAll();
});

// --- rooms and seats -----------------------------------------------------------------------------------------
function reasonText(reason) {
  // The server's reasons (sites/devices.py unusable_reasons), in the page's language.
  let m;
  if ((m = /^room marked faulty: (.*)$/s.exec(reason))) return t("op.reason_room_fault", { reason: m[1] });
  if ((m = /^seat marked faulty: (.*)$/s.exec(reason))) return t("op.reason_seat_fault", { reason: m[1] });
  if ((m = /^(\w+): (\w+)$/.exec(reason)) && DEVICES.includes(m[1])) {
    return t("op.reason_device", { device: t(`device.${m[1]}`), state: t(`devstate.${m[2]}`) });
  }
  return reason;
}

function renderRooms() {
  if (!rooms.length) {
    $("rooms-list").replaceChildren(el("p", {}, t("op.rooms_none")));
    return;
  }
  $("rooms-list").replaceChildren(...rooms.map((room) => el("table", { class: "devices", dataset: { room: room.code } },
    el("caption", {}, t("op.room_caption", { name: room.name, code: room.code, kind: t(`room.${room.kind}`) }),
      room.fault ? el("span", { class: "bad" }, " ", t("op.reason_room_fault", { reason: room.fault })) : null, " ",
      faults.control("room", room, room.code)),
    el("thead", {}, el("tr", {},
      el("th", { scope: "col" }, t("op.seat_col")),
      ...DEVICES.map((d) => el("th", { scope: "col" }, t(`device.${d}`))),
      el("th", { scope: "col" }, t("op.usable_col")),
      el("th", { scope: "col" }, t("op.reported_col")),
      el("th", { scope: "col" }, t("op.fault_col")))),
    el("tbody", {}, ...room.seats.map((seat) => el("tr", { dataset: { seat: `${room.code}/${seat.code}` } },
      el("th", { scope: "row" }, seat.code),
      ...DEVICES.map((d) => {
        const state = seat.devices[d] || "unknown";
        return el("td", { class: `dev dev-${state}`, dataset: { device: d } }, t(`devstate.${state}`));
      }),
      el("td", { class: seat.usable ? "ok" : "bad" },
        seat.usable ? t("op.usable") : t("op.unusable", { reasons: seat.unusable_reasons.map(reasonText).join("；") })),
      el("td", {}, when(seat.devices_reported_at)),
      el("td", {}, faults.control("seat", seat, `${room.code}/${seat.code}`))))))));
  renderSeatChoice();
}

function renderSeatChoice() {
  // The venue's usable seats; those a confirmed offer booked first, with the offers' dates (a guest venue
  // seats its experts in the seats booked for them; the server refuses any other).
  const booked = new Map();
  for (const o of offers.filter((o) => o.state === "confirmed")) {
    for (const code of o.assigned_seats || []) booked.set(code, [...(booked.get(code) || []), o.date]);
  }
  const usable = rooms.flatMap((r) => r.seats.filter((s) => s.usable).map((s) => `${r.code}/${s.code}`));
  usable.sort((a, b) => (booked.has(b) - booked.has(a)) || a.localeCompare(b));
  const select = $("ci-seat");
  const current = select.value;
  const options = usable.map((code) => el("option", { value: code },
    booked.has(code) ? t("op.seat_booked", { seat: code, dates: booked.get(code).join("、") }) : code));
  select.replaceChildren(el("option", { value: "" }, usable.length ? "—" : t("op.seats_none")), ...options);
  if (usable.includes(current)) select.value = current;
}

// --- check-in ------------------------------------------------------------------------------------------------
function radios(name) {
  return [...document.querySelectorAll(`#checkin-form input[name="${name}"]`)];
}

function checkForm() {
  const idNumber = $("ci-id-number");
  const score = $("ci-face-score");
  const checks = [
    fieldError(idNumber, "ci-id-number-error", idNumber.value.trim() ? "" : t("op.error.required")),
    fieldError(radios("id_card"), "ci-card-error", radios("id_card").some((r) => r.checked) ? "" : t("op.error.choose")),
    fieldError(radios("face_match"), "ci-face-error", radios("face_match").some((r) => r.checked) ? "" : t("op.error.choose")),
    fieldError(score, "ci-face-score-error", !score.value.trim() || SCORE.test(score.value.trim()) ? "" : t("op.error.score")),
    fieldError($("ci-seat"), "ci-seat-error", $("ci-seat").value ? "" : t("op.error.choose")),
  ];
  return checks.filter((ok) => !ok).length;
}

const FIELDS = { id_number: "ci-id-number", face_score: "ci-face-score", seat: "ci-seat" };

$("checkin-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("checkin-error").textContent = "";
  const bad = checkForm();
  if (bad) {
    $("checkin-error").textContent = t("op.checkin_missing", { count: bad });
    $("checkin-form").querySelector('[aria-invalid="true"]').focus();
    return;
  }
  const body = {
    id_number: $("ci-id-number").value.trim(),
    id_card: radios("id_card").find((r) => r.checked).value,
    face_match: radios("face_match").find((r) => r.checked).value,
    seat: $("ci-seat").value,
  };
  if ($("ci-face-score").value.trim()) body.face_score = $("ci-face-score").value.trim();
  let answer;
  try {
    answer = await call("/committee/check-in", { method: "POST", body });
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    $("checkin-error").textContent = err.code === "not_on_committee" ? t("op.error.not_on_committee") : err.message;
    for (const d of err.details) {
      const id = FIELDS[Array.isArray(d.loc) ? d.loc[d.loc.length - 1] : d.loc];
      if (id) $(id).setAttribute("aria-invalid", "true");
    }
    ($("checkin-form").querySelector('[aria-invalid="true"]') || $("ci-id-number")).focus();
    return;
  }
  result = { kind: answer.checked_in ? "code" : "failed", answer };
  if (answer.checked_in) {
    remember(answer.member);
    $("checkin-form").reset();
    refreshAll().catch(report); // the member shows in the session this venue takes part in
  }
  renderResult(true);
  if (chosen) refreshSession();
});

function renderResult(focus = false) {
  const box = $("checkin-result");
  if (!result) return box.replaceChildren();
  const { kind, answer } = result;
  if (kind === "failed") {
    const reason = /ID card/.test(answer.reason) ? t("op.reason.id_card") : t("op.reason.face");
    box.replaceChildren(el("p", { class: "warning failed", tabindex: "-1" },
      t("op.checkin_failed", { name: answer.member.name, reason })));
  } else {
    const member = answer.member || desk().find((m) => m.member_id === answer.member_id) || {};
    const intro = kind === "code" ? t("op.checked_in", { name: member.name, seat: member.seat })
      : t("op.new_code_for", { name: member.name, seat: member.seat });
    box.replaceChildren(el("div", { class: "code-box", tabindex: "-1" },
      el("p", {}, intro),
      el("p", { class: "login-code", id: "login-code" }, answer.login_code),
      el("p", {}, t("op.code_expires", { time: when(answer.login_code_expires_at) }))));
  }
  if (focus) box.firstElementChild.focus();
}

// The members checked in at this desk, kept for this tab (sessionStorage): a guest venue's operator cannot
// read the committee, so this is where they find a member again to give a new login code.
function desk() {
  return JSON.parse(sessionStorage.getItem(DESK_KEY) || "[]");
}

function remember(member) {
  const list = desk().filter((m) => m.member_id !== member.member_id);
  list.push({ member_id: member.member_id, name: member.name, seat: member.seat });
  sessionStorage.setItem(DESK_KEY, JSON.stringify(list));
  renderDesk();
}

function renderDesk() {
  const list = desk();
  $("desk-empty").hidden = list.length > 0;
  $("desk-list").replaceChildren(...list.map((m) => el("li", {}, `${m.name}（${m.seat}）`, " ", codeButton(m))));
}

function codeButton(member) {
  return el("button", { type: "button", class: "secondary", "aria-label": `${t("op.new_code")}：${member.name}`,
                        onclick: () => newCode(member) }, t("op.new_code"));
}

async function newCode(member) {
  $("checkin-error").textContent = "";
  try {
    const answer = await call(`/committee/members/${member.member_id}/login-code`, { method: "POST" });
    result = { kind: "new-code", answer: { ...answer, member: { name: member.name, seat: member.seat } } };
    renderResult(true);
  } catch (err) {
    $("checkin-error").textContent = err.message;
  }
}

// --- sessions hosted here ------------------------------------------------------------------------------------
function renderSessions() {
  $("sessions-none").hidden = sessions.length > 0;
  $("sessions-none").textContent = t("op.sessions_none");
  $("sessions-pick").hidden = sessions.length === 0;
  const select = $("session-select");
  select.replaceChildren(...sessions.map((s) => el("option", { value: s.id },
    `${t("op.session_title", { title: s.title, code: s.code })} — ${when(s.scheduled_start)} — ${t(`state.${s.state}`)}`)));
  if (!sessions.some((s) => s.id === chosen)) {
    // The first session still to run or running; else the first.
    const next = sessions.find((s) => !["ended", "archived"].includes(s.state)) || sessions[0];
    choose(next ? next.id : null);
  }
  if (chosen) select.value = chosen;
}

$("session-select").addEventListener("change", () => choose($("session-select").value));

function choose(id) {
  if (id === chosen) return;
  if (stream) stream.stop();
  stream = null;
  chosen = id;
  view = null;
  leaveRoom();
  after.render(null);
  prep.render(null);
  forming.render(null);
  signing.render(null);
  $("session").hidden = true;
  $("conn").textContent = "";
  renderLive();
  if (!id) return;
  stream = new EventStream(id, {
    onStatus: (status, error) => {
      $("conn").textContent = t(`conn.${status}`, { message: error ? error.message : "" });
      $("conn").dataset.status = status;
    },
    onResync: () => refreshSession(),
    onEvent: () => refreshSession(),
  });
  stream.start();
}

function renderSession() {
  const { session, status, committee } = view;
  $("session").hidden = false;
  $("session-h").textContent = t("op.session_title", { title: session.title, code: session.code });
  $("state").textContent = t(`state.${status.state}`);
  $("phase").textContent = status.phase ? t(`phase.${status.phase}`) : "—";
  $("scheduled").textContent = `${when(session.scheduled_start)}–${clock(session.scheduled_end)}`;
  $("check-in-state").textContent = session.check_in_opened_at
    ? t("op.check_in_open", { time: when(session.check_in_opened_at) }) : t("op.check_in_closed");
  $("progress").textContent = ["review", "detailed_review"].includes(status.phase)
    ? t("op.progress_value", { submitted: status.submitted, evaluators: status.evaluators }) : "—";
  renderConnectivity(status);
  renderControls(session, status);
  signing.render(session.id, status, session.host_venue_id === me.venue_id);
  corrections.render(session, status, committee, session.host_venue_id === me.venue_id).catch(report);
  renderCommittee(committee);
  after.render(view.after);
  prep.render(view.prep);
  forming.render(view.forming);
  renderLive();
}

function venueLabel(v, guests) {
  // The host is this venue (a host operator sees only its own sessions); guests are numbered, not named.
  return v.role === "host" ? t("op.host_venue", { name: v.venue_id === me.venue_id ? venue.name : "—" })
    : t("op.guest_venue", { n: guests.indexOf(v) + 1 });
}

function renderConnectivity(status) {
  const guests = status.venues.filter((v) => v.role === "guest");
  $("venues-body").replaceChildren(...status.venues.map((v) => el("tr", { dataset: { role: v.role } },
    el("th", { scope: "row" }, venueLabel(v, guests)),
    el("td", {}, online(v.online),
      v.venue_id === me.venue_id && venue.last_heartbeat_at ? `（${when(venue.last_heartbeat_at)}）` : null))));
  const label = (id) => venueLabel(status.venues.find((v) => v.venue_id === id) || { role: "guest" }, guests);
  $("faults").replaceChildren(...status.faults.map((f) => el("li", { class: f.fixed_at ? "" : "warning" },
    t("op.fault", { venue: label(f.venue_id), cause: f.cause, time: when(f.started_at), detail: f.detail }),
    f.fixed_at ? ` — ${t("op.fault_fixed", { time: when(f.fixed_at), outcome: f.outcome })}` : null)));
}

// --- the host's controls -------------------------------------------------------------------------------------
function renderControls(session, status) {
  // Only the host venue's operators move a session (the server refuses anyone else all the same); an ended
  // one moves no more.
  const { state, phase } = status;
  $("controls").hidden = session.host_venue_id !== me.venue_id || ["ended", "archived"].includes(state);
  $("ctl-open").hidden = !(state === "waiting" && !session.check_in_opened_at);
  $("ctl-start").hidden = state !== "waiting";
  $("ctl-suspend").hidden = state !== "evaluating";
  $("ctl-resume").hidden = state !== "suspended";
  $("ctl-end").hidden = !(state === "evaluating" && phase === "report_signing");
  $("ctl-leave").hidden = !(state === "evaluating" && phase && phase !== "report_signing");
  $("ctl-leave").textContent = phase ? t("op.leave", { phase: t(`phase.${phase}`) }) : "";
}

async function control(path, body, done) {
  $("controls-error").textContent = $("controls-status").textContent = "";
  try {
    await call(`/sessions/${chosen}${path}`, { method: "POST", body });
    $("controls-status").textContent = done;
    $("control-reason").value = "";
  } catch (err) {
    $("controls-error").textContent = err.message; // e.g. invalid_transition: what is missing
  }
  await refreshSession();
  // The button pressed may be hidden now: keep the keyboard's place at the outcome.
  if (document.activeElement === document.body || document.activeElement.hidden) {
    ($("controls-error").textContent ? $("control-reason") : $("controls-status")).focus();
  }
}

$("ctl-open").addEventListener("click", () => control("/check-in/open", undefined, t("op.done.open")));
for (const id of ["ctl-start", "ctl-suspend", "ctl-resume", "ctl-end"]) {
  $(id).addEventListener("click", () => {
    const action = $(id).dataset.action;
    const reason = $("control-reason").value.trim();
    control("/state", reason ? { action, reason } : { action }, t(`op.done.${action}`));
  });
}
$("ctl-leave").addEventListener("click", () => {
  const phase = view.status.phase;
  control("/phase", { leave: phase }, t("op.done.leave", { phase: t(`phase.${phase}`) }));
});

// --- the committee -------------------------------------------------------------------------------------------
function renderCommittee(committee) {
  $("committee-table").hidden = !committee;
  if (!committee) {
    $("committee-summary").textContent = t("op.committee_none");
    return;
  }
  const n = (state) => committee.counts[state] || 0;
  $("committee-summary").textContent = t("op.committee_summary", {
    total: committee.plan.total, seated: n("seated"), checked_in: n("checked_in"), drawn: n("drawn") });
  $("committee-body").replaceChildren(...committee.members.map((m) => {
    const mine = m.venue_id === me.venue_id;
    return el("tr", { dataset: { member: m.member_id } },
      el("th", { scope: "row" }, m.name, m.member_id === committee.chair_member_id ? t("op.chair") : null),
      el("td", {}, t(`kind.${m.kind}`)),
      el("td", {}, m.specialty || "—"),
      el("td", {}, t(`member.${m.state}`)),
      el("td", {}, m.seat || "—"),
      el("td", {}, t(mine ? "op.this_venue" : "op.other_venue")),
      el("td", { class: "buttons" }, ...(mine ? [codeButton(m), resetButton(view.session.id, m, call, (text) => {
        $("committee-status").textContent = text;
      })] : [])));
  }));
}

// --- the venue's live view -----------------------------------------------------------------------------------
// While the chosen session runs, the page joins its media room (js/media.js) and watches this venue's own
// publishers — its rooms' cameras and its seats, named "<venue code>/…" —, as the desk's view of the hall.
/** The session whose room the live view is in: the chosen hosted one while it runs, else the running session
 * this venue is a guest of (js/operator-guest.js). */
function liveSession() {
  if (view && ["evaluating", "suspended"].includes(view.status.state)) return view.session.id;
  return guest.running(guestSessions);
}

function renderLive() {
  const target = liveSession();
  $("live").hidden = !chosen && !target;
  if (room && room.sessionId !== target) leaveRoom();
  if (target && !room) joinRoom(target);
  liveStatus();
}

function liveStatus() {
  const shown = $("live-tiles").children.length;
  $("live-status").textContent = room ? t("op.live_count", { count: shown }) : t("op.live_waiting");
}

function leaveRoom() {
  if (room) room.close();
  room = null;
  $("live-tiles").replaceChildren();
}

function ours(publisher) {
  return venue && publisher.startsWith(`${venue.code}/`);
}

async function joinRoom(sessionId) {
  const r = (room = new MediaRoom(sessionId, {
    onPublishers: (publishers) => r === room && watch(publishers),
    onStream: (publisher, stream) => r === room && show(publisher, stream),
  }));
  try {
    await r.join();
  } catch (err) {
    if (r === room) $("live-status").textContent = t("op.live_failed", { message: err.message });
  }
}

function watch(publishers) {
  for (const figure of [...$("live-tiles").children]) {
    if (!publishers.includes(figure.dataset.publisher)) {
      figure.remove();
      room.unsubscribe(figure.dataset.publisher);
    }
  }
  for (const publisher of publishers.filter(ours)) {
    if (!room.subscribed.has(publisher)) room.subscribe(publisher).catch(() => {});
  }
  liveStatus();
}

function show(publisher, stream) {
  const figure = tile(publisher, stream);
  const old = [...$("live-tiles").children].find((f) => f.dataset.publisher === publisher);
  if (old) old.replaceWith(figure);
  else $("live-tiles").append(figure);
  liveStatus();
}

// --- language, logout, boot ----------------------------------------------------------------------------------
$("lang").addEventListener("click", () => {
  i18n.toggle();
  if (!venue) return;
  renderVenue();
  renderOffers();
  renderRooms();
  renderSessions();
  guest.render(guestSessions, venue.name, call);
  renderDesk();
  renderResult();
  renderLive();
  if (view) renderSession();
  if (declining) $("decline-label").textContent = t("op.decline_label", { date: declining.date });
});

$("logout").addEventListener("click", async () => {
  await api("/auth/logout", { method: "POST" }).catch(() => {});
  setToken(null);
  sessionStorage.removeItem(DESK_KEY);
  location.assign("/");
});

$("refresh").addEventListener("click", () => refreshAll().catch(report));

prep.init({ call, refreshAll: () => refreshAll(), refreshSession: () => refreshSession() });
signing.init({ call, refreshSession: () => refreshSession() });
forming.init({ call, refreshSession: () => refreshSession() });
corrections.init({ call, refreshSession: () => refreshSession() });
faults.init({ call, reload: () => refreshAll() });
after.init({ call, bytes: (path) => call(path, undefined, apiBytes), el, when, fieldError, reload: () => refreshSession() });

async function boot() {
  i18n.apply();
  if (!token()) return location.replace("/");
  me = await call("/auth/me");
  if (me.role !== "hall-operator") {
    $("notice").replaceChildren(el("p", { class: "warning" }, t("op.not_operator"), " ", el("a", { href: "/" }, t("op.login_again"))));
    return;
  }
  renderDesk();
  renderLive();
  await refreshAll();
  timer = setInterval(() => refreshAll().catch(report), POLL_MS);
}

boot().catch(report);
