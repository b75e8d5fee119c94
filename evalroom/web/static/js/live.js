// A session's live events (docs/protocols.md, "Session event websocket"), kept alive across drops.
//
// The stream remembers the last sequence number it saw and, after a drop, subscribes again from there: nothing
// is missed and nothing is seen twice. Each (re)connection first calls onResync(), so the page reloads the
// current state from the API before applying the events that follow; the page never has to be reloaded.

import { token } from "./api.js";

export class EventStream {
  constructor(sessionId, { onEvent, onStatus, onResync }) {
    this.sessionId = sessionId;
    this.onEvent = onEvent;
    this.onStatus = onStatus || (() => {});
    this.onResync = onResync || (async () => {});
    this.after = 0;
    this.delay = 500;
    this.closed = false;
    this.stopped = false;
  }

  start(after = 0) {
    this.after = after;
    this.connect();
  }

  stop() {
    this.closed = this.stopped = true;
    if (this.ws) this.ws.close();
  }

  // A token that lapsed or was revoked because the page renewed it (an expert's, js/renew.js): the server tells
  // the stream the old token was revoked before the page has read the new one, so wait a few seconds for it,
  // then subscribe again from where the stream was. No new token by then: the refusal stands.
  awaitNewToken(used, error) {
    const deadline = Date.now() + 5000;
    const poll = () => {
      if (this.stopped) return;
      if (token() && token() !== used) {
        this.closed = false;
        this.connect();
      } else if (Date.now() < deadline) {
        setTimeout(poll, 200);
      } else {
        this.onStatus("refused", error);
      }
    };
    poll();
  }

  async connect() {
    if (this.closed) return;
    this.onStatus(this.ws ? "reconnecting" : "connecting");
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = (this.ws = new WebSocket(`${scheme}://${location.host}/api/v1/sessions/${this.sessionId}/events/ws`));
    let used = null; // the token this socket subscribed with
    ws.onopen = () => ws.send(JSON.stringify({ type: "subscribe", token: (used = token()), after: this.after }));
    ws.onmessage = async (message) => {
      if (ws !== this.ws || ws.readyState !== WebSocket.OPEN) return; // a socket already given up on
      const data = JSON.parse(message.data);
      if (data.type === "subscribed") {
        this.delay = 500;
        await this.onResync();
        this.onStatus("live");
      } else if (data.type === "event") {
        this.after = Math.max(this.after, data.event.seq);
        this.onEvent(data.event);
      } else if (data.type === "error") {
        this.closed = true; // this socket is done; a renewed token may start another
        if (["token_expired", "token_revoked"].includes(data.error && data.error.code)) this.awaitNewToken(used, data.error);
        else this.onStatus("refused", data.error); // out of scope, or the like: retrying cannot help
      }
    };
    ws.onclose = () => {
      if (ws !== this.ws) return; // a socket replaced already
      if (this.closed) return this.onStatus("closed");
      this.onStatus("reconnecting");
      setTimeout(() => this.connect(), this.delay);
      this.delay = Math.min(this.delay * 2, 5000);
    };
  }
}

// A page's reload from the API, coalesced: a burst of events (the backlog after a reconnect) costs one load,
// plus one more if anything arrived while it ran — never one load per event. Returns the function to call.
export function coalesced(load) {
  let loading = null;
  let stale = false;
  return function refresh() {
    if (loading) {
      stale = true;
      return loading;
    }
    loading = (async () => {
      do {
        stale = false;
        await load();
      } while (stale);
    })().finally(() => (loading = null));
    return loading;
  };
}
