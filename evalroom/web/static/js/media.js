// A session's media room in the browser (docs/protocols.md, "Media room"): the browser's own WebRTC against
// the coordinator's relay, signalled over /api/v1/sessions/{id}/media/ws. No plugin, no download.
//
// The coordinator does not trickle ICE: candidates travel inside the SDP, so every description is sent only
// once the browser has finished gathering. VP8 and Opus are preferred because they are what the relay records
// (WebM) without transcoding and what every browser decodes.
//
// The room survives a dropped signalling socket: it joins again (0.5 s, doubling to 5 s) and publishes and
// subscribes again what it had, so a seat's camera comes back without the expert doing anything. (The
// coordinator ends a client's publications when its socket closes; its recorder continues after the gap.)

import { token } from "./api.js";

const GATHER_TIMEOUT_MS = 5000;

export class MediaError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

export class MediaRoom {
  constructor(sessionId, { onPublishers = () => {}, onStatus = () => {}, onStream = () => {} } = {}) {
    this.sessionId = sessionId;
    this.onPublishers = onPublishers;
    this.onStatus = onStatus;
    this.onStream = onStream; // (publisher, MediaStream) after a subscription is (re)made
    this.iceServers = [];
    this.publishers = [];
    this.published = new Map(); // name → {stream, pc, publisher}
    this.subscribed = new Map(); // publisher → {pc, subscription, stream}
    this.pending = new Map(); // request id → {resolve, reject}
    this.ids = 0;
    this.delay = 500;
    this.closed = false;
    this.joined = null;
  }

  /** Join the room; answers the server's `joined` message ({publish_as, publishers, ice_servers}). */
  join() {
    this.closed = false;
    return this.connect();
  }

  connect() {
    this.onStatus(this.ws ? "reconnecting" : "connecting");
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = (this.ws = new WebSocket(`${scheme}://${location.host}/api/v1/sessions/${this.sessionId}/media/ws`));
    return new Promise((resolve, reject) => {
      ws.onopen = () => ws.send(JSON.stringify({ type: "join", token: token() }));
      ws.onmessage = (message) => {
        if (ws !== this.ws) return;
        const data = JSON.parse(message.data);
        if (data.type === "joined") {
          this.delay = 500;
          this.joined = data;
          this.iceServers = (data.ice_servers || []).map((s) => ({ urls: s.urls, username: s.username,
                                                                    credential: s.credential }));
          this.setPublishers(data.publishers || []);
          this.onStatus("live");
          resolve(data);
          this.restore();
        } else if (data.type === "publishers") {
          this.setPublishers(data.publishers);
        } else if (data.type === "error" && data.id === undefined) {
          this.closed = true; // refused at the door (token, role, session not running): retrying cannot help
          this.onStatus("refused", data.error);
          reject(new MediaError(data.error.code, data.error.message));
        } else if (data.id !== undefined && this.pending.has(data.id)) {
          const { resolve: done, reject: fail } = this.pending.get(data.id);
          this.pending.delete(data.id);
          if (data.type === "error") fail(new MediaError(data.error.code, data.error.message));
          else done(data);
        }
      };
      ws.onclose = () => {
        if (ws !== this.ws) return;
        for (const { reject: fail } of this.pending.values()) fail(new MediaError("closed", "signalling closed"));
        this.pending.clear();
        for (const s of this.subscribed.values()) s.pc.close();
        for (const p of this.published.values()) if (p.pc) p.pc.close();
        if (this.closed) return this.onStatus("closed");
        this.onStatus("reconnecting");
        setTimeout(() => this.connect().catch(() => {}), this.delay);
        this.delay = Math.min(this.delay * 2, 5000);
      };
    });
  }

  setPublishers(list) {
    this.publishers = list;
    this.onPublishers(list);
  }

  async restore() {
    // After a reconnection: what this page published and watched before the drop, again.
    for (const [name, p] of this.published) if (!p.pc || p.pc.connectionState === "closed") {
      await this.publish(p.stream, name).catch(() => {});
    }
    for (const [publisher, s] of this.subscribed) if (s.pc.connectionState === "closed") {
      this.subscribed.delete(publisher);
      await this.subscribe(publisher).catch(() => {});
    }
  }

