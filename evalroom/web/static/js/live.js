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
  }

  start(after = 0) {
    this.after = after;
    this.connect();
  }

  stop() {
    this.closed = true;
    if (this.ws) this.ws.close();
  }

  async connect() {
    if (this.closed) return;
    this.onStatus(this.ws ? "reconnecting" : "connecting");
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = (this.ws = new WebSocket(`${scheme}://${location.host}/api/v1/sessions/${this.sessionId}/events/ws`));
    ws.onopen = () => ws.send(JSON.stringify({ type: "subscribe", token: token(), after: this.after }));
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
        // Refused (token expired or revoked, out of scope): retrying with the same token cannot help.
        this.closed = true;
        this.onStatus("refused", data.error);
      }
    };
    ws.onclose = () => {
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
