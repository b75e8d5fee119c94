// Fault marks set by hand on a room or a seat (PATCH /rooms/{id}, /seats/{id}): what the site agent cannot see —
// a broken chair, a leaking ceiling, a room closed for repair — makes the seat (or every seat of the room)
// unusable until the mark is cleared. The venue's operators (and the admin) set a mark with its reason, which
// the seat's "usable" column then shows, and clear it. The site agent's device reports are separate and stay.

import * as i18n from "./i18n.js";
import { $, el, onSubmit } from "./ui.js";

i18n.extend({
  zh: {
    "fm.mark": "标记故障",
    "fm.clear": "清除故障标记",
    "fm.mark_h": "标记 {label} 故障",
    "fm.reason": "故障原因",
    "fm.submit": "标记",
    "fm.marked": "已标记。",
    "fm.cleared": "已清除 {label} 的故障标记。",
    "fm.room": "评标室 {code}",
    "fm.seat": "席位 {code}",
  },
  en: {
    "fm.mark": "Mark faulty",
    "fm.clear": "Clear the fault mark",
    "fm.mark_h": "Mark {label} faulty",
    "fm.reason": "What is wrong",
    "fm.submit": "Mark",
    "fm.marked": "Marked.",
    "fm.cleared": "The fault mark of {label} is cleared.",
    "fm.room": "room {code}",
    "fm.seat": "seat {code}",
  },
});

const t = i18n.t;
let io = null; // {call, reload}
let target = null; // {kind: "room" | "seat", id, label}

/** The button that marks ``item`` (a room or a seat of GET /venues/{id}/rooms) faulty, or clears its mark. */
export function control(kind, item, code) {
  const label = t(`fm.${kind}`, { code });
  const named = el("span", { class: "visually-hidden" }, ` ${label}`);
  return item.fault
    ? el("button", { type: "button", class: "secondary", onclick: () => clear(kind, item, label) }, t("fm.clear"), named)
    : el("button", { type: "button", class: "secondary", onclick: () => ask(kind, item, label) }, t("fm.mark"), named);
}

function ask(kind, item, label) {
  target = { kind, id: item.id, label };
  const form = $("fault-form");
  form.hidden = false;
  form.reset();
  $("fault-form-h").textContent = t("fm.mark_h", { label });
  $("fm-reason").focus();
}

async function clear(kind, item, label) {
  $("fault-status").textContent = "";
  try {
    await io.call(`/${kind}s/${item.id}`, { method: "PATCH", body: { fault: null } });
    $("fault-status").textContent = t("fm.cleared", { label });
  } catch (err) {
    $("fault-status").textContent = err.message;
  }
  await io.reload();
}

export function init(deps) {
  io = deps;
  onSubmit($("fault-form"), (f) => io.call(`/${target.kind}s/${target.id}`, { method: "PATCH",
    body: { fault: f.elements.namedItem("fault").value.trim() } }), async () => {
    $("fault-form").hidden = true;
    await io.reload();
  }, "fm.marked");
  $("fm-cancel").addEventListener("click", () => {
    $("fault-form").hidden = true;
  });
}
