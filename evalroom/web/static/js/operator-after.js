// The work after the session on the host operator's page (docs/after.md, docs/web.md): the candidates'
// publication and its objections once the report is sealed; the experts' fee batches, with their CSV and XLSX
// exports, and the host's ratings of the experts who evaluated once the session has ended. It is loaded with
// the rest of the chosen session, so the page's coalesced reload on each burst of session events
// (publication.*, fees.batch_issued, rating.recorded among them) keeps it current. Every deadline, amount and
// rule is the server's; the page shows what it answers, refusals included.
//
// Rows are reconciled by key (keyed()): a reload does not rebuild a row whose content did not change, so what
// is typed into an answer or a rating, its error and the keyboard's focus survive the events that arrive
// meanwhile.

import * as i18n from "./i18n.js";

const $ = (id) => document.getElementById(id);
const t = i18n.t;
const XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
const INTEGER = /^\d{1,3}$/;

let io = null; // what the page lends: {call, bytes, el, when, fieldError, reload}
let shown = null; // the data last rendered: {sessionId, ended, sealed, publication, objections, batches, ratings, experts}
const notes = new Map(); // member id → the server's last refusal of a rating, kept across reloads

export function init(deps) {
  io = deps;
  $("publish-form").addEventListener("submit", publish);
  $("objection-form").addEventListener("submit", recordObjection);
  $("fees-issue").addEventListener("click", issueFees);
  $("evidence-download").addEventListener("click", downloadEvidence);
}

// --- loading -------------------------------------------------------------------------------------------------
/** What the host's operator sees of the work after ``session`` (hosted at their venue), or null before it. */
export async function load(session, status, committee) {
  const ended = ["ended", "archived"].includes(status.state);
  if (!ended && !status.report_sealed) return null;
  const id = session.id;
  const [publication, batches, ratings] = await Promise.all([
    findPublication(id),
    ended ? io.call(`/sessions/${id}/fee-batches`) : [],
    ended ? io.call(`/sessions/${id}/ratings`) : null]);
  const objections = publication ? await io.call(`/publications/${publication.publication_id}/objections`) : [];
  const experts = committee ? committee.members.filter((m) => m.kind === "expert" && m.state === "seated") : [];
  return { sessionId: id, ended, sealed: status.report_sealed, publication, objections, batches, ratings, experts };
}

async function findPublication(sessionId) {
  const [found] = await io.call(`/publications?session_id=${encodeURIComponent(sessionId)}`);
  return found || null; // a session is published once
}

// --- rendering -----------------------------------------------------------------------------------------------
export function render(data) {
  if (!data || !shown || data.sessionId !== shown.sessionId) notes.clear();
  shown = data;
  $("after").hidden = !data;
  if (!data) return;
  renderPublication(data);
  renderFees(data);
  $("evidence-part").hidden = !data.ended;
  renderRatings(data);
}

function mark(kind, text) {
  return io.el("span", { class: kind }, text);
}

// Children of ``container`` keyed by ``key(item)``; a child is rebuilt only when ``sig(item)`` changed, and the
// children that stay are not moved, so a field keeps its value and the focus.
function keyed(container, items, key, sig, build) {
  const want = items.map((item) => [String(key(item)), JSON.stringify([i18n.lang, sig(item)]), item]);
  const keep = new Set(want.map(([k]) => k));
  for (const child of [...container.children]) if (!keep.has(child.dataset.key)) child.remove();
  const old = new Map([...container.children].map((c) => [c.dataset.key, c]));
  let cursor = container.firstElementChild;
  for (const [k, s, item] of want) {
    let child = old.get(k);
    if (!child || child.dataset.sig !== s) {
      const fresh = build(item);
      fresh.dataset.key = k;
      fresh.dataset.sig = s;
      if (child) {
        if (cursor === child) cursor = fresh;
        child.replaceWith(fresh);
      }
      child = fresh;
    }
    if (child === cursor) cursor = cursor.nextElementSibling;
    else container.insertBefore(child, cursor);
  }
}

