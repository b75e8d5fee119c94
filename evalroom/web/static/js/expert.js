// The expert's seat: log in with the code from check-in, declare no conflict, follow the session live, and
// score the bids with the ranges checked as they are typed. The server checks everything again on submit;
// what it refuses is shown on the fields it names. After the session, the tenderer's representative on the
// committee rates the experts here.

import { api, ApiError, resumeOrLogin, setToken, token } from "./api.js";
import * as chair from "./chair-election.js";
import * as chairControls from "./chair-controls.js";
import * as extension from "./extension.js";
import { correctionForm } from "./flag-correction.js";
import * as review from "./review.js";
import { renderSignaturePage } from "./signature-page.js";
import * as webauthn from "./webauthn.js";
import { keepRenewed } from "./renew.js";
import * as i18n from "./i18n.js";
import "./expert-text.js";
import { coalesced, EventStream } from "./live.js";
import { MediaRoom, tile } from "./media.js";
import { Signing, signerStatus } from "./signing.js";

const $ = (id) => document.getElementById(id);
const SCORE = /^-?\d{1,13}(\.\d{1,2})?$/;
let me = null;
let stream = null;

// --- decimals without floating point: values scaled to hundredths, as BigInt -------------------------------
function hundredths(text) {
  const [whole, frac = ""] = text.replace(/^-/, "").split(".");
  const value = BigInt(whole) * 100n + BigInt((frac + "00").slice(0, 2));
  return text.startsWith("-") ? -value : value;
}

function decimal(value) {
  const sign = value < 0n ? "-" : "";
  const abs = value < 0n ? -value : value;
  const frac = String(abs % 100n).padStart(2, "0").replace(/0+$/, "");
  return sign + String(abs / 100n) + (frac ? "." + frac : "");
}

// --- connection and language ---------------------------------------------------------------------------------
function showStatus(status, error) {
  $("conn").textContent = i18n.t(`conn.${status}`, { message: error ? error.message : "" });
  $("conn").dataset.status = status;
}

$("lang").addEventListener("click", () => {
  i18n.toggle();
  if (me) refresh();
});

// --- login ---------------------------------------------------------------------------------------------------
$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("login-error").textContent = "";
  try {
    const body = await api("/auth/expert-login", { method: "POST", body: { code: $("code").value.trim() } });
    setToken(body.access_token);
    await start();
  } catch (err) {
    $("login-error").textContent = err.message;
    $("code").focus();
  }
});

// --- the session ---------------------------------------------------------------------------------------------
async function start() {
  me = await api("/auth/me");
  keepRenewed((err) => showStatus("refused", err));
  chair.init(me.session_id, () => refresh());
  review.init(me.session_id, () => refresh());
  extension.init(me.session_id, () => refresh());
  chairControls.init(me.session_id, () => refresh());
  $("login").hidden = true;
  $("session").hidden = false;
  stream = new EventStream(me.session_id, {
    onStatus: showStatus,
    onResync: refresh,
    onEvent: (event) => {
      if (event.kind === "supervision.warning") return warn(event.payload.text);
      if (/^(session\.|committee\.|sheet|chair\.|flag\.|report\.|signing\.|dissent\.|tie\.)/.test(event.kind)) refresh();
    },
  });
  stream.start();
}

function warn(text) {
  const p = document.createElement("p");
  p.className = "warning";
  const strong = document.createElement("strong");
  strong.textContent = i18n.t("warning.title") + "：";
  p.append(strong, text);
  $("warnings").append(p);
}

// Coalesced (live.js): a burst of events (the backlog after a reconnect) costs one load, never one per event.
const refresh = coalesced(load);

async function load() {
  const sid = me.session_id;
  const status = await api(`/sessions/${sid}/status`);
  $("state").textContent = i18n.t(`state.${status.state}`);
  $("phase").textContent = status.phase ? i18n.t(`phase.${status.phase}`) : "—";
  video(status.state);
  const committee = await api(`/sessions/${sid}/committee`);
  const member = committee.members.find((m) => m.member_id === me.subject);
  $("seat").textContent = member && member.seat ? member.seat : "—";
  chair.render(status, committee, me.subject);
  await chairControls.render(status, committee, me.subject);
  extension.render(status, Boolean(member && member.state === "seated"));
  await review.render(status, new Map(committee.members.map((m) => [m.member_id, m.name])));
  showRating(status, committee.members, member);
  const declaration = await api(`/sessions/${sid}/committee/declaration`);
  showDeclaration(declaration);
  await showScoring(status.phase);
  me.name = member ? member.name : "";
  await showFlags(status.phase);
  const report = await showReport(status);
  await showSigning(status, report);
  i18n.apply();
}

