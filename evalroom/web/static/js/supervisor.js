// The supervisor's page: the sessions they supervise, one followed live (status, the live wall), the replay
// player, their marks (annotations, warnings, flagged experts) and complaints; and the scoring-tendency report
// (打分倾向) over the sessions they supervise, for a period. The server decides who may do
// what (a secondary supervisor cannot rule on complaints; a warning needs a running session): the page offers
// what the role suggests and shows the server's message when it refuses.

import { api, apiBytes, resumeOrLogin, setToken } from "./api.js";
import * as i18n from "./i18n.js";
import { coalesced, EventStream } from "./live.js";
import { MediaRoom, tile } from "./media.js";
import { ReplayPlayer } from "./replay.js";
import "./supervisor-text.js";

const $ = (id) => document.getElementById(id);
let me = null;
let current = null; // the chosen session (as GET /sessions lists it)
let stream = null;
let player = null;
let room = null; // the live wall's media room, while the session runs

// --- small helpers -------------------------------------------------------------------------------------------
const pad = (n, width = 2) => String(n).padStart(width, "0");

function localTime(ms, tenths = false) {
  const d = new Date(ms);
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  const date = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  return tenths ? `${date} ${time}.${Math.floor(d.getMilliseconds() / 100)}` : `${date} ${time}`;
}

function span(seconds) {
  const s = Math.max(0, seconds);
  const h = Math.floor(s / 3600);
  const rest = `${pad(Math.floor((s % 3600) / 60))}:${pad(Math.floor(s % 60))}.${Math.floor((s * 10) % 10)}`;
  return h ? `${h}:${rest}` : rest;
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key in node) node[key] = value; // a property: className, type, required, rows, role…
    else node.setAttribute(key, value); // no property of that name: for, aria-*, datetime
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

async function attempt(statusId, action, done) {
  // Runs an API call for a form; the server's message when it refuses.
  $(statusId).textContent = "";
  $(statusId).classList.remove("error");
  try {
    await action();
    $(statusId).textContent = i18n.t(done);
    return true;
  } catch (err) {
    $(statusId).textContent = err.message;
    $(statusId).classList.add("error");
    return false;
  }
}

function showStatus(state, error) {
  $("conn").textContent = i18n.t(`conn.${state}`, { message: error ? error.message : "" });
  $("conn").dataset.status = state;
}

$("lang").addEventListener("click", () => {
  i18n.toggle();
  if (tendency) showTendency(tendency);
  if (current) {
    showSessions();
    refresh();
    if (player) showReplay();
  }
});

// --- login ---------------------------------------------------------------------------------------------------
$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("login-error").textContent = "";
  try {
    const body = await api("/auth/login", { method: "POST",
      body: { username: $("username").value.trim(), password: $("password").value } });
    setToken(body.access_token);
    $("password").value = "";
    await start();
  } catch (err) {
    setToken(null);
    $("login-error").textContent = err.message;
    $("username").focus();
  }
});

$("logout").addEventListener("click", async () => {
  await api("/auth/logout", { method: "POST" }).catch(() => {});
  setToken(null);
  location.assign("/supervisor");
});

// --- the sessions ------------------------------------------------------------------------------------------
let sessions = [];

async function start() {
  me = await api("/auth/me");
  if (me.role !== "supervisor" && me.role !== "coordinator-admin") {
    setToken(null);
    throw new Error(i18n.t("sv.login_role", { role: me.role }));
  }
  sessions = await api("/sessions");
  $("login").hidden = true;
  $("logout").hidden = false;
  $("sessions").hidden = false;
  $("tendency").hidden = false;
  showSessions();
}

function levelText(sessionId) {
  const level = me.supervised[sessionId];
  return i18n.t(level ? `sv.level.${level}` : "sv.level.none");
}

function showSessions() {
  $("sessions-empty").hidden = sessions.length > 0;
  $("session-list").replaceChildren(...sessions.map((s) => {
    const button = el("button", { type: "button", dataset: { session: s.id } }, `${s.code}　${s.title}`);
    if (current && current.id === s.id) button.setAttribute("aria-current", "true");
    button.addEventListener("click", () => choose(s));
    const facts = `${localTime(Date.parse(s.scheduled_start))} · ${i18n.t(`state.${s.state}`)} · ${levelText(s.id)}`;
    return el("li", {}, button, el("span", { className: "hint" }, facts));
  }));
}