// --- the publication and its objections ----------------------------------------------------------------------
function renderPublication(d) {
  const p = d.publication;
  $("pub-part").hidden = !(d.sealed || p);
  $("publish-form").hidden = Boolean(p);
  $("pub-shown").hidden = !p;
  $("publish-help").textContent = t("op.pub_help");
  if (!p) return;
  $("pub-window").replaceChildren(t("op.pub_window_value", { from: p.window.from, to: p.window.to, days: p.window.days }),
    " ", mark(p.state === "open" ? "ok" : "muted", t(`op.pub_state.${p.state}`)));
  $("pub-by").replaceChildren(p.publish_by, p.overdue ? " " : "", p.overdue ? mark("bad", t("op.pub_overdue")) : "");
  $("pub-at").textContent = io.when(p.published_at);
  $("pub-counts").replaceChildren(t("op.pub_counts", p.objections), " ",
    p.paused ? mark("bad", t("op.pub_paused")) : "");
  $("obj-none").hidden = d.objections.length > 0;
  $("obj-table").hidden = d.objections.length === 0;
  keyed($("obj-body"), d.objections, (o) => o.id, (o) => [o.answer, o.late, o.overdue], objectionRow);
}

function objectionRow(o) {
  const el = io.el;
  const state = [];
  if (o.late) state.push(mark("bad", t("op.obj_late")), " ");
  if (o.answer !== null) state.push(mark("ok", t("op.obj_answered", { time: io.when(o.answered_at) })));
  else state.push(o.overdue ? mark("bad", t("op.obj_overdue")) : t("op.obj_waiting"));
  return el("tr", { dataset: { objection: o.id } },
    el("th", { scope: "row", id: `obj-${o.id}-who` }, o.objector),
    el("td", { class: "text" }, o.text),
    el("td", {}, io.when(o.received_at)),
    el("td", {}, o.answer_by),
    el("td", {}, ...state),
    el("td", { class: "text" }, o.answer !== null ? o.answer : answerForm(o)));
}

function answerForm(o) {
  const el = io.el;
  const id = `obj-${o.id}-answer`;
  const form = el("form", { class: "answer-form", noValidate: true },
    el("label", { htmlFor: id }, t("op.obj_answer_label", { objector: o.objector })),
    el("textarea", { id, required: true, rows: 2, cols: 30, maxLength: 2000, "aria-describedby": `${id}-error` }),
    el("button", { type: "submit", "aria-describedby": `obj-${o.id}-who` }, t("op.obj_answer_submit")),
    el("span", { id: `${id}-error`, class: "error", role: "alert" }));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    answer(o, $(id), `${id}-error`);
  });
  return form;
}

async function publish(event) {
  event.preventDefault();
  const input = $("pub-days");
  const raw = input.value.trim();
  // Whole days from 3 to 30 (条例 Art. 54; the API's schema states the range and refuses anything else).
  const days = INTEGER.test(raw) && Number(raw) >= 3 && Number(raw) <= 30;
  if (!io.fieldError(input, "pub-days-error", days ? "" : t("op.error.days"))) return input.focus();
  try {
    const p = await io.call(`/sessions/${shown.sessionId}/publication`, { method: "POST", body: { days: Number(raw) } });
    $("pub-status").textContent = t("op.pub_done", { from: p.window.from, to: p.window.to });
  } catch (err) {
    io.fieldError(input, "pub-days-error", err.message); // report_not_sealed, conflict
    return input.focus();
  }
  await io.reload();
  $("pub-status").focus(); // the form is gone: keep the keyboard's place at the outcome
}

async function recordObjection(event) {
  event.preventDefault();
  const objector = $("obj-objector");
  const text = $("obj-text");
  $("objection-error").textContent = $("objection-status").textContent = "";
  const a = io.fieldError(objector, "obj-objector-error", objector.value.trim() ? "" : t("op.error.required"));
  const b = io.fieldError(text, "obj-text-error", text.value.trim() ? "" : t("op.error.required"));
  if (!a || !b) return (a ? text : objector).focus();
  try {
    const o = await io.call(`/publications/${shown.publication.publication_id}/objections`, {
      method: "POST", body: { objector: objector.value.trim(), text: text.value.trim() } });
    $("objection-status").textContent = t(o.late ? "op.obj_recorded_late" : "op.obj_recorded",
      { objector: o.objector, answer_by: o.answer_by });
    $("objection-form").reset();
  } catch (err) {
    $("objection-error").textContent = err.message;
    for (const d of err.details) { // validation_failed names the field (e.g. an objector over 200 characters)
      const field = { objector, text }[Array.isArray(d.loc) ? d.loc[d.loc.length - 1] : d.loc];
      if (field) io.fieldError(field, `${field.id}-error`, d.msg || err.message);
    }
    return;
  }
  await io.reload();
}