function showDeclaration(declaration) {
  $("declaration").hidden = false;
  $("declaration-text").textContent = declaration.text;
  $("declaration").dataset.sha256 = declaration.sha256;
  const seated = declaration.state !== "checked_in";
  $("declaration-ok").hidden = $("declaration-ok").nextElementSibling.hidden = seated;
  $("declaration-form").querySelector("button").hidden = seated;
  $("declaration-status").textContent = seated ? i18n.t("expert.declared") : "";
}

$("declaration-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    await api(`/sessions/${me.session_id}/committee/declaration`, {
      method: "POST", body: { conflict: false, text_sha256: $("declaration").dataset.sha256 },
    });
    await refresh();
    $("declaration-status").focus();
  } catch (err) {
    $("declaration-status").textContent = err.message;
  }
});

// --- live video ----------------------------------------------------------------------------------------------
// While the session runs, the seat publishes its camera and microphone (recorded by the coordinator) and
// watches every other publisher: the other venues' rooms and seats and its own room's camera.
let room = null;
let camera = null;

function video(state) {
  const running = state === "evaluating" || state === "suspended";
  $("live").hidden = !running && !room;
  if (running && !room) joinRoom();
  if (!running && room) {
    room.close();
    room = null;
    $("live-tiles").replaceChildren();
    $("live-status").textContent = "";
  }
}

async function joinRoom() {
  room = new MediaRoom(me.session_id, { onPublishers: watch, onStream: show });
  try {
    const joined = await room.join();
    camera ??= await navigator.mediaDevices.getUserMedia({ video: true, audio: true }).catch((err) => {
      $("live-status").textContent = i18n.t("expert.camera_failed", { message: err.message });
      return null;
    });
    if (camera && joined.publish_as) {
      const publisher = await room.publish(camera);
      const own = tile(publisher, camera, { label: i18n.t("expert.own_camera", { publisher }), muted: true });
      own.classList.add("own");
      $("live-tiles").prepend(own);
      $("live-status").textContent = i18n.t("expert.publishing");
    }
  } catch (err) {
    $("live-status").textContent = i18n.t("expert.media_failed", { message: err.message });
  }
}

function mine(publisher) {
  const own = room && room.joined && room.joined.publish_as;
  return own && (publisher === own || publisher.startsWith(own + "/"));
}

function watch(publishers) {
  for (const figure of [...$("live-tiles").querySelectorAll(".tile:not(.own)")]) {
    if (!publishers.includes(figure.dataset.publisher)) {
      figure.remove();
      room.unsubscribe(figure.dataset.publisher);
    }
  }
  for (const publisher of publishers) {
    if (!mine(publisher) && !room.subscribed.has(publisher)) room.subscribe(publisher).catch(() => {});
  }
}

function show(publisher, stream) {
  const old = [...$("live-tiles").children].find((f) => f.dataset.publisher === publisher && !f.classList.contains("own"));
  const figure = tile(publisher, stream);
  if (old) old.replaceWith(figure);
  else $("live-tiles").append(figure);
}

// --- scoring -------------------------------------------------------------------------------------------------
let form = null; // {bids, criteria} as the server gave them

function fieldId(bid, criterion) {
  return `score-${bid.replace(/[^A-Za-z0-9]/g, "_")}-${criterion}`;
}

async function showScoring(phase) {
  if (phase !== "detailed_review") {
    $("scoring").hidden = !form;
    if (form) $("score-status").textContent = i18n.t("expert.not_scoring");
    return;
  }
  const sid = me.session_id;
  const sheets = await api(`/sessions/${sid}/sheets?phase=detailed_review`);
  const mine = sheets.sheets.find((s) => s.member_id === me.subject);
  if (!form) {
    form = await api(`/sessions/${sid}/scoring-form`);
    build();
  }
  $("scoring").hidden = false;
  if (mine) lock(mine);
}