async function choose(session) {
  if (stream) stream.stop();
  if (player) player.close();
  leaveRoom();
  player = null;
  current = session;
  showSessions();
  $("session-name").textContent = `${session.code}　${session.title}`;
  $("level").textContent = levelText(session.id);
  for (const id of ["session", "wall", "replay", "marks", "complaints"]) $(id).hidden = false;
  $("complaints-secondary").hidden = me.supervised[session.id] === "primary";
  $("known-on").value = localTime(Date.now()).slice(0, 10);
  stream = new EventStream(session.id, {
    onStatus: showStatus,
    onResync: refresh,
    onEvent: (event) => {
      if (/^(session\.|committee\.|chair\.|supervision\.|complaint\.|venue\.)/.test(event.kind)) refresh();
    },
  });
  stream.start();
  await loadReplay();
}

// --- the session's state, marks and complaints (one load per burst of events, as on the expert's page) ------
const refresh = coalesced(() => load());

async function load() {
  const sid = current.id;
  const [st, committee, marks, complaints] = await Promise.all([
    api(`/sessions/${sid}/status`), api(`/sessions/${sid}/committee`).catch(() => ({ members: [] })),
    api(`/sessions/${sid}/marks`), api(`/sessions/${sid}/complaints`)]);
  if (!current || current.id !== sid) return;
  $("state").textContent = i18n.t(`state.${st.state}`);
  $("phase").textContent = st.phase ? i18n.t(`phase.${st.phase}`) : "—";
  // The status names venues by id only (a supervisor does not read the venues): the host, and guests numbered.
  let guests = 0;
  $("venues").textContent = st.venues.map((v) => {
    const name = v.role === "host" ? i18n.t("sv.venue.host") : i18n.t("sv.venue.guest", { n: ++guests });
    return `${name}：${i18n.t(`sv.venue.${v.online ? "online" : "offline"}`)}`;
  }).join("；");
  const running = st.state === "evaluating" || st.state === "suspended";
  $("warn-submit").disabled = !running;
  if (running && !room) joinRoom(sid);
  if (!running && room) leaveRoom();
  wallStatus();
  showMembers(committee.members || []);
  showMarks(marks);
  showComplaints(complaints);
  showMoment();
  i18n.apply();
}

function showMembers(members) {
  const select = $("flag-member");
  const chosen = select.value;
  select.replaceChildren(...members.filter((m) => m.state === "seated" || m.state === "checked_in").map((m) =>
    el("option", { value: m.member_id }, `${m.name}${m.seat ? "（" + m.seat + "）" : ""}`)));
  if (chosen) select.value = chosen;
}

function showMarks(marks) {
  $("marks-list").replaceChildren(...marks.map((m) => el("tr", { dataset: { kind: m.kind } },
    el("td", {}, localTime(Date.parse(m.moment || m.created_at))),
    el("td", {}, i18n.t(`sv.mark.${m.kind}`)),
    el("td", {}, m.level ? i18n.t(`sv.level.${m.level}`) : "—"),
    el("td", {}, m.text))));
}

// --- the live wall: every publisher of every venue, grouped by venue -----------------------------------------
function wallStatus(error) {
  const shown = $("wall-tiles").querySelectorAll("figure").length;
  $("wall-status").textContent = error ? i18n.t("sv.wall_failed", { message: error.message })
    : room ? i18n.t("sv.wall_count", { count: shown }) : i18n.t("sv.wall_waiting");
}

function leaveRoom() {
  if (room) room.close();
  room = null;
  $("wall-tiles").replaceChildren();
}

async function joinRoom(sessionId) {
  const r = (room = new MediaRoom(sessionId, {
    onPublishers: (publishers) => r === room && watch(publishers),
    onStream: (publisher, stream) => r === room && showTile(publisher, stream),
  }));
  try {
    await r.join();
  } catch (err) {
    if (r === room) wallStatus(err);
  }
}

function watch(publishers) {
  for (const figure of [...$("wall-tiles").querySelectorAll("figure")]) {
    if (!publishers.includes(figure.dataset.publisher)) {
      room.unsubscribe(figure.dataset.publisher);
      figure.remove();
    }
  }
  for (const group of [...$("wall-tiles").children]) if (!group.querySelector("figure")) group.remove();
  for (const publisher of publishers) {
    if (!room.subscribed.has(publisher)) room.subscribe(publisher).catch(() => {});
  }
  wallStatus();
}

