// A session's committee draws as a table (GET …/committee: `draws`), each with its check in this browser
// (js/draw-check.js) against the record the caller may read (GET …/committee/draws/{id}). Shared by the host's
// console and the admin's page; the check's result stays shown while the table is rebuilt on new events.

import * as i18n from "./i18n.js";
import "./committee-text.js";
import { checkDraw } from "./draw-check.js";
import { el, rows } from "./ui.js";

const t = i18n.t;
const checks = new Map(); // draw id → {verdict?, words}: the latest check's line

/** The check's line for draw ``id`` wherever a table shows that draw now. */
function showCheck(id) {
  const line = checks.get(id);
  if (!line) return;
  for (const holder of document.querySelectorAll(`tr[data-draw="${id}"] [data-check]`)) {
    holder.replaceChildren(line.verdict
      ? el("span", { class: ["match", "commitment"].includes(line.verdict) ? "ok" : "error",
        dataset: { verdict: line.verdict } }, line.words)
      : line.words);
  }
}

async function check(d, readRecord) {
  checks.set(d.draw_id, { words: t("cm.checking") });
  showCheck(d.draw_id);
  let line;
  try {
    const r = await checkDraw((await readRecord(d)).events);
    const verdict = r.problems.length ? "mismatch" : r.recomputed ? "match" : "commitment";
    const words = r.problems.length ? t("cm.check_failed", { problems: r.problems.join("; ") })
      : r.recomputed === "drawn" ? t("cm.check_drawn", { n: r.picks })
        : r.recomputed === "failed" ? t("cm.check_failed_draw") : t("cm.check_commitment");
    line = { verdict, words };
  } catch (err) {
    line = { verdict: "error", words: err.message };
  }
  checks.set(d.draw_id, line);
  showCheck(d.draw_id);
}

const COLUMNS = ["cm.draw_purpose", "cm.draw_outcome", "cm.commitment", "cm.seed", "cm.check"];

/** Show ``draws`` in ``container`` as a table (labelled by the element its ``data-labelledby`` names; its body
 * ``<container id>-body``); ``readRecord(draw)`` answers the draw's record. */
export function renderDraws(container, draws, readRecord) {
  const body = el("tbody", { id: `${container.id}-body` });
  container.replaceChildren(el("table", { "aria-labelledby": container.dataset.labelledby },
    el("thead", {}, el("tr", {}, ...COLUMNS.map((key) => el("th", { scope: "col" }, t(key))))), body));
  rows(body, draws, (d, i) => el("tr", { dataset: { draw: d.draw_id } },
    el("td", {}, t("cm.draw_n", { n: i + 1 }), " ", t(`cm.purpose.${d.purpose}`)),
    el("td", {}, d.outcome === "drawn" ? t("cm.drawn_n", { n: d.members }) : d.outcome ? t("cm.failed") : t("cm.pending")),
    el("td", { class: "mono hash" }, d.commitment), el("td", { class: "mono hash" }, d.seed || "—"),
    el("td", {}, el("button", { type: "button", class: "secondary", onclick: () => check(d, readRecord) },
      t("cm.check_button"), el("span", { class: "visually-hidden" }, ` ${t("cm.draw_n", { n: i + 1 })}`)), " ",
    el("span", { "data-check": "" }))), "cm.no_draws");
  for (const d of draws) showCheck(d.draw_id);
}
