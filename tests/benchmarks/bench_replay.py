"""The replay player's sync: how far each track's element strays from the player's master clock while it plays.

    .venv/bin/python tests/benchmarks/bench_replay.py [--seconds 12]

Records two venues (a 640×360 VP8 camera and Opus each, synthetic) for ``--seconds`` with the embedded relay in
process, in segments of 1 s (the most segment boundaries a deployment would have), puts the recorders' events in
as the coordinator records them, serves the coordinator on loopback and, in Debian's Chromium (headless, as the
end-to-end tests run it), plays the whole timeline with js/replay.js at 0.5×, 1× and 2×. Every 50 ms it takes
each element's ``currentTime`` against where the master clock says it should be (the position minus the
segment's offset), for the elements that hold a segment. Reports, per kind of track and speed, the median, 95th
percentile and largest distance, and the share of samples beyond the re-alignment threshold (js/replay.js DRIFT).

Prints a Markdown table for docs/benchmarks.md ("The replay player's sync"). Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import uvicorn  # noqa: E402
from committee_world import TITLE, build, draw, open_check_in, seat_everyone  # noqa: E402
from conftest import PASSWORD  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from media_world import publish, until  # noqa: E402
from session_world import import_project, venues_online  # noqa: E402
from web_world import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

from evalroom.api.app import create_app  # noqa: E402
from evalroom.api.context import build_context  # noqa: E402
from evalroom.config import load_settings  # noqa: E402
from evalroom.services.media import record_media_lines  # noqa: E402
from evalroom.storage.models import Account  # noqa: E402
from media.relay import Relay  # noqa: E402

DRIFT = 0.3  # js/replay.js
PLAY = """async ({ sessionId, rate }) => {
  const { ReplayPlayer } = await import("/static/js/replay.js");
  const { api } = await import("/static/js/api.js");
  const timeline = await api(`/sessions/${sessionId}/replay`);
  const box = document.createElement("div");
  document.body.append(box);
  const player = new ReplayPlayer(timeline, { tracks: box });
  player.seek(0);
  await new Promise((r) => setTimeout(r, 1000)); // the first segments fetched
  player.setRate(rate);
  player.play();
  const samples = [];
  while (player.playing) {
    await new Promise((r) => setTimeout(r, 50));
    const position = player.now();
    for (const track of player.tracks) {
      const el = track.element;
      if (!track.ready || !track.segment || el.paused) continue;
      const expected = position - track.segment.offset;
      if (expected > el.duration) continue; // the seam after a segment: its last frame holds
      samples.push([track.info.kind, el.currentTime - expected]);
    }
  }
  player.close();
  box.remove();
  return samples;
}"""


def record(ctx: Any, session_id: str, seconds: float) -> None:
    async def run() -> None:
        relay = Relay(ctx.settings.effective_recordings_dir, segment_seconds=1.0,
                      on_record=lambda r: record_media_lines(ctx.store, [r]))
        host = await publish(relay, session_id, "JN-GGZY/R1")
        guest = await publish(relay, session_id, "XA-GGZY/R1")
        await until(lambda: len(relay.feeds(session_id)) == 4, what="both venues' tracks at the relay")
        await asyncio.sleep(seconds)
        await relay.close_room(session_id)
        await host.close()
        await guest.close()

    asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=12.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(environ={}, overrides={"data_dir": Path(tmp), "database_url": f"sqlite:///{tmp}/evalroom.db",
                                                        "environment": "development", "log_batch_seconds": 300})
        ctx = build_context(settings)  # the wall clock: the recorders' clock too
        with TestClient(create_app(settings, context=ctx)) as client:
            w = build(ctx, client, start=datetime.now(UTC) + timedelta(minutes=30))
            import_project(w)
            draw(w)
            open_check_in(w)
            seat_everyone(w)
            venues_online(w)
            client.post(w.url("/state"), headers=w.host_op(), json={"action": "start"}).raise_for_status()
            record(ctx, w.session_id, args.seconds)
        with ctx.store.read() as s:
            username = s.get(Account, w.supervisor_id).username
        server = uvicorn.Server(uvicorn.Config(create_app(settings, context=ctx), host="127.0.0.1", port=0,
                                               log_level="warning", access_log=False))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        base = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
        rows = []
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(f"{base}/supervisor")
            page.get_by_label("用户名").fill(username)
            page.get_by_label("密码").fill(PASSWORD)
            page.get_by_role("button", name="登录").click()
            page.get_by_role("button", name=re.compile(TITLE)).click()
            page.wait_for_selector("#replay-tracks video")
            for rate in (0.5, 1, 2):
                samples = page.evaluate(PLAY, {"sessionId": w.session_id, "rate": rate})
                for kind in ("video", "audio"):
                    off = sorted(abs(d) for k, d in samples if k == kind)
                    rows.append((rate, kind, len(off), statistics.median(off), off[int(len(off) * 0.95)], off[-1],
                                 sum(d > DRIFT for d in off) / len(off)))
            browser.close()
        server.should_exit = True
        thread.join(15)
        ctx.close()
    print(f"Two venues × (video + audio), {args.seconds:.0f} s recorded in 1 s segments; "
          f"Chromium {CHROMIUM} headless.\n")
    print("| speed | track | samples | median | p95 | largest | beyond 0.3 s |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for rate, kind, n, p50, p95, top, beyond in rows:
        print(f"| {rate}× | {kind} | {n} | {p50 * 1000:.0f} ms | {p95 * 1000:.0f} ms | {top * 1000:.0f} ms "
              f"| {beyond:.1%} |")


if __name__ == "__main__":
    main()