function venueGroup(code) {
  // Publisher names start with their venue's code ("JN-GGZY/R1/cam", "JN-GGZY/seat-A-01").
  let group = [...$("wall-tiles").children].find((g) => g.dataset.venue === code);
  if (!group) {
    const h = el("h3", { id: `wall-${code.replace(/[^A-Za-z0-9_-]/g, "_")}` }, code);
    group = el("section", { className: "venue", dataset: { venue: code }, "aria-labelledby": h.id }, h,
      el("div", { className: "tiles" }));
    $("wall-tiles").append(group);
  }
  return group.querySelector(".tiles");
}

function showTile(publisher, stream) {
  // Muted, with controls: a wall of rooms all speaking at once helps no one; the supervisor unmutes one.
  const figure = tile(publisher, stream, { muted: true });
  figure.querySelector("video").controls = true;
  const old = [...$("wall-tiles").querySelectorAll("figure")].find((f) => f.dataset.publisher === publisher);
  if (old) old.replaceWith(figure);
  else venueGroup(publisher.split("/")[0]).append(figure);
  wallStatus();
}

// --- marks ---------------------------------------------------------------------------------------------------
function showMoment() {
  $("annotate-moment").textContent = player && player.touched
    ? i18n.t("sv.moment.replay", { time: localTime(player.t0 + player.position * 1000, true) })
    : i18n.t("sv.moment.now");
}

function posting(form, { path, body, done, clear }) {
  // A form that posts to the session: the server's message if refused; if not, its text fields are cleared
  // and the lists reloaded.
  $(`${form}-form`).addEventListener("submit", async (event) => {
    event.preventDefault();
    const send = () => api(`/sessions/${current.id}/${path}`, { method: "POST", body: body() });
    if (await attempt(`${form}-status`, send, done)) {
      for (const id of clear) $(id).value = "";
      refresh();
    }
  });
}

posting("annotate", {
  path: "annotations", done: "sv.annotated", clear: ["annotate-text"],
  body: () => {
    const replayed = player && player.touched; // the replay's position, else now (the server's default)
    return { text: $("annotate-text").value.trim(), ...(replayed ? { moment: player.moment() } : {}) };
  },
});
posting("warn", { path: "warnings", done: "sv.warned", clear: ["warn-text"],
                  body: () => ({ text: $("warn-text").value.trim() }) });
posting("flag", { path: "expert-flags", done: "sv.flagged", clear: ["flag-text"],
                  body: () => ({ member_id: $("flag-member").value, text: $("flag-text").value.trim() }) });

// --- complaints ----------------------------------------------------------------------------------------------
posting("complaint", {
  path: "complaints", done: "sv.recorded", clear: ["complainant", "complaint-subject"],
  body: () => ({ complainant: $("complainant").value.trim(), subject: $("complaint-subject").value.trim(),
                 known_on: $("known-on").value }),
});

function fact(term, value) {
  return [el("dt", {}, i18n.t(term)), el("dd", {}, value)];
}