function build() {
  const container = $("score-bids");
  container.replaceChildren();
  for (const bid of form.bids) {
    const fieldset = document.createElement("fieldset");
    const legend = document.createElement("legend");
    legend.textContent = `${bid.key}　${bid.name}`;
    fieldset.append(legend);
    for (const c of form.criteria) {
      const id = fieldId(bid.key, c.code);
      const row = document.createElement("div");
      row.className = "score";
      const label = document.createElement("label");
      label.htmlFor = id;
      label.textContent = `${c.code} ${c.name} ${i18n.t("expert.range", { min: c.min, max: c.max })}`;
      const input = document.createElement("input");
      Object.assign(input, { id, name: id, inputMode: "decimal", autocomplete: "off", required: true });
      Object.assign(input.dataset, { bid: bid.key, criterion: c.code, min: c.min, max: c.max });
      input.setAttribute("aria-describedby", `${id}-error`);
      input.setAttribute("aria-invalid", "false");
      const error = document.createElement("span");
      error.id = `${id}-error`;
      error.className = "error";
      input.addEventListener("input", () => {
        check(input, false);
        total(bid.key);
        summarise();
      });
      input.addEventListener("blur", () => check(input, false));
      row.append(label, input, error);
      fieldset.append(row);
    }
    const out = document.createElement("p");
    out.className = "total";
    const output = document.createElement("output");
    output.id = `total-${bid.key.replace(/[^A-Za-z0-9]/g, "_")}`;
    output.setAttribute("aria-live", "polite");
    out.append(output);
    fieldset.append(out);
    container.append(fieldset);
    total(bid.key);
  }
}

function check(input, required) {
  const value = input.value.trim();
  const { min, max } = input.dataset;
  let message = "";
  if (value === "") message = required ? i18n.t("expert.error.required") : "";
  else if (!SCORE.test(value)) message = i18n.t("expert.error.number");
  else if (hundredths(value) < hundredths(min) || hundredths(value) > hundredths(max)) {
    message = i18n.t("expert.error.range", { min, max });
  }
  showError(input, message);
  return !message;
}

let summary = false; // whether the status line lists fields to correct

function summarise() {
  // Once the expert was told what to correct, the count follows the corrections as they are typed.
  if (!summary) return;
  const count = inputsOf().filter((i) => i.getAttribute("aria-invalid") === "true").length;
  $("score-status").textContent = count ? i18n.t("expert.invalid_summary", { count }) : "";
  summary = count > 0;
}

function showError(input, message) {
  input.setAttribute("aria-invalid", message ? "true" : "false");
  $(`${input.id}-error`).textContent = message;
}

function inputsOf(bid) {
  return [...document.querySelectorAll("#score-bids input")].filter((i) => !bid || i.dataset.bid === bid);
}

function total(bid) {
  let sum = 0n;
  let most = 0n;
  for (const input of inputsOf(bid)) {
    most += hundredths(input.dataset.max);
    if (SCORE.test(input.value.trim())) sum += hundredths(input.value.trim());
  }
  $(`total-${bid.replace(/[^A-Za-z0-9]/g, "_")}`).textContent = `${i18n.t("expert.total")}：${decimal(sum)} / ${decimal(most)}`;
}

$("score-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const inputs = inputsOf();
  const bad = inputs.filter((input) => !check(input, true));
  if (bad.length) {
    summary = true;
    $("score-status").textContent = i18n.t("expert.invalid_summary", { count: bad.length });
    bad[0].focus();
    return;
  }
  const scores = {};
  for (const input of inputs) (scores[input.dataset.bid] ??= {})[input.dataset.criterion] = input.value.trim();
  try {
    const sheet = await api(`/sessions/${me.session_id}/scores`, { method: "POST", body: { scores } });
    lock(sheet);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    const named = err.details.filter((d) => d.bid && d.criterion);
    for (const d of named) {
      const input = $(fieldId(d.bid, d.criterion));
      if (input) showError(input, d.message);
    }
    $("score-status").textContent = err.message;
    if (named.length) $(fieldId(named[0].bid, named[0].criterion))?.focus();
  }
});

function lock(sheet) {
  const content = sheet.content || { scores: {} };
  for (const input of inputsOf()) {
    const value = content.scores?.[input.dataset.bid]?.[input.dataset.criterion];
    if (value !== undefined) input.value = value;
    input.readOnly = true;
  }
  for (const bid of form.bids) total(bid.key);
  $("score-submit").hidden = true;
  $("score-status").textContent = i18n.t("expert.submitted", { sha: (sheet.sha256 || "").slice(0, 16) });
}

