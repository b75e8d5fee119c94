// The replay player: every recorded track of every venue on the session's one timeline (GET …/replay).
//
// One master clock — the position, in seconds from the timeline's t0 — drives every track. Each track has one
// <video> or <audio> element that shows the segment covering the position, at the offset inside it: on a
// seek, at a segment boundary or after a gap the element is given the segment that now covers the position,
// and in a gap it shows "no recording". While playing, each element runs on its own decoder clock; every tick
// the player compares it with the master: an element off by more than DRIFT seconds is sought back into place,
// a smaller drift is steered away by playing that element slightly faster or slower (docs/web.md says why).
// The speed is the master clock's rate and every element's playbackRate.
//
// Segments need the user's bearer token, which a media element cannot send, so the player fetches each one
// (whole: a segment is a few seconds), checks it against the SHA-256 the recorder logged when the browser can
// hash (a secure context), and plays it from a blob: URL. The URL carries the segment's file name as its
// fragment, so what an element plays can be read from its currentSrc. Only a few segments per track are kept.

import { token } from "./api.js";
import * as i18n from "./i18n.js";

export const DRIFT = 0.3;
/** Seconds an element may be off the master clock before it is re-aligned. */
const COOLDOWN = 1000;
/** Milliseconds between two re-alignments of one element: a seek costs decoding from the segment's key frame. */
const SEAM = 0.25;
/** A hole between two segments of a track shorter than this (s) is not a gap: the earlier segment holds. */
const NUDGE = 0.1;
/** The most an element's rate is raised or lowered (10 %) to steer it back onto the master clock. */
const SETTLED = 0.03;
/** Seconds of drift left alone: about a video frame, and within what lip sync tolerates. */
const SETTLE_MS = 250;
/** How long after a start (a new segment, a seek) an element's lag is taken as its start-up time. */
const MAX_LEAD = 0.5;
/** The longest head start (s) an element is given. */
const TICK = 100;
const KEEP = 3;
/** Segments kept per track (current, next, previous). */

export function covering(segments, t) {
  // segments are in timeline order; the last one that started at or before t, if t falls within it (or in a
  // seam shorter than SEAM after it).
  let found = null;
  for (const seg of segments) {
    if (seg.offset > t) break;
    found = seg;
  }
  return found && t < found.offset + found.duration + SEAM ? found : null;
}

function fileOf(seg) {
  return seg.url.slice(seg.url.lastIndexOf("/") + 1);
}