function showComplaints(complaints) {
  const list = $("complaint-list");
  const focused = document.activeElement && list.contains(document.activeElement) ? document.activeElement.id : null;
  if (!complaints.length) {
    list.replaceChildren(el("p", { className: "hint" }, i18n.t("sv.no_complaints")));
    return;
  }
  const primary = me.supervised[current.id] === "primary";
  // What the primary was typing into a ruling or decision, and what the server said, survive the reload an
  // event causes.
  const typed = [...list.querySelectorAll("textarea, select, input")].map((f) => [f.id, f.value, f.checked]);
  const said = [...list.querySelectorAll('p[role="status"]')].map((p) => [p.id, p.textContent, p.className]);
  list.replaceChildren(...complaints.map((c) => {
    const h = el("h3", { id: `c-${c.id}-h` }, `${c.complainant}：${c.subject}`);
    const facts = el("dl", { className: "facts" },
      ...fact("sv.known_on", c.known_on), ...fact("sv.c.filed_at", localTime(Date.parse(c.filed_at))),
      ...fact("sv.c.state", i18n.t(`sv.c.state.${c.state}`)),
      ...fact("sv.c.deadline.acceptance", c.deadlines.acceptance),
      ...(c.deadlines.decision ? fact("sv.c.deadline.decision", c.deadlines.decision) : []),
      ...(c.late ? fact("sv.c.late", i18n.t("sv.yes")) : []),
      ...(c.ruling ? fact("sv.c.ruling", c.ruling) : []),
      ...(c.outcome ? fact("sv.c.decision", `${i18n.t(`sv.c.outcome.${c.outcome}`)}：${c.decision}`) : []));
    const article = el("article", { className: "complaint", dataset: { complaint: c.id, state: c.state },
                                    "aria-labelledby": h.id }, h, facts);
    if (c.overdue) {
      article.append(el("p", { className: "warning" },
        i18n.t("sv.c.overdue", { what: i18n.t(`sv.c.deadline.${c.overdue}`) })));
    }
    if (primary && c.state === "filed") article.append(rulingForm(c));
    if (primary && c.state === "accepted") article.append(decisionForm(c));
    return article;
  }));
  for (const [id, value, checked] of typed) {
    const field = $(id);
    if (!field) continue;
    if (field.type === "radio") field.checked = checked;
    else field.value = value;
  }
  for (const [id, text, className] of said) {
    if ($(id)) Object.assign($(id), { textContent: text, className });
  }
  if (focused && $(focused)) $(focused).focus();
}

function rulingForm(c) {
  const id = (name) => `c-${c.id}-${name}`;
  const choice = (value, key) => [
    el("input", { type: "radio", name: id("accept"), id: id(value), value, required: true }),
    el("label", { for: id(value) }, i18n.t(key))];
  const form = el("form", { className: "stack", "aria-label": i18n.t("sv.c.rule") },
    el("fieldset", {}, el("legend", {}, i18n.t("sv.c.ruling")), ...choice("accept", "sv.c.accept"),
      ...choice("refuse", "sv.c.refuse")),
    el("label", { for: id("reason") }, i18n.t("sv.c.reason")),
    el("textarea", { id: id("reason"), required: true, rows: 2, "aria-describedby": id("status") }),
    el("button", { type: "submit" }, i18n.t("sv.c.rule")),
    el("p", { id: id("status"), role: "status" }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { accept: form.querySelector(`input[name="${id("accept")}"]:checked`).value === "accept",
                   reason: $(id("reason")).value.trim() };
    if (await attempt(id("status"), () => api(`/sessions/${current.id}/complaints/${c.id}/ruling`,
      { method: "POST", body }), "sv.c.ruled")) refresh();
  });
  return form;
}

function decisionForm(c) {
  const id = (name) => `c-${c.id}-${name}`;
  const outcomes = ["upheld", "partly_upheld", "dismissed"].map((o) =>
    el("option", { value: o }, i18n.t(`sv.c.outcome.${o}`)));
  const form = el("form", { className: "stack", "aria-label": i18n.t("sv.c.decide") },
    el("label", { for: id("outcome") }, i18n.t("sv.c.outcome")),
    el("select", { id: id("outcome") }, ...outcomes),
    el("label", { for: id("text") }, i18n.t("sv.c.text")),
    el("textarea", { id: id("text"), required: true, rows: 2, "aria-describedby": id("status") }),
    el("button", { type: "submit" }, i18n.t("sv.c.decide")),
    el("p", { id: id("status"), role: "status" }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { outcome: $(id("outcome")).value, text: $(id("text")).value.trim() };
    if (await attempt(id("status"), () => api(`/sessions/${current.id}/complaints/${c.id}/decision`,
      { method: "POST", body }), "sv.c.decided")) refresh();
  });
  return form;
}

// --- the replay ----------------------------------------------------------------------------------------------
async function loadReplay(keep = 0) {
  const sid = current.id;
  let timeline;
  try {
    timeline = await api(`/sessions/${sid}/replay`);
  } catch (err) {
    $("replay-status").textContent = err.message;
    return;
  }
  if (!current || current.id !== sid) return;
  if (player) player.close();
  player = new ReplayPlayer(timeline, { tracks: $("replay-tracks"), onPosition: showPosition });
  $("replay-player").hidden = false;
  const seek = $("replay-seek");
  seek.max = String(timeline.duration);
  showReplay();
  if (keep) player.seek(keep);
  else {
    player.syncAll(true);
    showPosition(0);
  }
}