// --- flags and explanations ----------------------------------------------------------------------------------
let flagsShown = null; // the flags (and phase) the list was built for
async function showFlags(phase) {
  const flags = (await api(`/sessions/${me.session_id}/flags`)).filter((f) => f.member_id === me.subject);
  $("flags").hidden = !flags.length;
  const list = $("flag-list");
  const typing = list.contains(document.activeElement) && ["TEXTAREA", "INPUT"].includes(document.activeElement.tagName);
  const key = JSON.stringify([i18n.lang, phase, flags]);
  if (typing || key === flagsShown) return; // do not rebuild under the expert's fingers, nor for nothing new
  flagsShown = key;
  list.replaceChildren();
  for (const flag of flags) {
    const box = document.createElement("div");
    box.className = "flag";
    const p = document.createElement("p");
    const detail = i18n.t(`flag.${flag.kind}`, flag.detail || {});
    p.textContent = i18n.t("expert.flag", { bid: flag.bid, criterion: flag.criterion || "", detail,
                                           status: i18n.t(`flag.status.${flag.status}`) });
    box.append(p);
    if (flag.explanation) {
      const q = document.createElement("blockquote");
      q.textContent = flag.explanation;
      box.append(q);
    } else if (flag.status === "open" && phase === "detailed_review") {
      const form = document.createElement("form");
      const id = `explain-${flag.id}`;
      const label = document.createElement("label");
      label.htmlFor = id;
      label.textContent = i18n.t("expert.explanation");
      const text = Object.assign(document.createElement("textarea"), { id, rows: 2, cols: 60, required: true });
      const button = Object.assign(document.createElement("button"), { type: "submit",
                                                                        textContent: i18n.t("expert.explain") });
      const status = Object.assign(document.createElement("p"), { role: "status" });
      form.append(label, text, button, status);
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        try {
          await api(`/sessions/${me.session_id}/flags/${flag.id}/explanation`, { method: "POST",
                                                                               body: { text: text.value } });
          status.textContent = i18n.t("expert.explained");
          text.blur();
          refresh();
        } catch (err) {
          status.textContent = err.message;
        }
      });
      box.append(form);
      if (flag.criterion) box.append(correctionForm(flag, me.session_id, () => refresh()));
    }
    list.append(box);
  }
}

// --- the report and dissent ----------------------------------------------------------------------------------
const AFTER_SCORING = ["summary", "recommendation", "report_signing"];
let pdfUrl = null;
let shownReport = null; // the report last shown: its signatories name the venue a report signature shows

async function showReport(status) {
  const sid = me.session_id;
  const phase = status.phase;
  $("dissent-form").hidden = !(phase === "summary" || phase === "recommendation");
  let report = null;
  if (AFTER_SCORING.includes(phase) || phase === null) {
    report = await api(`/sessions/${sid}/report`).catch((err) => {
      if (err instanceof ApiError && err.status === 404) return null;
      throw err;
    });
  }
  $("report").hidden = !report && $("dissent-form").hidden;
  shownReport = report;
  if (!report) return null;
  renderReport(report);
  // The signature page follows the signing: every signature is a new revision of the PDF, fetched again.
  const signatures = (await api(`/sessions/${sid}/signatures`)).filter((s) => s.report_version === report.version);
  renderSignaturePage($("report-signatures"), report, signatures, status.signing && status.signing.missing);
  const revision = `${report.version}:${signatures.length}`;
  if ($("report-pdf").dataset.revision !== revision) {
    const response = await fetch(`/api/v1/sessions/${sid}/report.pdf`, { headers: { Authorization: `Bearer ${token()}` } });
    if (pdfUrl) URL.revokeObjectURL(pdfUrl);
    pdfUrl = URL.createObjectURL(await response.blob());
    Object.assign($("report-pdf"), { href: pdfUrl, download: `report-${report.session.code}-v${report.version}.pdf`,
                                     hidden: false });
    $("report-pdf").dataset.revision = revision;
  }
  return report;
}

function cell(tag, text) {
  return Object.assign(document.createElement(tag), { textContent: text });
}