async function answer(o, input, errorId) {
  if (!io.fieldError(input, errorId, input.value.trim() ? "" : t("op.error.required"))) return input.focus();
  try {
    await io.call(`/publications/${o.publication_id}/objections/${o.id}/answer`, {
      method: "POST", body: { text: input.value.trim() } });
  } catch (err) {
    io.fieldError(input, errorId, err.message); // conflict: answered already
    return input.focus();
  }
  $("obj-answer-status").textContent = t("op.obj_answer_done", { objector: o.objector });
  await io.reload();
  $("obj-answer-status").focus();
}

// --- fee batches ---------------------------------------------------------------------------------------------
function renderFees(d) {
  $("fees-part").hidden = !d.ended;
  $("fees-none").hidden = d.batches.length > 0;
  keyed($("fees-batches"), d.batches, (b) => b.id, () => 0, batchView);
}

function batchView(b) {
  const el = io.el;
  const doc = b.document;
  const h = `batch-${b.id}-h`;
  const head = ["op.fee_line", "op.member_name", "op.fee_venue", "op.fee_minutes", "op.fee_table", "op.fee_amount",
    "op.fee_basis"].map((key) => el("th", { scope: "col" }, t(key)));
  const button = (format) => el("button", { type: "button", class: "secondary", "aria-describedby": h,
                                           onclick: () => download(b, format) }, t(`op.fee_download_${format}`));
  return el("div", { class: "batch", dataset: { batch: b.id, payer: doc.payer.venue_id } },
    el("h4", { id: h }, t("op.fee_batch", { payer: doc.payer.name, code: doc.payer.code, version: b.version })),
    el("p", { class: "muted" }, t("op.fee_batch_meta", {
      time: io.when(b.created_at), tables: doc.tables.map((x) => x.code).join("、"), sha: b.sha256.slice(0, 16) })),
    el("table", { "aria-labelledby": h },
      el("thead", {}, el("tr", {}, ...head)),
      el("tbody", {}, ...doc.lines.map((line) => el("tr", { dataset: { member: line.member_id } },
        el("td", {}, String(line.line)),
        el("th", { scope: "row" }, line.name),
        el("td", {}, line.venue),
        el("td", { class: "amount" }, String(line.minutes)),
        el("td", {}, line.table),
        el("td", { class: "amount" }, line.amount),
        el("td", { class: "text" }, line.basis)))),
      el("tfoot", {}, el("tr", {},
        el("th", { scope: "row", colspan: "5" }, t("op.fee_total")),
        el("td", { class: "amount fee-total" }, doc.total),
        el("td", {})))),
    el("p", { class: "buttons" }, button("csv"), button("xlsx")));
}

async function issueFees() {
  const id = shown.sessionId;
  $("fees-error").textContent = $("fees-status").textContent = "";
  try {
    const before = new Set((await io.call(`/sessions/${id}/fee-batches`)).map((b) => b.id));
    const batches = await io.call(`/sessions/${id}/fee-batches`, { method: "POST" });
    $("fees-status").textContent = batches.map((b) => t(before.has(b.id) ? "op.fees_unchanged" : "op.fees_new", {
      payer: b.document.payer.name, version: b.version, total: b.total })).join(" ");
  } catch (err) {
    $("fees-error").textContent = err.message; // unknown_fee_table names the regions without a table
  }
  await io.reload();
}