function showReplay() {
  // Everything of the player that is text: built again on a language switch.
  const { tracks, duration } = player.timeline;
  const venues = new Set(tracks.map((t) => t.venue)).size;
  $("replay-status").textContent = tracks.length
    ? i18n.t("sv.replay.summary", { venues, tracks: tracks.length, duration: span(duration) })
    : i18n.t("sv.replay.none");
  showMarkers();
  showPlaying();
}

function showMarkers() {
  const { markers, duration } = player.timeline;
  $("replay-markers").replaceChildren(...markers.map((m) => {
    const detail = m.label.includes(": ") ? m.label.slice(m.label.indexOf(": ") + 2) : "";
    const shown = i18n.t(`action.${detail}`) !== `action.${detail}` ? i18n.t(`action.${detail}`)
      : i18n.t(`phase.${detail}`) !== `phase.${detail}` ? i18n.t(`phase.${detail}`) : detail;
    const button = el("button", { type: "button", className: "marker", dataset: { offset: m.offset, kind: m.kind } },
      el("time", { datetime: m.at }, localTime(Date.parse(m.at))), " ",
      el("strong", {}, i18n.t(`marker.${m.kind}`)), shown ? ` ${shown}` : "");
    button.addEventListener("click", () => player.seek(m.offset));
    return el("li", {}, button);
  }));
  $("replay-ticks").replaceChildren(...markers.map((m) => {
    const tick = el("div", { className: "tick", title: i18n.t(`marker.${m.kind}`), dataset: { kind: m.kind } });
    // Events before the first recording (check-ins) sit at the left end, as the range cannot go below 0.
    tick.style.left = `${duration ? Math.min(100, Math.max(0, (100 * m.offset) / duration)) : 0}%`;
    tick.addEventListener("click", () => player.seek(m.offset));
    return tick;
  }));
}

function showPosition(position) {
  const seek = $("replay-seek");
  if (document.activeElement !== seek || player.playing) seek.value = String(position);
  const text = `${localTime(player.t0 + position * 1000, true)}（${span(position)} / ${span(player.duration)}）`;
  seek.setAttribute("aria-valuetext", text);
  $("replay-position").textContent = text;
  $("replay-position").dataset.offset = position.toFixed(2);
  if (!player.playing) showPlaying();
  showMoment();
}

function showPlaying() {
  const key = player && player.playing ? "sv.pause" : "sv.play";
  $("replay-play").dataset.i18n = key;
  $("replay-play").textContent = i18n.t(key);
}

$("replay-play").addEventListener("click", () => {
  if (player.playing) player.pause();
  else player.play();
  showPlaying();
});

$("replay-seek").addEventListener("input", () => player.seek(Number($("replay-seek").value)));

for (const radio of document.querySelectorAll('input[name="replay-speed"]')) {
  radio.addEventListener("change", () => player.setRate(Number(radio.value)));
}

$("replay-reload").addEventListener("click", async () => {
  const rate = player ? player.rate : 1;
  await loadReplay(player ? player.position : 0);
  player.setRate(rate);
});

// --- the scoring-tendency report (docs/analysis.md) ----------------------------------------------------------
// Computed by the server on demand over the sessions this supervisor oversees. The plots and the CSV need the
// token, which an <img> or a link cannot send: their bytes are fetched and shown from blob: URLs (the page's
// policy allows blob: images).
let tendency = null; // the last report shown, kept to redraw it in the other language
let tendencyRun = 0; // a newer computation wins over an older one still on its way
const blobs = new Map(); // element id → its blob: URL, revoked when replaced

