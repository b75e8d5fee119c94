// What the staff pages' features share: building elements, showing times, and forms that send their fields to
// the API and show its refusals where they belong. A form's fields are named as the API's body fields; each has
// an error <span id="<field id>-error">, and the form has one line for the whole answer ([data-form-error],
// role="alert") and one for success ([data-form-status], role="status"). A `validation_failed` answer names
// fields in `details[].loc`; each one named is marked (aria-invalid) with the server's words beside it, and the
// focus goes to the first. Nothing is decided here: the server's answer is what the page shows.

import { ApiError } from "./api.js";
import * as i18n from "./i18n.js";

export const $ = (id) => document.getElementById(id);

export function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (key === "class") e.className = value;
    else if (key === "dataset") Object.assign(e.dataset, value);
    else if (/^(aria-|data-|scope$|colspan$|tabindex$|role$|form$|for$)/.test(key)) e.setAttribute(key, value);
    else e[key] = value;
  }
  e.append(...children.filter((c) => c !== null && c !== undefined && c !== false));
  return e;
}

export function when(iso, parts = { dateStyle: "short", timeStyle: "short" }) {
  if (!iso) return "—";
  return new Intl.DateTimeFormat(i18n.lang === "en" ? "en-GB" : "zh-CN",
    { timeZone: "Asia/Shanghai", ...parts, hourCycle: "h23" }).format(new Date(iso));
}

/** A table body's rows, replaced; with none, one row that says so across all columns. */
export function rows(tbody, list, render, emptyKey) {
  const columns = tbody.closest("table").querySelectorAll("thead th").length;
  tbody.replaceChildren(...(list.length ? list.map(render)
    : [el("tr", {}, el("td", { colspan: columns, class: "muted" }, i18n.t(emptyKey)))]));
}

function parts(form) {
  return { error: form.querySelector("[data-form-error]"), status: form.querySelector("[data-form-status]") };
}

export function clearForm(form) {
  const { error, status } = parts(form);
  if (error) error.textContent = "";
  if (status) status.textContent = "";
  for (const field of form.elements) {
    if (!field.name) continue;
    field.setAttribute("aria-invalid", "false");
    const note = field.id && $(`${field.id}-error`);
    if (note) note.textContent = "";
  }
}

/** Show an API refusal on the form: the message on its line, each named field marked with the server's words. */
export function showError(form, err) {
  if (!(err instanceof ApiError)) throw err;
  const { error } = parts(form);
  const unplaced = [];
  let first = null;
  for (const d of err.details) {
    const loc = Array.isArray(d.loc) ? d.loc.filter((p) => typeof p === "string") : [d.loc || d.field];
    const field = loc.map((name) => name && form.elements.namedItem(name)).find((f) => f && f.setAttribute);
    if (!field) {
      const text = d.message || d.msg;
      if (text) unplaced.push(d.subject ? `${d.subject}: ${text}` : text);
      continue;
    }
    field.setAttribute("aria-invalid", "true");
    const note = field.id && $(`${field.id}-error`);
    if (note) note.textContent = d.msg || d.message || "";
    first = first || field;
  }
  // What belongs to no field of the form (e.g. each refused certificate of an upload) follows the message.
  if (error) error.textContent = [err.message, ...unplaced].join("；");
  (first || form.querySelector("button[type=submit]")).focus();
}

/** Send the form on submit: `send(form)` calls the API; `done(answer)` follows a success, whose words
 * (`doneKey`) go on the status line. */
export function onSubmit(form, send, done, doneKey) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearForm(form);
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const answer = await send(form);
      const { status } = parts(form);
      if (status && doneKey) status.textContent = i18n.t(doneKey);
      if (done) await done(answer);
    } catch (err) {
      showError(form, err);
    } finally {
      button.disabled = false;
    }
  });
}

/** The text of a chosen file; DER (binary) certificates and CRLs become PEM, as the API takes them. */
export async function fileText(input, pemLabel) {
  const file = input.files[0];
  if (!file) return "";
  const bytes = new Uint8Array(await file.arrayBuffer());
  const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes);
  if (!pemLabel || text.includes("-----BEGIN")) return text;
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  const lines = btoa(binary).match(/.{1,64}/g) || [];
  return `-----BEGIN ${pemLabel}-----\n${lines.join("\n")}\n-----END ${pemLabel}-----\n`;
}

/** Save bytes as a file: a download is not a fetch, so the page's policy stays as it is. */
export function save(bytes, name, type) {
  const url = URL.createObjectURL(new Blob([bytes], { type }));
  const a = el("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