function renderReport(report) {
  const body = $("report-body");
  body.replaceChildren(cell("p", `${report.session.title}（${report.session.code}）${i18n.t("expert.report_version",
                                                                                            { version: report.version })}`));
  for (const lot of report.results) {
    const table = document.createElement("table");
    table.append(cell("caption", i18n.t("expert.lot", { lot: lot.lot })));
    const head = document.createElement("tr");
    for (const key of ["rank", "bid", "bidder", "final"]) {
      const th = cell("th", i18n.t(`expert.col.${key}`));
      th.scope = "col";
      head.append(th);
    }
    table.append(head);
    for (const row of lot.rows) {
      const tr = document.createElement("tr");
      tr.append(cell("td", row.rank ?? "—"), cell("td", row.bid), cell("td", row.bidder), cell("td", row.final));
      table.append(tr);
    }
    body.append(table);
    const names = lot.candidates.map((c) => `${c.rank}. ${c.bidder}`).join("；");
    body.append(cell("p", i18n.t("expert.candidates", { list: names || "—" })));
  }
  if (report.dissent.length) {
    body.append(cell("h3", i18n.t("expert.dissents")));
    for (const d of report.dissent) body.append(cell("p", `${d.name}：${d.text}`));
  }
}

$("dissent-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    await api(`/sessions/${me.session_id}/dissent`, { method: "PUT", body: { text: $("dissent-text").value } });
    $("dissent-status").textContent = i18n.t("expert.dissent_recorded");
    refresh();
  } catch (err) {
    $("dissent-status").textContent = err.message;
  }
});

// --- rating the experts (the tenderer's representative, after the session) ----------------------------------
// POST …/ratings, once per expert. The session's ratings are staff's to read (GET …/ratings is refused to an
// expert token), so the page keeps the answers to its own posts for the tab (sessionStorage) and takes the
// server's already_rated as "done" for a rating sent from elsewhere (another tab, a lost page).
const RATED_KEY = () => `evalroom.rated.${me.session_id}.${me.subject}`;

function rated() {
  try {
    return JSON.parse(sessionStorage.getItem(RATED_KEY())) || {};
  } catch {
    return {};
  }
}

function keepRated(memberId, result) {
  sessionStorage.setItem(RATED_KEY(), JSON.stringify({ ...rated(), [memberId]: result }));
}

function showRating(status, members, mine) {
  const representative = mine && mine.kind === "representative";
  const ended = status.state === "ended" || status.state === "archived";
  $("rating").hidden = !(representative && ended);
  if ($("rating").hidden) return;
  const list = $("rating-list");
  const experts = members.filter((m) => m.kind === "expert" && m.state === "seated");
  const done = rated();
  for (const m of experts) {
    // Rows are built once and kept: an event's reload must not wipe what is being typed.
    let row = list.querySelector(`[data-member="${m.member_id}"]`);
    if (!row) {
      row = ratingRow(m);
      list.append(row);
    }
    ratingState(row, done[m.member_id]);
  }
}

function ratingRow(m) {
  const id = (name) => `rate-${m.member_id}-${name}`;
  const row = document.createElement("form");
  Object.assign(row, { className: "rating", noValidate: true });
  row.dataset.member = m.member_id;
  row.setAttribute("aria-labelledby", id("name"));
  const name = cell("h3", m.specialty ? `${m.name}（${m.specialty}）` : m.name);
  name.id = id("name");
  const field = (key, input) => {
    const label = cell("label", i18n.t(key));
    label.htmlFor = input.id;
    label.dataset.i18n = key;
    return [label, input];
  };
  const score = Object.assign(document.createElement("input"), { id: id("score"), name: "score", inputMode: "numeric",
                                                                 autocomplete: "off", required: true, size: 5 });
  score.setAttribute("aria-describedby", id("error"));
  score.setAttribute("aria-invalid", "false");
  const comment = Object.assign(document.createElement("input"), { id: id("comment"), name: "comment",
                                                                   autocomplete: "off", maxLength: 2000, size: 40 });
  const button = Object.assign(document.createElement("button"), { type: "submit" });
  button.dataset.i18n = "expert.rating_submit";
  button.textContent = i18n.t("expert.rating_submit");
  const error = Object.assign(document.createElement("span"), { id: id("error"), className: "error" });
  const result = Object.assign(document.createElement("p"), { id: id("result"), hidden: true, tabIndex: -1 });
  result.setAttribute("role", "status");
  const fields = document.createElement("div");
  fields.className = "fields";
  fields.append(...field("expert.rating_score", score), error, ...field("expert.rating_comment", comment), button);
  row.append(name, fields, result);
  row.addEventListener("submit", (event) => {
    event.preventDefault();
    rate(m.member_id, row);
  });
  return row;
}

