// The admin's registry: regions with their CA certificates, CRLs and the recognition list (数字证书互认), and
// venues with their site-agent keys, rooms and seats. One region and one venue are open at a time, chosen from
// their tables. Uploads take PEM or DER files; the API checks chain, validity and key usage and its refusal is
// shown beside the file.

import { api } from "./api.js";
import * as i18n from "./i18n.js";
import { $, el, fileText, onSubmit, rows, save, when } from "./ui.js";

const t = i18n.t;
let reload = async () => {};
let failed = () => {};
let shared = { regions: [], venues: [] };
let region = null; // the region whose trust is open
let venue = null; // the venue whose keys and rooms are open

function regionName(id) {
  const r = shared.regions.find((x) => x.id === id);
  return r ? `${r.name}（${r.code}）` : id;
}

// --- regions -------------------------------------------------------------------------------------------------
function showRegions() {
  rows($("regions-body"), shared.regions, (r) => el("tr", {},
    el("td", {}, r.code), el("td", {}, r.name), el("td", {}, r.ca_name || "—"),
    el("td", {},
      el("span", { class: r.recognised ? "ok" : "muted" }, t(r.recognised ? "ad.yes" : "ad.no")), " ",
      el("button", { type: "button", class: "secondary", onclick: () => recognise(r, !r.recognised) },
        t(r.recognised ? "ad.unrecognise" : "ad.recognise"), el("span", { class: "visually-hidden" }, ` ${r.code}`))),
    el("td", {}, el("button", { type: "button", class: "secondary", onclick: () => openTrust(r.id) },
      t("ad.trust_open"), el("span", { class: "visually-hidden" }, ` ${r.code}`)))), "ad.none");
  const select = $("vn-region");
  const chosen = select.value;
  select.replaceChildren(...shared.regions.map((r) => el("option", { value: r.id }, `${r.name}（${r.code}）`)));
  if (chosen) select.value = chosen;
}

async function recognise(r, recognised) {
  try {
    await api(`/regions/${r.id}`, { method: "PATCH", body: { recognised } });
  } catch (err) {
    return failed(err);
  }
  await reload();
}

async function openTrust(id) {
  region = id;
  let trust;
  try {
    trust = await api(`/regions/${id}/trust`);
  } catch (err) {
    return failed(err);
  }
  if (region !== id) return;
  $("trust-part").hidden = false;
  $("trust-h").textContent = t("ad.trust_of", { region: regionName(id) });
  rows($("certs-body"), trust.certificates, (c) => el("tr", {},
    el("td", {}, t(`cert.${c.kind}`)), el("td", {}, c.subject), el("td", {}, when(c.not_after)),
    el("td", { class: "mono" }, c.sha256.slice(0, 16) + "…")), "ad.none");
  rows($("crls-body"), trust.crls, (c) => el("tr", {},
    el("td", {}, c.issuer), el("td", {}, when(c.this_update)), el("td", {}, when(c.next_update)),
    el("td", {}, t(c.current ? "ad.yes" : "ad.no"))), "ad.none");
  return trust;
}

// --- venues --------------------------------------------------------------------------------------------------
function showVenues() {
  rows($("venues-body"), shared.venues, (v) => el("tr", {},
    el("td", {}, v.code), el("td", {}, v.name), el("td", {}, v.city), el("td", {}, regionName(v.region_id)),
    el("td", {}, el("span", { class: v.online ? "ok" : "bad" }, t(v.online ? "ad.online" : "ad.offline"))),
    el("td", {}, when(v.last_heartbeat_at)),
    el("td", {}, el("button", { type: "button", class: "secondary", onclick: () => openVenue(v.id) },
      t("ad.venue_open"), el("span", { class: "visually-hidden" }, ` ${v.code}`)))), "ad.none");
  if (venue) openVenue(venue);
}