async function sha256(blob) {
  if (!globalThis.crypto || !crypto.subtle) return null; // not a secure context: the hash cannot be checked here
  const digest = await crypto.subtle.digest("SHA-256", await blob.arrayBuffer());
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

class Track {
  constructor(info, player) {
    this.info = info;
    this.player = player;
    this.segment = null; // the segment the element holds (or is loading)
    this.ready = false;
    this.aligned = 0;
    this.lead = 0; // seconds this element takes to start playing (learnt)
    this.started = 0; // when it was last started at a new place, while playing (performance.now())
    this.cache = new Map(); // url → Promise<object URL>
    this.element = document.createElement(info.kind === "audio" ? "audio" : "video");
    this.element.preload = "auto";
    this.element.dataset.publisher = info.publisher;
    this.element.dataset.track = info.track;
    if (info.kind !== "audio") {
      this.element.muted = true; // a video track carries no sound: the publisher's audio is its own track
      this.element.playsInline = true;
    }
    this.note = document.createElement("p");
    this.note.className = "note";
    this.note.setAttribute("aria-live", "polite");
  }

  fetch(seg) {
    if (!this.cache.has(seg.url)) {
      const loading = (async () => {
        const response = await fetch(seg.url, { headers: { Authorization: `Bearer ${token()}` } });
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        const blob = await response.blob();
        const digest = await sha256(blob);
        if (digest && digest !== seg.sha256) throw new Error(i18n.t("sv.replay.altered"));
        return `${URL.createObjectURL(blob)}#${fileOf(seg)}`;
      })();
      loading.catch(() => this.cache.delete(seg.url));
      this.cache.set(seg.url, loading);
      while (this.cache.size > KEEP) this.forget(this.cache.keys().next().value);
    }
    return this.cache.get(seg.url);
  }

  forget(url) {
    const loading = this.cache.get(url);
    this.cache.delete(url);
    loading.then((u) => URL.revokeObjectURL(u.split("#")[0]), () => {});
  }

  show(key, values) {
    this.note.textContent = key ? i18n.t(key, values) : "";
    this.note.hidden = !key;
    if (key && !values) this.note.dataset.i18n = key; // i18n.apply() translates it again on a language switch
    else delete this.note.dataset.i18n;
  }

  async sync(force = false) {
    const p = this.player;
    const seg = covering(this.info.segments, p.position);
    const el = this.element;
    if (!seg) {
      if (this.segment) {
        this.segment = null;
        this.ready = false;
        el.pause();
        el.removeAttribute("src");
        el.load();
      }
      return this.show("sv.replay.no_recording");
    }
    if (seg !== this.segment) return this.load(seg);
    if (!this.ready) return;
    const expected = Math.min(p.position - seg.offset, Number.isFinite(el.duration) ? el.duration : Infinity);
    const drift = el.currentTime - expected;
    if (p.playing && !force && this.started && performance.now() - this.started > SETTLE_MS) {
      // What this element lagged by once a start had settled is how long it takes to start: learnt, and
      // given as a head start at the next segment or seek (in wall-clock seconds, so it holds at any speed).
      this.started = 0;
      this.lead = Math.max(0, Math.min(MAX_LEAD, this.lead - drift / p.rate));
    }
    if (force || (Math.abs(drift) > DRIFT && Date.now() - this.aligned > COOLDOWN)) {
      this.aligned = Date.now();
      el.currentTime = Math.max(0, expected + (p.playing ? this.lead * p.rate : 0));
      if (p.playing) this.started = performance.now();
    }
    // Below the threshold the element is steered instead of sought: up to NUDGE faster or slower until it is
    // back on the master clock (a lag of 0.1 s is made up in about a second), which nobody sees or hears.
    const steer = p.playing && !force && Math.abs(drift) > SETTLED ? Math.max(-NUDGE, Math.min(NUDGE, -drift)) : 0;
    el.playbackRate = p.rate * (1 + steer);
    if (p.playing && el.paused && !el.ended) el.play().catch(() => {});
    if (!p.playing && !el.paused) el.pause();
  }

  async load(seg) {
    this.segment = seg;
    this.ready = false;
    this.show("sv.replay.loading");
    let url;
    try {
      url = await this.fetch(seg);
    } catch (err) {
      if (this.segment === seg) this.show("sv.replay.failed", { message: err.message });
      return;
    }
    if (this.segment !== seg) return; // the position moved on while it loaded
    const el = this.element;
    el.src = url;
    await new Promise((resolve) => {
      el.addEventListener("loadedmetadata", resolve, { once: true });
      el.addEventListener("error", resolve, { once: true });
    });
    if (this.segment !== seg) return;
    if (el.error) return this.show("sv.replay.failed", { message: el.error.message || el.error.code });
    this.ready = true;
    this.show(null);
    await this.sync(true);
    const next = this.info.segments[this.info.segments.indexOf(seg) + 1];
    if (next) this.fetch(next).catch(() => {}); // ready before the boundary
  }

  close() {
    this.segment = null;
    this.element.pause();
    this.element.removeAttribute("src");
    for (const url of [...this.cache.keys()]) this.forget(url);
  }
}

export class ReplayPlayer {
  constructor(timeline, { tracks, onPosition }) {
    this.timeline = timeline;
    this.duration = timeline.duration;
    this.t0 = Date.parse(timeline.t0);
    this.position = 0;
    this.rate = 1;
    this.playing = false;
    this.touched = false; // whether the supervisor has played or moved the position
    this.onPosition = onPosition || (() => {});
    this.tracks = timeline.tracks.map((info) => new Track(info, this));
    this.build(tracks);
    this.timer = null;
  }

  build(container) {
    // Grouped by venue, then by publisher (a room's camera and microphone side by side).
    container.replaceChildren();
    const venues = new Map();
    for (const track of this.tracks) {
      const venue = venues.get(track.info.venue) ?? new Map();
      venues.set(track.info.venue, venue);
      const publisher = venue.get(track.info.publisher) ?? [];
      venue.set(track.info.publisher, publisher);
      publisher.push(track);
    }
    for (const [code, publishers] of venues) {
      const section = document.createElement("section");
      section.className = "venue";
      section.dataset.venue = code;
      const h = document.createElement("h3");
      h.textContent = code;
      section.append(h);
      for (const [name, tracks] of publishers) {
        const figure = document.createElement("figure");
        figure.className = "tile";
        const caption = document.createElement("figcaption");
        caption.textContent = name;
        figure.append(caption);
        const order = (track) => (track.info.kind === "audio" ? 1 : 0); // the picture first, its sound below
        for (const track of tracks.sort((a, b) => order(a) - order(b))) figure.append(this.trackView(track));
        section.append(figure);
      }
      container.append(section);
    }
  }

  trackView(track) {
    const box = document.createElement("div");
    box.className = track.info.kind === "audio" ? "sound" : "screen";
    box.append(track.element, track.note);
    if (track.info.kind === "audio") {
      const label = document.createElement("span");
      const word = document.createElement("span");
      word.dataset.i18n = "sv.replay.audio";
      word.textContent = i18n.t("sv.replay.audio");
      label.append(word, ` ${track.info.track}`);
      const mute = document.createElement("button");
      mute.type = "button";
      mute.className = "secondary";
      mute.dataset.i18n = "sv.replay.mute";
      mute.textContent = i18n.t("sv.replay.mute");
      mute.setAttribute("aria-pressed", "false");
      mute.setAttribute("aria-label", `${i18n.t("sv.replay.mute")} ${track.info.publisher} ${track.info.track}`);
      mute.addEventListener("click", () => {
        track.element.muted = !track.element.muted;
        mute.setAttribute("aria-pressed", String(track.element.muted));
      });
      box.prepend(label);
      box.append(mute);
    }
    return box;
  }

  /** The master clock: where the session's timeline is now. */
  now() {
    if (!this.playing) return this.position;
    return Math.min(this.duration, this.base + ((performance.now() - this.since) / 1000) * this.rate);
  }

  /** The wall-clock moment of the position, as the API writes times. */
  moment() {
    return new Date(this.t0 + Math.round(this.position * 1000)).toISOString();
  }

  play() {
    if (this.playing) return;
    if (this.position >= this.duration) this.position = 0;
    this.touched = true;
    this.playing = true;
    this.rebase();
    this.syncAll(true); // every element started from its place, with its head start
    this.timer = setInterval(() => this.tick(), TICK);
  }

  pause() {
    if (!this.playing) return;
    this.position = this.now();
    this.playing = false;
    clearInterval(this.timer);
    this.syncAll(true);
    this.onPosition(this.position);
  }

  seek(t) {
    this.touched = true;
    this.position = Math.max(0, Math.min(this.duration, t));
    this.rebase();
    this.syncAll(true);
    this.onPosition(this.position);
  }

  setRate(rate) {
    this.position = this.now();
    this.rate = rate;
    this.rebase();
    for (const track of this.tracks) track.element.playbackRate = rate;
  }

  rebase() {
    this.base = this.position;
    this.since = performance.now();
  }

  tick() {
    this.position = this.now();
    if (this.position >= this.duration) return this.pause();
    this.syncAll(false);
    this.onPosition(this.position);
  }

  syncAll(force) {
    for (const track of this.tracks) track.sync(force);
  }

  close() {
    this.playing = false;
    clearInterval(this.timer);
    for (const track of this.tracks) track.close();
  }
}
