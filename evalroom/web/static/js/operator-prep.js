// The host's preparation, on the operator's console (docs/web.md, "The operator's page"): a new session hosted at
// this venue (code, title, window in Beijing time); for the chosen session while it waits, its reschedule, the
// tender's import (the file read in the page first: lots, bidders, the criteria tree and the price rule shown to
// check, then sent; a refused file's every error listed with its JSON path) and the guest seats it asks for —
// the coordinator draws the guest, which the page never names before check-in opens (四不知): each offer by its
// number, its terms and state, changed or cancelled here. Loaded with the rest of the session on its events.

import { ApiError } from "./api.js";
import * as i18n from "./i18n.js";
import { $, clearForm, el, onSubmit, rows, when } from "./ui.js";

const t = i18n.t;
let io = null; // {call, refreshAll, refreshSession}: operator.js's API call (which handles a lapsed login) and reloads
let shown = null; // {session, project, offers} of the chosen session while it waits, hosted here
let pending = null; // the tender file read, waiting for "import"
let changing = null; // the offer whose change form is open

const BEIJING = "+08:00";
const day = (iso) => new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(new Date(iso));
const hhmm = (iso) => new Intl.DateTimeFormat("en-GB", { timeZone: "Asia/Shanghai", hour: "2-digit", minute: "2-digit",
  hourCycle: "h23" }).format(new Date(iso));
/** The form's day and times (Beijing) as the API's instants; a time left empty stays undefined (the server says). */
function window_(form) {
  const date = form.elements.namedItem("date").value;
  const at = (name) => {
    const time = form.elements.namedItem(name).value;
    return date && time ? `${date}T${time}:00${BEIJING}` : undefined;
  };
  return { scheduled_start: at("scheduled_start"), scheduled_end: at("scheduled_end") };
}

// --- loading -------------------------------------------------------------------------------------------------
/** What the host's operator prepares of ``session`` (hosted here): null once it no longer waits. */
export async function load(session) {
  if (session.state !== "waiting") return null;
  const [project, offers] = await Promise.all([
    io.call(`/sessions/${session.id}/project`).catch((err) => {
      if (err instanceof ApiError && err.status === 404) return null; // not imported yet
      throw err;
    }),
    io.call(`/sessions/${session.id}/offers`)]);
  return { session, project, offers };
}

// --- the tender ----------------------------------------------------------------------------------------------
function criteriaTree(criteria) {
  return el("ul", {}, ...criteria.map((c) => el("li", {},
    `${c.code} ${c.name}` + (c.max ? t("op.prep.max", { max: c.max }) : "") + (c.objective ? t("op.prep.objective") : ""),
    c.children && c.children.length ? criteriaTree(c.children) : null)));
}

/** The summary an operator checks before importing: from the file's JSON as the page read it. */
function summary(doc) {
  const lots = Array.isArray(doc.lots) ? doc.lots : [];
  const bidders = Array.isArray(doc.bidders) ? doc.bidders : [];
  const rule = doc.price_rule || {};
  return el("dl", { class: "facts" },
    el("dt", {}, t("op.prep.project")), el("dd", {}, `${doc.code || "—"} ${doc.name || ""}`),
    el("dt", {}, t("op.prep.tenderer")), el("dd", {}, doc.tenderer || "—"),
    el("dt", {}, t("op.prep.lots")), el("dd", {}, lots.map((l) => `${l.code} ${l.name}（${t("op.prep.bids",
      { n: Array.isArray(l.bids) ? l.bids.length : 0 })}）`).join("；") || "—"),
    el("dt", {}, t("op.prep.bidders")), el("dd", {}, bidders.map((b) => `${b.code} ${b.name}`).join("；") || "—"),
    el("dt", {}, t("op.prep.criteria")), el("dd", {}, Array.isArray(doc.criteria) ? criteriaTree(doc.criteria) : "—"),
    el("dt", {}, t("op.prep.price_rule")), el("dd", {}, rule.kind ? t("op.prep.rule", { kind: rule.kind, points: rule.points ?? "—" }) : "—"));
}

async function readTender() {
  const input = $("tender-file");
  pending = null;
  $("tender-preview").replaceChildren();
  $("tender-import").hidden = true;
  $("tender-errors").hidden = true;
  clearForm($("tender-form"));
  if (!input.files[0]) return;
  try {
    pending = JSON.parse(await input.files[0].text());
  } catch (err) {
    $("tender-form").querySelector("[data-form-error]").textContent = t("op.prep.not_json", { message: err.message });
    return;
  }
  $("tender-preview").replaceChildren(el("h4", {}, t("op.prep.check")), summary(pending));
  $("tender-import").hidden = false;
}

function showTenderErrors(err) {
  const list = err instanceof ApiError && err.code === "import_rejected" ? err.details : [];
  $("tender-errors").hidden = list.length === 0;
  rows($("tender-errors-body"), list, (d) => el("tr", {},
    el("td", { class: "mono" }, d.path || "—"), el("td", {}, d.message || "")), "op.prep.none");
}

// --- offers --------------------------------------------------------------------------------------------------
function offerTerms(o) {
  return `${when(o.starts_at)}–${hhmm(o.ends_at)}，${t("op.prep.seats_n", { n: o.seats })}` +
    (o.specialties.length ? `，${o.specialties.join("、")}` : "");
}

