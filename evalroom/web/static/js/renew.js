// Keeps an expert's token alive for the whole evaluation: a token lives `access_token_minutes` (15 by default)
// and an evaluation hours, so before it lapses the page exchanges it for a fresh one (POST /auth/refresh; the
// server revokes the old one and checks the seat's login is still the current one). The time is reckoned from
// the token's own lifetime (exp − iat) and the moment the page received it, not from the browser's clock,
// which may differ from the coordinator's. An open event stream refused for the old token subscribes again
// with the new one (js/live.js). A refusal (the member left the committee, logged in elsewhere) is the end:
// `onLapse` tells the page.

import { api, setToken, token } from "./api.js";

let timer = null;

function lifetimeSeconds(jwt) {
  try {
    const claims = JSON.parse(atob(jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    return claims.exp - claims.iat;
  } catch {
    return null;
  }
}

/** Renew the current token before it lapses, and again after each renewal. */
export function keepRenewed(onLapse) {
  clearTimeout(timer);
  const lifetime = lifetimeSeconds(token() || "");
  if (!lifetime || lifetime <= 0) return;
  // A minute before the end for the usual quarter of an hour; half-way for a short lifetime.
  const after = lifetime > 120 ? lifetime - 60 : lifetime / 2;
  timer = setTimeout(async () => {
    try {
      const answer = await api("/auth/refresh", { method: "POST" });
      setToken(answer.access_token);
      keepRenewed(onLapse);
    } catch (err) {
      onLapse(err);
    }
  }, after * 1000);
}