function ratingError(row, message) {
  const score = row.querySelector('input[name="score"]');
  score.setAttribute("aria-invalid", message ? "true" : "false");
  row.querySelector(".error").textContent = message;
  if (message) score.focus();
}

function ratingState(row, done) {
  // A rated expert's row shows the result in place of the fields.
  if (!done) return;
  row.querySelector(".fields").hidden = true;
  const result = row.querySelector('p[role="status"]');
  result.hidden = false;
  result.textContent = done.already ? i18n.t("expert.rating_already")
    : i18n.t(done.credit_status === "suspended" ? "expert.rating_suspended" : "expert.rating_done", { score: done.score });
}

async function rate(memberId, row) {
  const text = row.querySelector('input[name="score"]').value.trim();
  // A whole number from 0 to 100: the API states the range (its schema) and refuses anything else; saying so
  // here, in the expert's words, spares a round trip. Other refusals are the server's, shown at the field.
  if (!/^\d{1,3}$/.test(text) || Number(text) > 100) return ratingError(row, i18n.t("expert.rating_whole"));
  ratingError(row, "");
  const comment = row.querySelector('input[name="comment"]').value.trim();
  try {
    const answer = await api(`/sessions/${me.session_id}/ratings`, { method: "POST",
      body: { member_id: memberId, score: Number(text), ...(comment ? { comment } : {}) } });
    keepRated(memberId, { score: answer.score, credit_status: answer.credit_status });
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    if (err.code !== "already_rated") return ratingError(row, err.message);
    keepRated(memberId, { already: true });
  }
  ratingState(row, rated()[memberId]);
  row.querySelector('p[role="status"]').focus(); // the fields are gone: the focus goes to what replaced them
}

// --- signing -------------------------------------------------------------------------------------------------
// What is left to sign: each of the member's own sheets not yet signed in its newest version, and in the
// report-signing phase the report's current revision. A signature is matched to a sheet by the hash of the
// sheet's canonical bytes, so a new sheet version (after a flag) asks for a new signature.
let signing = null; // the Signing being done, with its item

async function unsigned(status, report) {
  const sid = me.session_id;
  const signatures = (await api(`/sessions/${sid}/signatures`)).filter((s) => s.member_id === me.subject);
  const items = [];
  for (const phase of ["review", "detailed_review"]) {
    // A sheet's sha256 is that of its canonical bytes, the document signed: no need to fetch it to compare.
    const sheet = (await api(`/sessions/${sid}/sheets?phase=${phase}`)).sheets.find((s) => s.member_id === me.subject);
    if (sheet && !signatures.some((s) => s.document === "sheet" && s.document_sha256 === sheet.sha256)) {
      items.push(new Signing(sid, { document: "sheet", phase }));
    }
  }
  const mine = status.signing && status.signing.missing.find((m) => m.member_id === me.subject);
  if (status.phase === "report_signing" && mine && mine.unsigned.some((u) => u.startsWith("report"))) {
    const doc = new Signing(sid, { document: "report" });
    doc.dissent = report && (report.dissent.find((d) => d.member_id === me.subject) || {}).text;
    items.push(doc);
  }
  return items;
}

function describe(doc) {
  if (doc.item.document === "sheet") return i18n.t("expert.sign_sheet", { phase: i18n.t(`phase.${doc.item.phase}`) });
  return i18n.t(doc.dissent ? "expert.sign_with_dissent" : "expert.sign_report");
}

async function showSigning(status, report) {
  if (status.state !== "evaluating") {
    $("signing").hidden = true;
    return;
  }
  const items = await unsigned(status, report);
  $("signing").hidden = !items.length && !$("to-sign").children.length;
  if ($("signing").hidden) return;
  const device = await signerStatus();
  $("signer-status").textContent = device ? i18n.t("expert.signer_ready", { key: device.key })
                                          : i18n.t("expert.signer_missing");
  const list = $("to-sign");
  list.replaceChildren();
  if (!items.length) list.append(cell("li", i18n.t("expert.nothing_to_sign")));
  for (const doc of items) {
    const li = document.createElement("li");
    const button = Object.assign(document.createElement("button"), { type: "button", textContent: describe(doc) });
    button.addEventListener("click", () => choose(doc));
    li.append(button);
    list.append(li);
  }
  if (signing && !items.some((d) => d.item.document === signing.item.document && d.item.phase === signing.item.phase)) {
    $("sign-form").hidden = true; // signed meanwhile (or no longer due)
    signing = null;
  }
}