function renderOffers(offers) {
  rows($("prep-offers-body"), offers, (o, i) => {
    const open = ["pending", "confirmed"].includes(o.state);
    const label = el("span", { class: "visually-hidden" }, ` ${t("op.prep.offer_n", { n: i + 1 })}`);
    return el("tr", { dataset: { offer: o.offer_id } },
      el("td", {}, t("op.prep.offer_n", { n: i + 1 })), el("td", {}, offerTerms(o)),
      el("td", {}, when(o.respond_by)), el("td", {}, t(`offer.${o.state}`)), el("td", {}, String(o.version)),
      el("td", { class: "buttons" }, ...(open ? [
        el("button", { type: "button", class: "secondary", onclick: () => openChange(o, i + 1) }, t("op.prep.change"), label.cloneNode(true)),
        el("button", { type: "button", class: "secondary", onclick: () => cancel(o, i + 1) }, t("op.prep.cancel_offer"), label.cloneNode(true)),
      ] : [])));
  }, "op.prep.no_offers");
}

function openChange(o, n) {
  changing = o;
  const form = $("offer-change-form");
  form.hidden = false;
  clearForm(form);
  $("offer-change-h").textContent = t("op.prep.change_n", { n });
  form.elements.namedItem("seats").value = o.seats;
  form.elements.namedItem("specialties").value = o.specialties.join(" ");
  form.elements.namedItem("seats").focus();
}

async function cancel(o, n) {
  const reason = prompt(t("op.prep.cancel_reason", { n }));
  if (reason === null) return;
  try {
    await io.call(`/offers/${o.offer_id}/cancel`, { method: "POST", body: { reason } });
  } catch (err) {
    $("prep-offers-status").textContent = err.message;
    return;
  }
  $("prep-offers-status").textContent = t("op.prep.cancelled", { n });
  await io.refreshSession();
}

const specialties = (text) => text.split(/[\s,，、]+/).filter(Boolean);
/** A whole number as a number; anything else as typed, for the server to refuse at the field. */
const count = (text) => (/^\d{1,6}$/.test(text.trim()) ? Number(text.trim()) : text);

// --- rendering -----------------------------------------------------------------------------------------------
export function render(data) {
  shown = data;
  $("prep").hidden = !data;
  if (!data) return;
  const { session, project, offers } = data;
  const form = $("reschedule-form");
  if (!form.contains(document.activeElement)) { // what is being typed stays
    form.elements.namedItem("title").value = session.title;
    form.elements.namedItem("date").value = day(session.scheduled_start);
    form.elements.namedItem("scheduled_start").value = hhmm(session.scheduled_start);
    form.elements.namedItem("scheduled_end").value = hhmm(session.scheduled_end);
  }
  $("tender-current").replaceChildren(project
    ? el("div", {}, el("p", {}, t("op.prep.imported", { time: when(project.imported_at), sha: project.sha256.slice(0, 16) })),
      summary(project.document))
    : el("p", { class: "muted" }, t("op.prep.no_project")));
  renderOffers(offers);
}

export function init(deps) {
  io = deps;
  onSubmit($("new-session-form"), (f) => io.call("/sessions", { method: "POST", body: {
    code: f.elements.namedItem("code").value.trim(), title: f.elements.namedItem("title").value.trim(),
    ...window_(f),
  } }), async () => {
    $("new-session-form").reset();
    await io.refreshAll();
  }, "op.prep.created");
  onSubmit($("reschedule-form"), (f) => {
    const body = { title: f.elements.namedItem("title").value.trim(), ...window_(f) };
    return io.call(`/sessions/${shown.session.id}`, { method: "PATCH", body });
  }, () => io.refreshAll(), "op.prep.saved");
  $("tender-file").addEventListener("change", readTender);
  onSubmit($("tender-form"), async () => {
    if (!pending) throw new ApiError(0, "no_file", t("op.prep.choose_file"));
    try {
      return await io.call(`/sessions/${shown.session.id}/project`, { method: "PUT", body: pending });
    } catch (err) {
      showTenderErrors(err);
      throw err instanceof ApiError ? new ApiError(err.status, err.code, err.message, []) : err;
    }
  }, async () => {
    showTenderErrors(null);
    $("tender-form").reset();
    $("tender-preview").replaceChildren();
    $("tender-import").hidden = true;
    pending = null;
    await io.refreshSession();
  }, "op.prep.tender_done");
  onSubmit($("offer-form"), (f) => {
    const body = { seats: count(f.elements.namedItem("seats").value),
      specialties: specialties(f.elements.namedItem("specialties").value) };
    return io.call(`/sessions/${shown.session.id}/offers`, { method: "POST", body });
  }, async () => {
    $("offer-form").reset();
    await io.refreshSession();
  }, "op.prep.asked");
  onSubmit($("offer-change-form"), (f) => io.call(`/offers/${changing.offer_id}`, { method: "PATCH", body: {
    seats: count(f.elements.namedItem("seats").value),
    specialties: specialties(f.elements.namedItem("specialties").value),
  } }), async () => {
    $("offer-change-form").hidden = true;
    await io.refreshSession();
  }, "op.prep.saved");
  $("offer-change-cancel").addEventListener("click", () => {
    $("offer-change-form").hidden = true;
  });
}