function dateText(d) {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

function defaultPeriod() {
  // The last 12 months up to today: [the day after this day a year ago, tomorrow), `to` being exclusive.
  const now = new Date();
  $("td-from").value = dateText(new Date(now.getFullYear() - 1, now.getMonth(), now.getDate() + 1));
  $("td-to").value = dateText(new Date(now.getFullYear(), now.getMonth(), now.getDate() + 1));
}

function showBlob(id, bytes, type, apply) {
  if (blobs.has(id)) URL.revokeObjectURL(blobs.get(id));
  const url = URL.createObjectURL(new Blob([bytes], { type }));
  blobs.set(id, url);
  apply($(id), url);
}

function percent(x, signed = false) {
  if (x === null || x === undefined) return "—";
  const text = `${(100 * x).toFixed(1)} %`;
  return signed && x > 0 ? `+${text}` : text;
}

function flagText(f) {
  const bidder = f.bidder_name ? i18n.t("sv.td.bidder", { name: f.bidder_name }) : "";
  return `${i18n.t(`sv.td.kind.${f.kind}`)}${bidder}：${f.reason}`;
}

function showTendency(report) {
  $("td-result").hidden = false;
  $("td-summary").textContent = i18n.t("sv.td.summary", {
    from: report.from, to: report.to, sessions: report.sessions, experts: report.experts.length,
    flagged: report.flagged.length, basis: i18n.t(`sv.td.basis.${report.basis}`) });
  const flagged = report.experts.filter((e) => e.flags.length);
  const who = (e) => `${e.code || "—"}　${e.name || e.expert_id}（${e.region || "—"}）`;
  $("td-flagged").replaceChildren(...(flagged.length ? flagged.map((e) =>
    el("li", { dataset: { expert: e.expert_id, code: e.code || "" } }, el("strong", {}, who(e)),
      el("ul", {}, ...e.flags.map((f) => el("li", { dataset: { kind: f.kind } }, flagText(f))))))
    : [el("li", {}, i18n.t("sv.td.none_flagged"))]));
  const ordered = [...flagged, ...report.experts.filter((e) => !e.flags.length)]; // flagged first, then as sent
  $("td-experts").replaceChildren(...ordered.map((e) => el("tr", {
    dataset: { expert: e.expert_id, code: e.code || "", flagged: e.flags.length ? "true" : "false" },
    className: e.flags.length ? "flagged" : "" },
    el("td", {}, e.code || "—"), el("td", {}, e.name || e.expert_id), el("td", {}, e.region || "—"),
    el("td", {}, String(e.sessions)), el("td", {}, percent(e.mean_deviation, true)),
    el("td", {}, percent(e.exceed_rate)),
    el("td", {}, `${e.objective_mismatches} / ${e.objective_items}`),
    el("td", {}, e.flags.length ? e.flags.map((f) => i18n.t(`sv.td.kind.${f.kind}`)).join("、") : "—"))));
}

function markPeriod(err) {
  // The period's fields named by the error (a `to` not after `from` names the period; a malformed date its field).
  const named = (err && err.details || []).map((d) => JSON.stringify(d)).join(" ");
  const period = err && err.code === "invalid_input";
  $("td-from").setAttribute("aria-invalid", String(Boolean(err) && /\bfrom\b/.test(named)));
  $("td-to").setAttribute("aria-invalid", String(Boolean(err) && (period || /\bto\b/.test(named))));
}

$("tendency-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const run = ++tendencyRun;
  const query = new URLSearchParams({ from: $("td-from").value, to: $("td-to").value, basis: $("td-basis").value });
  $("td-status").classList.remove("error");
  $("td-status").textContent = i18n.t("sv.td.computing");
  markPeriod(null);
  try {
    const path = `/analysis/tendency`;
    const [report, deviation, favour, csv] = await Promise.all([
      api(`${path}?${query}`), apiBytes(`${path}/plots/deviation.png?${query}`),
      apiBytes(`${path}/plots/favour.png?${query}`), apiBytes(`${path}?${query}&format=csv`)]);
    if (run !== tendencyRun) return;
    tendency = report;
    showTendency(report);
    showBlob("td-plot-deviation", deviation.bytes, "image/png", (img, url) => (img.src = url));
    showBlob("td-plot-favour", favour.bytes, "image/png", (img, url) => (img.src = url));
    showBlob("td-csv", csv.bytes, "text/csv", (a, url) =>
      Object.assign(a, { href: url, download: `tendency-${report.from}-${report.to}.csv`, hidden: false }));
    $("td-status").textContent = i18n.t("sv.td.done");
  } catch (err) {
    if (run !== tendencyRun) return;
    tendency = null; // a result left on screen would read as the answer for the period now typed
    $("td-result").hidden = true;
    $("td-status").textContent = err.message;
    $("td-status").classList.add("error");
    markPeriod(err);
  }
});

defaultPeriod();

// --- boot ----------------------------------------------------------------------------------------------------
i18n.apply();
resumeOrLogin(start, $("login"));
