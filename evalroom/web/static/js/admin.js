// The coordinator admin's page (docs/web.md, "The admin's page"): the coordinator's status, then one feature
// module per part of the job — regions with their CAs and the recognition list, venues with their site-agent
// keys, rooms and seats (js/admin-registry.js); staff accounts and the sessions' supervisors
// (js/admin-people.js), a session's committee with declines, voids and the draws' checks (js/admin-committee.js);
// the expert pools (js/admin-pools.js). This module loads what several of them show
// (regions, venues, accounts), and reloads it after any change; every rule stays on the server.

import { api, ApiError, setToken, token } from "./api.js";
import * as i18n from "./i18n.js";
import "./admin-text.js";
import * as committee from "./admin-committee.js";
import * as people from "./admin-people.js";
import * as pools from "./admin-pools.js";
import * as registry from "./admin-registry.js";
import { $, el, rows, when } from "./ui.js";

const t = i18n.t;
const shared = { regions: [], venues: [], accounts: [] };

/** Reload what the features share and show it again: after any change a feature makes. */
async function reload() {
  try {
    [shared.regions, shared.venues, shared.accounts] = await Promise.all([
      api("/regions"), api("/venues"), api("/accounts")]);
  } catch (err) {
    return failed(err);
  }
  registry.show(shared);
  people.show(shared);
  committee.show(shared);
  pools.show(shared);
}

function failed(err) {
  if (err instanceof ApiError && err.status === 401) {
    setToken(null);
    $("notice").replaceChildren(el("p", { class: "warning" }, t("ad.expired", { message: err.message }), " ",
      el("a", { href: "/" }, t("ad.login_again"))));
    return;
  }
  $("notice").replaceChildren(el("p", { class: "error" }, err.message));
}

// --- status --------------------------------------------------------------------------------------------------
function age(iso) {
  if (!iso) return "—";
  const days = Math.floor((Date.now() - new Date(iso).getTime()) / 86400000);
  return t("ad.days", { n: Math.max(0, days) });
}

async function status() {
  let s;
  try {
    s = await api("/admin/status");
  } catch (err) {
    return failed(err);
  }
  $("st-database").textContent = t("ad.database_value", { backend: s.database.backend, schema: s.database.schema,
    head: s.database.chain_head });
  $("st-media").textContent = `${s.media.backend}: ` + s.media.nodes.map((n) =>
    `${n.node} ${t(n.connected ? "ad.connected" : "ad.not_connected")}`).join("，");
  $("st-log").textContent = t("ad.log_value", { size: s.log.size, at: when(s.log.checkpoint_at) });
  $("st-cosigned").textContent = s.log.cosigned_size === null ? t("ad.cosigned_none")
    : t("ad.cosigned_value", { size: s.log.cosigned_size, n: s.log.cosignatures, at: when(s.log.cosigned_at) });
  const online = s.venues.filter((v) => v.online);
  $("st-venues").textContent = t("ad.venues_value", { online: online.length, total: s.venues.length })
    + (online.length ? `（${online.map((v) => v.code).join("，")}）` : "");
  rows($("status-venues-body"), s.venues, (v) => el("tr", { dataset: { venue: v.id } },
    el("th", { scope: "row" }, `${v.code} ${v.name}`),
    el("td", {}, el("span", { class: v.online ? "ok" : "bad" }, t(v.online ? "ad.online" : "ad.offline"))),
    el("td", {}, when(v.last_heartbeat_at)),
    el("td", {}, v.witnessed_size === null ? t("ad.witnessed_none")
      : t("ad.witnessed_value", { size: v.witnessed_size, at: when(v.witnessed_at) }))), "ad.none");
  rows($("keys-body"), s.keys, (k) => el("tr", {},
    el("td", {}, t(`key.${k.kind}`) + (k.kind === "token" && k.active ? t("ad.key_active") : "")),
    el("td", { class: "mono" }, k.id), el("td", {}, when(k.made_at)), el("td", {}, age(k.made_at))), "ad.none");
  $("status-at").textContent = t("ad.read_at", { time: when(s.now, { timeStyle: "medium" }) });
}

// --- start ---------------------------------------------------------------------------------------------------
$("lang").addEventListener("click", () => {
  i18n.toggle();
  status();
  reload();
});
$("status-refresh").addEventListener("click", () => {
  status();
  reload();
});
$("logout").addEventListener("click", async () => {
  await api("/auth/logout", { method: "POST" }).catch(() => {});
  setToken(null);
  location.assign("/");
});

async function start() {
  i18n.apply();
  if (!token()) {
    location.assign("/");
    return;
  }
  let me;
  try {
    me = await api("/auth/me");
  } catch (err) {
    return failed(err);
  }
  if (me.role !== "coordinator-admin") {
    $("notice").replaceChildren(el("p", { class: "warning" }, t("ad.not_admin"), " ", el("a", { href: "/" }, t("ad.login_again"))));
    return;
  }
  $("who").textContent = t("ad.who", { subject: me.subject });
  registry.start(reload, failed);
  people.start(reload, failed, committee.open);
  committee.start(failed);
  pools.start(reload, failed);
  await Promise.all([status(), reload()]);
}

start();