// What a report signature's box shows as the place: the member's venue, as the report names it. The field is
// the member's box on the signature page (evalroom.report_pdf.member_field: "member-" and the id's first 8).
function venueOf(memberId) {
  const signatory = shownReport && (shownReport.signatories || []).find((s) => s.member_id === memberId);
  return signatory ? signatory.venue : $("seat").textContent;
}

function choose(doc) {
  signing = doc;
  $("sign-what").textContent = describe(doc);
  $("sign-hash").textContent = doc.sha256 || "…";
  $("sign-status").textContent = "";
  $("sign-form").hidden = false;
  (doc.sha256 ? Promise.resolve(doc.sha256) : doc.fetch()).then((hash) => ($("sign-hash").textContent = hash));
  $("sign-pin").focus();
}

$("enrol").addEventListener("click", async () => {
  try {
    const factor = await api(`/sessions/${me.session_id}/factors/totp`, { method: "POST" });
    $("enrol-status").textContent = i18n.t("expert.enrolled", { secret: factor.secret });
    $("enrol-status").dataset.secret = factor.secret;
  } catch (err) {
    $("enrol-status").textContent = err.code === "conflict" ? i18n.t("expert.enrol_done") : err.message;
  }
});

// The second factor for a signature: the one-time code, or the registered security key (WebAuthn). The code
// field is asked for only with the code.
function usingKey() {
  return $("sign-factor-key").checked;
}

function showFactorChoice() {
  $("sign-code-field").hidden = usingKey();
  $("sign-code").required = !usingKey();
}

for (const id of ["sign-factor-code", "sign-factor-key"]) $(id).addEventListener("change", showFactorChoice);

$("enrol-key").hidden = !webauthn.available();
$("enrol-key").addEventListener("click", async () => {
  $("enrol-status").textContent = i18n.t("expert.key_touch");
  try {
    await webauthn.register(me.session_id);
    $("enrol-status").textContent = i18n.t("expert.key_enrolled");
    $("sign-factor-key").checked = true;
    showFactorChoice();
  } catch (err) {
    // A refusal of the browser's (cancelled, no authenticator: a DOMException) or of the coordinator's.
    $("enrol-status").textContent = err instanceof DOMException ? i18n.t("expert.key_failed", { reason: err.message })
      : err.message;
  }
});

$("sign-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const doc = signing;
  if (!doc) return;
  $("sign-status").textContent = "…";
  try {
    const code = $("sign-code").value.trim();
    const factor = usingKey() ? (ref) => webauthn.factorFor(me.session_id, ref) : async () => ({ kind: "totp", code });
    await doc.sign({ pin: $("sign-pin").value, factor, name: me.name,
                     location: venueOf(me.subject), field: `member-${me.subject.slice(0, 8)}`, dissent: doc.dissent });
    $("sign-status").textContent = i18n.t("expert.signed", { what: describe(doc) });
    $("sign-pin").value = $("sign-code").value = "";
    signing = null;
    $("sign-form").hidden = true;
    $("signed").textContent = i18n.t("expert.signed", { what: describe(doc) });
    refresh();
  } catch (err) {
    // A report that changed under us (another member signed first): fetch the new revision, show its hash,
    // and ask for a fresh code — a code is accepted once.
    if (err.code === "document_changed") await doc.fetch().then((hash) => ($("sign-hash").textContent = hash));
    $("sign-status").textContent = err instanceof DOMException // the browser's own refusal of the key
      ? i18n.t("expert.key_failed", { reason: err.message }) : err.message;
    $("sign-code").value = "";
    (typeof err.code === "string" && err.code.startsWith("pin") ? $("sign-pin")
      : usingKey() ? $("sign-factor-key") : $("sign-code")).focus();
  }
});

// --- boot ----------------------------------------------------------------------------------------------------
i18n.apply();
resumeOrLogin(start, $("login"));