async function openVenue(id) {
  venue = id;
  let creds, rooms;
  try {
    [creds, rooms] = await Promise.all([api(`/venues/${id}/credentials`), api(`/venues/${id}/rooms`)]);
  } catch (err) {
    return failed(err);
  }
  if (venue !== id) return;
  const v = shared.venues.find((x) => x.id === id);
  $("venue-part").hidden = false;
  $("venue-part-h").textContent = v ? `${v.name}（${v.code}）` : id;
  rows($("creds-body"), creds, (c) => el("tr", {},
    el("td", {}, c.label), el("td", {}, when(c.created_at)),
    el("td", {}, c.revoked_at ? t("ad.revoked_at", { time: when(c.revoked_at) }) : t("ad.in_use")),
    el("td", {}, c.revoked_at ? "" : el("button", { type: "button", class: "secondary", onclick: () => revoke(c) },
      t("ad.revoke"), el("span", { class: "visually-hidden" }, ` ${c.label}`)))), "ad.none");
  $("rooms-list").replaceChildren(...(rooms.length ? rooms.map((r) => el("p", {},
    el("strong", {}, `${r.code} ${r.name}`), ` (${t(`ad.room_${r.kind}`)})：`,
    r.seats.length ? r.seats.map((s) => s.code).join("，") : t("ad.no_seats"))) : [el("p", { class: "muted" }, t("ad.none"))]));
  const seatRoom = $("st-room");
  const chosen = seatRoom.value;
  seatRoom.replaceChildren(...rooms.map((r) => el("option", { value: r.id }, `${r.code} ${r.name}`)));
  if (chosen && rooms.some((r) => r.id === chosen)) seatRoom.value = chosen;
}

async function revoke(c) {
  if (!confirm(t("ad.revoke_confirm", { label: c.label }))) return;
  try {
    await api(`/venues/${c.venue_id}/credentials/${c.id}`, { method: "DELETE" });
  } catch (err) {
    return failed(err);
  }
  await openVenue(c.venue_id);
}

// --- forms ---------------------------------------------------------------------------------------------------
const value = (form, name) => form.elements.namedItem(name).value.trim();

export function start(reloadAll, fail) {
  reload = reloadAll;
  failed = fail;
  onSubmit($("region-form"), (f) => api("/regions", { method: "POST", body: {
    code: value(f, "code"), name: value(f, "name"), ...(value(f, "ca_name") ? { ca_name: value(f, "ca_name") } : {}),
  } }), async () => {
    $("region-form").reset();
    await reload();
  }, "ad.saved");
  onSubmit($("cert-form"), async (f) => api(`/regions/${region}/ca-certificates`, { method: "POST",
    body: { pem: await fileText(f.elements.namedItem("pem"), "CERTIFICATE") } }), async () => {
    $("cert-form").reset();
    await openTrust(region);
  }, "ad.uploaded");
  onSubmit($("crl-form"), async (f) => api(`/regions/${region}/crls`, { method: "POST",
    body: { pem: await fileText(f.elements.namedItem("pem"), "X509 CRL") } }), async () => {
    $("crl-form").reset();
    await openTrust(region);
  }, "ad.uploaded");
  $("trust-download").addEventListener("click", async () => {
    const trust = await openTrust(region);
    if (trust) save(JSON.stringify(trust, null, 2), `trust-${trust.code}.json`, "application/json");
  });
  onSubmit($("venue-form"), (f) => api("/venues", { method: "POST", body: {
    code: value(f, "code"), name: value(f, "name"), city: value(f, "city"), region_id: value(f, "region_id"),
  } }), async () => {
    $("venue-form").reset();
    await reload();
  }, "ad.saved");
  onSubmit($("cred-form"), (f) => api(`/venues/${venue}/credentials`, { method: "POST", body: {
    label: value(f, "label"), public_key: value(f, "public_key"),
  } }), async () => {
    $("cred-form").reset();
    await openVenue(venue);
  }, "ad.saved");
  onSubmit($("room-form"), (f) => api(`/venues/${venue}/rooms`, { method: "POST", body: {
    code: value(f, "code"), name: value(f, "name"), kind: value(f, "kind"),
  } }), async () => {
    $("room-form").reset();
    await openVenue(venue);
  }, "ad.saved");
  onSubmit($("seat-form"), (f) => api(`/rooms/${value(f, "room_id")}/seats`, { method: "POST", body: {
    code: value(f, "code"),
  } }), async () => {
    $("seat-form").elements.namedItem("code").value = "";
    await openVenue(venue);
  }, "ad.saved");
}

export function show(state) {
  shared = state;
  showRegions();
  showVenues();
  if (region) openTrust(region);
}
