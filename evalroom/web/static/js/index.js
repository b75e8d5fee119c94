// The index: the expert's way in, and the staff login. A staff member logs in with a user name and password
// (POST /auth/login) and goes to the page for their role; the token stays in this tab's sessionStorage.

import { api, ApiError, setToken, token } from "./api.js";
import * as i18n from "./i18n.js";
import "./index-text.js";

const $ = (id) => document.getElementById(id);
const PAGE = { "hall-operator": "/operator", supervisor: "/supervisor", "coordinator-admin": "/admin" };

$("lang").addEventListener("click", () => {
  i18n.toggle();
  showSignedIn();
});

$("staff-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("staff-error").textContent = "";
  for (const id of ["username", "password"]) $(id).setAttribute("aria-invalid", "false");
  let answer;
  try {
    answer = await api("/auth/login", { method: "POST", body: { username: $("username").value, password: $("password").value } });
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    $("staff-error").textContent = err.code === "login_failed" ? i18n.t("index.login_failed") : err.message;
    for (const id of ["username", "password"]) $(id).setAttribute("aria-invalid", "true");
    $("password").value = "";
    $("password").focus();
    return;
  }
  setToken(answer.access_token);
  location.assign(PAGE[answer.role]);
});

let me = null;

function showSignedIn() {
  $("signed-in").hidden = !me;
  if (!me) return;
  $("signed-in-text").textContent = i18n.t("index.signed_in", { subject: me.subject, role: i18n.t(`role.${me.role}`) });
  $("signed-in-page").href = PAGE[me.role] || (me.role === "expert" ? "/expert" : "/");
}

$("signed-in-logout").addEventListener("click", async () => {
  await api("/auth/logout", { method: "POST" }).catch(() => {});
  setToken(null);
  me = null;
  showSignedIn();
  $("username").focus();
});

i18n.apply();
if (token()) {
  api("/auth/me").then((who) => {
    me = who;
    showSignedIn();
  }, () => setToken(null));
}