// The export needs the token, which a plain link cannot send: the bytes are fetched with it and saved from a
// blob: URL through a download link (a download is not a fetch the page's CSP restricts).
async function download(b, format) {
  const doc = b.document;
  const name = `fees-${doc.session.code}-${doc.payer.code}-v${b.version}.${format}`;
  $("fees-error").textContent = $("fees-status").textContent = "";
  try {
    const { bytes } = await io.bytes(`/fee-batches/${b.id}?format=${format}`);
    const url = URL.createObjectURL(new Blob([bytes], { type: format === "csv" ? "text/csv;charset=utf-8" : XLSX }));
    const link = io.el("a", { href: url, download: name, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
    $("fees-status").textContent = t("op.fee_downloaded", { name });
  } catch (err) {
    $("fees-error").textContent = err.message;
  }
}

// --- the evidence bundle -------------------------------------------------------------------------------------
// The bundle (recordings included) is built by the coordinator when asked, so the button says it is working.
async function downloadEvidence() {
  const button = $("evidence-download");
  $("evidence-error").textContent = "";
  $("evidence-status").textContent = t("op.evidence_working");
  button.disabled = true;
  try {
    const { bytes } = await io.bytes(`/sessions/${shown.sessionId}/evidence`);
    const name = `evidence-${shown.sessionId}.zip`;
    const url = URL.createObjectURL(new Blob([bytes], { type: "application/zip" }));
    const link = io.el("a", { href: url, download: name, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
    $("evidence-status").textContent = t("op.evidence_done", { name, size: (bytes.length / 1048576).toFixed(1) });
  } catch (err) {
    $("evidence-status").textContent = "";
    $("evidence-error").textContent = err.message;
  } finally {
    button.disabled = false;
  }
}

// --- ratings -------------------------------------------------------------------------------------------------
function renderRatings(d) {
  $("ratings-part").hidden = !d.ended;
  const r = d.ratings;
  if (!r) return;
  $("ratings-due").replaceChildren(t("op.ratings_due", { due: r.due }), " ",
    mark(r.open ? "ok" : "bad", t(r.open ? "op.ratings_open" : "op.ratings_closed")));
  $("ratings-none").hidden = d.experts.length > 0;
  $("ratings-table").hidden = d.experts.length === 0;
  const by = (m, rater) => r.ratings.find((x) => x.member_id === m.member_id && x.rater === rater) || null;
  keyed($("ratings-body"), d.experts, (m) => m.member_id,
    (m) => [by(m, "host"), by(m, "tenderer"), r.open, notes.get(m.member_id)],
    (m) => ratingRow(m, by(m, "host"), by(m, "tenderer"), r.open));
}

function ratingRow(m, host, tenderer, open) {
  const el = io.el;
  const id = `rate-${m.member_id}`;
  const note = el("span", { id: `${id}-error`, class: "error", role: "alert" }, notes.get(m.member_id) || "");
  const cells = [];
  if (host || !open) {
    cells.push(el("td", { class: "amount" }, host ? String(host.score) : "—"),
      el("td", { class: "text" }, host && host.comment ? host.comment : "—"),
      el("td", {}, host ? mark("ok", t("op.rated", { time: io.when(host.rated_at) }))
        : mark("muted", t("op.rating_missed")), " ", note));
  } else {
    const form = el("form", { id, noValidate: true },
      el("button", { type: "submit", "aria-label": t("op.rate_submit_for", { name: m.name }) }, t("op.rate_submit")));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      rate(m);
    });
    cells.push(
      el("td", {}, el("input", { id: `${id}-score`, inputMode: "numeric", size: 4, autocomplete: "off", required: true,
                                 "aria-label": t("op.rate_score_for", { name: m.name }), "aria-describedby": `${id}-error`,
                                 "aria-invalid": notes.get(m.member_id) ? "true" : "false", form: id }),
        " ", note),
      el("td", {}, el("input", { id: `${id}-comment`, maxLength: 2000, size: 24, autocomplete: "off", form: id,
                                 "aria-label": t("op.rate_comment_for", { name: m.name }) })),
      el("td", {}, form));
  }
  return el("tr", { dataset: { member: m.member_id } },
    el("th", { scope: "row", tabindex: "-1" }, m.name), el("td", {}, m.specialty || "—"), el("td", {}, m.seat || "—"), ...cells,
    el("td", { class: "amount" }, tenderer ? String(tenderer.score) : "—"));
}

async function rate(m) {
  const id = `rate-${m.member_id}`;
  const input = $(`${id}-score`);
  const raw = input.value.trim();
  const comment = $(`${id}-comment`).value.trim();
  // A whole number; the range (0 to 100) and the deadline are the server's rules, and its message is shown.
  const score = INTEGER.test(raw) && Number(raw) <= 100; // the API's range, stated in its schema
  if (!io.fieldError(input, `${id}-error`, score ? "" : t("op.error.score100"))) return input.focus();
  try {
    const r = await io.call(`/sessions/${shown.sessionId}/ratings`, { method: "POST", body: {
      member_id: m.member_id, score: Number(raw), ...(comment ? { comment } : {}) } });
    notes.delete(m.member_id);
    $("ratings-status").textContent = t("op.rate_done", { name: m.name, score: r.score });
  } catch (err) {
    io.fieldError(input, `${id}-error`, err.message);
    if (!["already_rated", "rating_closed"].includes(err.code)) return input.focus();
    // Rated by another operator meanwhile, or the window closed: the reload shows the row as it now is, and
    // the server's words stay beside it.
    notes.set(m.member_id, err.message);
  }
  await io.reload();
  const row = document.querySelector(`#ratings-body tr[data-member="${m.member_id}"]`);
  (notes.has(m.member_id) && row ? row.querySelector("th") : $("ratings-status")).focus(); // the form is gone
}
