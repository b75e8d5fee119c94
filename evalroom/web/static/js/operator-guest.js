// The sessions this venue lends seats to, on its operator's console (docs/web.md, "The operator's page"): from the
// moment the host opens check-in (GET /venues/{id}/guest-sessions; before that the venue knows nothing of them,
// 四不知), each with its state, phase and window, which venues are online (this one by name, the host by role),
// the members checked in here with their seats and how many are still to come (each member's second factors
// reset from here after a lost phone: js/factor-reset.js), and the faults at this venue.
// The live view of this venue's seats (js/operator.js) follows the session that is running. Reloaded with the
// page's other polled parts and after a check-in at the desk.

import { resetButton } from "./factor-reset.js";
import * as i18n from "./i18n.js";
import { $, el, rows, when } from "./ui.js";

const t = i18n.t;
const hhmm = (iso) => when(iso, { timeStyle: "short" });

const say = (text) => {
  $("guest-status").textContent = text;
};

function members(g, i, call) {
  const table = el("table", {},
    el("caption", { class: "visually-hidden" }, t("op.gs.members_of", { code: g.code })),
    el("thead", {}, el("tr", {}, ...["op.member_name", "op.gs.specialty", "op.member_state", "op.gs.seat",
      "op.offer_actions"].map((key) => el("th", { scope: "col" }, t(key))))),
    el("tbody", { id: `gs-members-${i}` }));
  rows(table.tBodies[0], g.members, (m) => el("tr", { dataset: { member: m.member_id } },
    el("th", { scope: "row" }, m.name), el("td", {}, m.specialty || "—"), el("td", {}, t(`op.gs.state.${m.state}`)),
    el("td", {}, m.seat || "—"), el("td", {}, resetButton(g.session_id, m, call, say))), "op.gs.none_here");
  return table;
}

function venueLine(g, venueName) {
  return g.venues.map((v) => `${v.venue_id ? venueName : t(`op.gs.${v.role}`)} ${t(v.online ? "op.online" : "op.offline")}`)
    .join("；");
}

/** Show ``list`` (the API's answer); ``venueName``: this venue's name; ``call``: the page's API call. */
export function render(list, venueName, call) {
  $("guest").hidden = list.length === 0;
  $("guest-list").replaceChildren(...list.map((g, i) => el("article", { class: "guest-session", dataset: { session: g.session_id } },
    el("h3", {}, t("op.gs.session", { code: g.code, title: g.title })),
    el("dl", { class: "facts" },
      el("dt", {}, t("op.state")), el("dd", {}, t(`state.${g.state}`)),
      el("dt", {}, t("op.phase")), el("dd", {}, g.phase ? t(`phase.${g.phase}`) : "—"),
      el("dt", {}, t("op.scheduled")), el("dd", {}, `${when(g.scheduled_start)}–${hhmm(g.scheduled_end)}`),
      el("dt", {}, t("op.gs.venues")), el("dd", {}, venueLine(g, venueName)),
      el("dt", {}, t("op.gs.expected")), el("dd", {}, String(g.expected))),
    members(g, i, call),
    el("ul", { class: "plain" }, ...g.faults.map((f) => el("li", { class: f.fixed_at ? "" : "warning" },
      t("op.fault", { venue: venueName, cause: f.cause, time: when(f.started_at), detail: f.detail }),
      f.fixed_at ? ` — ${t("op.fault_fixed", { time: when(f.fixed_at), outcome: f.outcome })}` : null))))));
}

/** The guest session whose seats the live view shows: the one running, if any. */
export function running(list) {
  const g = list.find((x) => ["evaluating", "suspended"].includes(x.state));
  return g ? g.session_id : null;
}
