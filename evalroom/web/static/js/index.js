import * as i18n from "./i18n.js";

i18n.apply();
document.getElementById("lang").addEventListener("click", () => i18n.toggle());
