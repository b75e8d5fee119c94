"""How recording lines are logged (evalroom/domain/recording.py): batches and the single-line events before
them read the same way."""

from __future__ import annotations

from evalroom.domain.recording import LINE_KINDS, MEDIA_BATCH, batch_payload, line_of, media_lines

SEGMENT = {"type": "segment", "seq": 3, "prev": "p" * 64, "index": 2, "file": "seg-000002.webm",
           "sha256": "a" * 64, "bytes": 10, "wallclock_start": "s", "wallclock_end": "e", "hash": "h" * 64}


def test_a_manifest_line_becomes_a_logged_line_without_its_chain_link() -> None:
    kind, payload = line_of("JN/R1/cam", "video-1", SEGMENT)  # type: ignore[misc]
    assert kind == "media.segment_recorded" and "prev" not in payload
    assert payload == {"publisher": "JN/R1/cam", "track": "video-1", **{k: v for k, v in SEGMENT.items() if k != "prev"}}
    assert line_of("JN/R1/cam", "video-1", {"type": "header", "codec": "vp8"}) is None
    assert {line_of("p", "t", {"type": t})[0] for t in LINE_KINDS} == set(LINE_KINDS.values())  # type: ignore[index]


def test_a_batch_reads_back_as_its_lines_in_order_and_old_events_as_one_line() -> None:
    lines = [line_of("p", "video-1", {**SEGMENT, "index": i}) for i in range(3)] + [
        line_of("p", "video-1", {"type": "seal", "seq": 9})]
    assert media_lines(MEDIA_BATCH, batch_payload(lines)) == lines  # type: ignore[arg-type]
    single = lines[0]
    assert media_lines(single[0], single[1]) == [single]  # type: ignore[index]
    assert media_lines("session.updated", {"title": "x"}) == []
