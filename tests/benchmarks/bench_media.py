"""Media: the embedded relay and Janus side by side in one run, on the same synthetic publishers.

    .venv/bin/python tests/benchmarks/bench_media.py [--streams 4] [--seconds 20]

Each backend gets ``--streams`` publishers of 720p30 VP8 (about 1.5 Mbit/s) with Opus, and one subscriber per
publisher; everything is forwarded and recorded into hashed segments. The publishers replay frames encoded
once beforehand, and the subscribers keep the frames encoded, so that the figures are the backend's work:

- **CPU per stream**: the backend's CPU seconds (the relay worker process; Janus plus the janus-pp-rec runs that
  turn its recordings into segments) divided by streams × seconds, as a share of one core.
- **Latency**: from the moment a publisher hands a frame to its sender to the moment the subscriber has the
  same frame re-assembled (matched by the frame's bytes, which neither backend changes), p50 and p95; plus
  the measured per-frame VP8 encode and decode times at 720p, which complete glass to glass on a real camera
  and screen (capture and display are not in a synthetic source).
- **A/V offset**: where each recording places video relative to audio, against where they were sent together:
  every segment's wall-clock anchor compared with the send time of its first packet (found by its bytes),
  video minus audio (positive: video later in the replay).

Prints a Markdown table for docs/benchmarks.md. Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import os
import resource
import statistics
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import av  # noqa: E402
from aiortc import RTCPeerConnection, RTCSessionDescription  # noqa: E402
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack  # noqa: E402

from media.control import WorkerClient, WorkerProcess  # noqa: E402
from media.janus import JanusBackend, JanusServer  # noqa: E402
from media.manifest import read_manifest  # noqa: E402
from media.passthrough import keep_encoded  # noqa: E402
from media.sources import opus_packets, vp8_packets  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
SENT_AT: dict[bytes, float] = {}
"""Wall-clock time each packet (by the hash of its bytes) was handed to a sender: what a recording's anchor
should say about it."""


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


class Replay(MediaStreamTrack):
    """Pre-encoded packets, paced in real time from a shared start; notes when each frame is handed over."""

    def __init__(self, kind: str, packets: list[tuple[bytes, int, bool]], rate: int, start: float,
                 sent: dict[bytes, float] | None) -> None:
        super().__init__()
        self.kind, self.packets, self.rate, self.start, self.sent = kind, packets, rate, start, sent
        self.i = 0
        self.period = packets[-1][1] + (packets[1][1] - packets[0][1])

    async def recv(self) -> av.Packet:  # type: ignore[override]
        data, pts, key = self.packets[self.i % len(self.packets)]
        pts += (self.i // len(self.packets)) * self.period
        self.i += 1
        wait = self.start + pts / self.rate - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        packet = av.Packet(data)
        packet.pts, packet.time_base, packet.is_keyframe = pts, Fraction(1, self.rate), key
        if self.sent is not None:
            self.sent[hashlib.sha256(data).digest()[:12]] = time.monotonic()
        SENT_AT.setdefault(hashlib.sha256(data).digest()[:12], time.time())
        return packet


async def run_backend(backend: Any, room: str, video: list[tuple[bytes, int, bool]],
                      audio: list[tuple[bytes, int, bool]], streams: int, seconds: float) -> list[float]:
    latencies: list[float] = []
    sent: dict[bytes, float] = {}
    pcs: list[RTCPeerConnection] = []
    start = time.monotonic() + 1.0
    for n in range(streams):
        pc = RTCPeerConnection()
        pcs.append(pc)
        pc.addTrack(Replay("video", video, 90000, start, sent))
        pc.addTrack(Replay("audio", audio, 48000, start, None))
        await pc.setLocalDescription(await pc.createOffer())
        answer = await backend.publish(room, f"venue/cam{n}", {"sdp": pc.localDescription.sdp,
                                                               "type": pc.localDescription.type})
        await pc.setRemoteDescription(RTCSessionDescription(**answer))
    await asyncio.sleep(1.5)
    for n in range(streams):
        pc = RTCPeerConnection()
        pcs.append(pc)

        @pc.on("track")
        def on_track(track: Any, pc: RTCPeerConnection = pc) -> None:
            # As a browser does: a frame is complete at its marker bit; kept encoded (no decoding here).
            keep_encoded(track, next(t.receiver for t in pc.getTransceivers() if t.receiver.track is track))
            if track.kind != "video":
                return

            async def pull() -> None:
                try:
                    while True:
                        packet = await track.recv()
                        at = sent.get(hashlib.sha256(bytes(packet)).digest()[:12])
                        if at is not None:
                            latencies.append((time.monotonic() - at) * 1000)
                except MediaStreamError:
                    pass
            asyncio.ensure_future(pull())

        offered = await backend.subscribe(room, f"venue/cam{n}", f"sub{n}")
        await pc.setRemoteDescription(RTCSessionDescription(**offered["offer"]))
        await pc.setLocalDescription(await pc.createAnswer())
        await backend.answer(offered["subscription"], {"sdp": pc.localDescription.sdp,
                                                       "type": pc.localDescription.type})
    await asyncio.sleep(seconds)
    await backend.close_room(room)
    for pc in pcs:
        await pc.close()
    return latencies[len(latencies) // 10:]  # the first tenth: subscribers joining, key frames


def _anchor_error(track: Path) -> float | None:
    """How much later than its packet was sent the recording places it: the wall-clock anchor of each segment
    against the send time of the segment's first packet (found by its bytes, which are recorded unchanged),
    averaged over the segments, in ms."""
    errors = []
    for entry in (e for e in read_manifest(track) if e["type"] == "segment"):
        with av.open(str(track / entry["file"])) as container:
            first = next((p for p in container.demux() if p.size), None)
        sent = SENT_AT.get(hashlib.sha256(bytes(first)).digest()[:12]) if first is not None else None
        if sent is not None:
            anchor = dt.datetime.fromisoformat(entry["wallclock_start"].replace("Z", "+00:00")).timestamp()
            errors.append((anchor - sent) * 1000)
    return statistics.mean(errors) if errors else None


def av_offsets(recordings: Path) -> list[float]:
    """Per publisher: where the recording puts video relative to audio, against where they were sent
    together (positive: video later), in ms."""
    offsets = []
    for publisher in sorted(p for p in recordings.glob("*") if p.is_dir()):
        video, audio = _anchor_error(publisher / "video-1"), _anchor_error(publisher / "audio-1")
        if video is not None and audio is not None:
            offsets.append(video - audio)
    return offsets


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def coding_times(video: list[tuple[bytes, int, bool]]) -> tuple[float, float]:
    """Per-frame VP8 encode and decode time at 720p (ms, median), as a camera and a screen add them."""
    encoder = av.CodecContext.create("libvpx", "w")
    encoder.width, encoder.height, encoder.pix_fmt = 1280, 720, "yuv420p"
    encoder.time_base = Fraction(1, 90000)
    encoder.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    decoder = av.CodecContext.create("vp8", "r")
    source = av.open("testsrc2=size=1280x720:rate=30", format="lavfi")
    enc, dec = [], []
    for i, frame in enumerate(source.decode(video=0)):
        if i >= 90:
            break
        frame = frame.reformat(format="yuv420p")
        frame.pts, frame.time_base = i * 3000, Fraction(1, 90000)
        t0 = time.perf_counter()
        packets = encoder.encode(frame)
        enc.append((time.perf_counter() - t0) * 1000)
        for p in packets:
            t1 = time.perf_counter()
            decoder.decode(p)
            dec.append((time.perf_counter() - t1) * 1000)
    source.close()
    return statistics.median(enc), statistics.median(dec)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--streams", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=8, help="at most 8: the 10 s of source is not looped")
    args = parser.parse_args()
    print("encoding the 720p source once...", file=sys.stderr)
    video = list(vp8_packets(10, width=1280, height=720, fps=30, keyframe_every=60))
    # Noise, not a tone: every audio packet differs, so each is found by its bytes.
    audio = [(d, p, True) for d, p in opus_packets(10, "anoisesrc=sample_rate=48000:amplitude=0.2")]
    encode_ms, decode_ms = coding_times(video)
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)

        async def embedded() -> dict[str, Any]:
            worker = WorkerProcess(root / "embedded", root / "state", segment_seconds=2)
            worker.start()
            client = await WorkerClient(worker.url, worker.secret).connect()
            before = cpu_seconds(worker.process.pid)  # type: ignore[union-attr]
            latencies = await run_backend(client, "bench", video, audio, args.streams, args.seconds)
            cpu = cpu_seconds(worker.process.pid) - before  # type: ignore[union-attr]
            await client.close()
            worker.stop()
            return {"cpu": cpu, "latencies": latencies, "offsets": av_offsets(root / "embedded" / "bench")}

        async def janus() -> dict[str, Any]:
            server = JanusServer(root / "janus")
            server.start()
            backend = await JanusBackend(server.url, server.recordings, root / "janus-rec", segment_seconds=2).connect()
            before = cpu_seconds(server.process.pid)  # type: ignore[union-attr]
            children = resource.getrusage(resource.RUSAGE_CHILDREN)
            latencies = await run_backend(backend, "bench", video, audio, args.streams, args.seconds)
            cpu = cpu_seconds(server.process.pid) - before  # type: ignore[union-attr]
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            converting = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
            await backend.close()
            server.stop()
            return {"cpu": cpu + converting, "janus_only": cpu, "latencies": latencies,
                    "offsets": av_offsets(root / "janus-rec" / "bench")}

        results["embedded relay"] = asyncio.run(embedded())
        results["Janus"] = asyncio.run(janus())

    span = args.streams * args.seconds
    print(f"{args.streams} streams of 720p30 VP8 + Opus per backend, {args.seconds:.0f} s each, forwarded to one "
          f"subscriber each and recorded; VP8 720p encode {encode_ms:.1f} ms, decode {decode_ms:.1f} ms per frame\n")
    print("| backend | CPU per stream (share of a core) | latency p50 | latency p95 | est. glass-to-glass p50 | "
          "recorded A/V offset |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        lat = r["latencies"]
        offsets = r["offsets"]
        offset = f"{min(offsets):+.0f} … {max(offsets):+.0f} ms" if offsets else "n/a"
        print(f"| {name} | {100 * r['cpu'] / span:.1f} % | {percentile(lat, 0.5):.1f} ms | "
              f"{percentile(lat, 0.95):.1f} ms | {percentile(lat, 0.5) + encode_ms + decode_ms:.1f} ms | {offset} |")
    ratio = results["embedded relay"]["cpu"] / max(results["Janus"]["cpu"], 1e-9)
    print(f"\nembedded relay / Janus CPU: {ratio:.2f}× (Janus alone, without janus-pp-rec: "
          f"{100 * results['Janus']['janus_only'] / span:.1f} % per stream)")


if __name__ == "__main__":
    main()