  ask(message) {
    const id = ++this.ids;
    return new Promise((resolve, reject) => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
        reject(new MediaError("closed", "not connected"));
        return;
      }
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ ...message, id }));
    });
  }

  peer() {
    return new RTCPeerConnection({ iceServers: this.iceServers });
  }

  /** Publish a camera/microphone stream; answers the publisher's name in the room. */
  async publish(stream, name = "") {
    const pc = this.peer();
    this.published.set(name, { stream, pc, publisher: null });
    for (const track of stream.getTracks()) {
      const transceiver = pc.addTransceiver(track, { direction: "sendonly", streams: [stream] });
      prefer(transceiver, track.kind);
    }
    try {
      await pc.setLocalDescription(await pc.createOffer());
      await gathered(pc);
      const reply = await this.ask({ type: "publish", name, offer: describe(pc.localDescription) });
      await pc.setRemoteDescription(reply.answer);
      this.published.get(name).publisher = reply.publisher;
      return reply.publisher;
    } catch (err) {
      pc.close();
      if (err.code !== "closed") this.published.delete(name); // refused: not to be tried again on reconnection
      throw err;
    }
  }

  async unpublish(name = "") {
    const p = this.published.get(name);
    if (!p) return;
    this.published.delete(name);
    if (p.pc) p.pc.close();
    await this.ask({ type: "unpublish", name }).catch(() => {});
  }

  /** Watch a publisher; answers its MediaStream (its tracks arrive as the connection comes up). */
  async subscribe(publisher) {
    const known = this.subscribed.get(publisher);
    if (known) return known.stream;
    const offered = await this.ask({ type: "subscribe", publisher });
    const pc = this.peer();
    const stream = new MediaStream();
    pc.ontrack = (event) => stream.addTrack(event.track);
    this.subscribed.set(publisher, { pc, subscription: offered.subscription, stream });
    try {
      await pc.setRemoteDescription(offered.offer);
      await pc.setLocalDescription(await pc.createAnswer());
      await gathered(pc);
      await this.ask({ type: "answer", subscription: offered.subscription, answer: describe(pc.localDescription) });
    } catch (err) {
      pc.close();
      if (err.code !== "closed") this.subscribed.delete(publisher);
      throw err;
    }
    this.onStream(publisher, stream);
    return stream;
  }

  async unsubscribe(publisher) {
    const s = this.subscribed.get(publisher);
    if (!s) return;
    this.subscribed.delete(publisher);
    s.pc.close();
    await this.ask({ type: "unsubscribe", subscription: s.subscription }).catch(() => {});
  }

  close() {
    this.closed = true;
    for (const s of this.subscribed.values()) s.pc.close();
    for (const p of this.published.values()) if (p.pc) p.pc.close();
    this.subscribed.clear();
    this.published.clear();
    if (this.ws) this.ws.close();
  }
}

function describe(description) {
  return { sdp: description.sdp, type: description.type };
}

function prefer(transceiver, kind) {
  // VP8 / Opus first, the rest after (the relay answers with the first it supports).
  const wanted = kind === "video" ? "video/VP8" : "audio/opus";
  const caps = RTCRtpSender.getCapabilities ? RTCRtpSender.getCapabilities(kind) : null;
  if (!caps || !transceiver.setCodecPreferences) return;
  const codecs = [...caps.codecs].sort((a, b) => (b.mimeType === wanted) - (a.mimeType === wanted));
  transceiver.setCodecPreferences(codecs);
}

function gathered(pc) {
  // Non-trickle ICE: wait until the candidates are in the local description (or give up after a while and
  // send what there is — host candidates come first and are enough on one network).
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState !== "complete") return;
      pc.removeEventListener("icegatheringstatechange", done);
      resolve();
    };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, GATHER_TIMEOUT_MS);
  });
}

/** A labelled video tile for a stream: <figure><video><figcaption>. Own preview is muted. */
export function tile(publisher, stream, { label = publisher, muted = false } = {}) {
  const figure = document.createElement("figure");
  figure.className = "tile";
  figure.dataset.publisher = publisher;
  const video = document.createElement("video");
  Object.assign(video, { autoplay: true, playsInline: true, muted, srcObject: stream });
  video.setAttribute("aria-label", label);
  const caption = document.createElement("figcaption");
  caption.textContent = label;
  figure.append(video, caption);
  video.play().catch(() => {
    // Autoplay with sound refused (no gesture on this page yet): play muted, with controls to unmute.
    video.muted = true;
    video.controls = true;
    video.play().catch(() => {});
  });
  return figure;
}
