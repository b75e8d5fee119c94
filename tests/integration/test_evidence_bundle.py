"""The evidence bundle on the demo's real session (signed sheets and report, recordings of both venues, the log):
``evalroom verify`` passes it, and fails naming the file when any file in it is altered — also when the forger
re-lists the altered file and signs the index with a key of their own, and when a recording was changed at the
coordinator before the export."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest
from conftest import run_evalroom
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from evalroom.evidence import INDEX, INDEX_SIGNATURE, LOG_KEY, index_note_text
from evalroom.evidence.verify import verify_bundle
from signing.note import NoteSigner, sign_note

pytestmark = pytest.mark.timeout(600)


evalroom = run_evalroom


@pytest.fixture
def demo(demo_run: tuple[Path, Any]) -> Path:
    out, result = demo_run
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def bundle_of(demo: Path) -> Path:
    summary = json.loads((demo / "summary.json").read_text(encoding="utf-8"))
    assert summary["evidence"]["verified"]
    return demo / summary["evidence"]["bundle"]


def rewrite(source: Path, target: Path, changes: dict[str, bytes]) -> None:
    """A copy of the zip with some members' bytes replaced (or added)."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, changes.pop(info.filename, None) or src.read(info))
        for name, data in changes.items():
            dst.writestr(name, data)


def flipped(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1:]


def test_the_demo_bundle_verifies_offline_with_pinned_key_and_roots(demo: Path) -> None:
    bundle = bundle_of(demo)
    result = evalroom("verify", str(bundle), "--log-key", str(demo / "log-key.txt"), "--trust", str(demo / "trust"))
    assert result.returncode == 0, result.stdout
    assert "verdict: VERIFIED" in result.stdout and "pinned" in result.stdout
    assert "report/report-v1.pdf: 6 signature(s) intact, valid and trusted" in result.stdout
    assert result.stdout.count("1 signature(s) intact, valid and trusted") == 10  # 5 experts × 2 sheets
    assert "recordings: 4 tracks" in result.stdout
    assert "checkpoint also signed by 2 witness(es)" in result.stdout  # both venues cosigned before the export
    with zipfile.ZipFile(bundle) as zf:
        names = zf.namelist()
    kinds = {n.split("/")[0] for n in names}
    assert {"recordings", "sheets", "report", "log", "trust", "events.jsonl", INDEX, INDEX_SIGNATURE} <= kinds


KINDS = ["session.json", "signatures.json", "events.jsonl", "log/checkpoint.txt", "log/proofs.jsonl", LOG_KEY,
         "report/report-v1.pdf", "report/report-v1.json", "sheets/*.json", "sheets/*.p7s", "recordings/*/manifest.jsonl",
         "recordings/*.webm", "trust/*", INDEX, INDEX_SIGNATURE]


@pytest.mark.parametrize("pattern", KINDS)
def test_altering_a_file_fails_verification_and_names_it(demo: Path, tmp_path: Path, pattern: str) -> None:
    bundle = bundle_of(demo)
    with zipfile.ZipFile(bundle) as zf:
        name = next(n for n in zf.namelist() if fnmatch(n, pattern))  # * crosses /
        data = zf.read(name)
    altered = tmp_path / "altered.zip"
    rewrite(bundle, altered, {name: flipped(data)})
    report = verify_bundle(altered)
    assert not report.ok
    assert any(p.startswith(name) for p in report.problems), (name, report.problems)
    assert evalroom("verify", str(altered)).returncode == 1


def test_a_forger_who_relists_and_resigns_is_still_caught(demo: Path, tmp_path: Path) -> None:
    """The segment is changed, the index lists its new hash and is signed with the forger's key, put in the
    bundle as the log's: the checkpoint is not that key's, the events' proofs fail with it, and the segment is
    not the one the log holds — whichever key the verifier uses."""
    bundle = bundle_of(demo)
    with zipfile.ZipFile(bundle) as zf:
        segment = next(n for n in zf.namelist() if n.endswith(".webm"))
        index = json.loads(zf.read(INDEX))
        forged = flipped(zf.read(segment))
    index["files"][segment]["sha256"] = hashlib.sha256(forged).hexdigest()
    body = json.dumps(index).encode()
    signer = NoteSigner(index["log_origin"], Ed25519PrivateKey.generate())
    note = sign_note(index_note_text(index["session_id"], hashlib.sha256(body).hexdigest()), signer)
    forgery = tmp_path / "forged.zip"
    rewrite(bundle, forgery, {segment: forged, INDEX: body, INDEX_SIGNATURE: note.encode(),
                              LOG_KEY: (signer.verifier.vkey + "\n").encode()})
    unpinned = verify_bundle(forgery)
    assert any(p.startswith("log/checkpoint.txt") for p in unpinned.problems), unpinned.problems
    pinned = verify_bundle(forgery, log_key=(demo / "log-key.txt").read_text().strip())
    assert any(p.startswith(INDEX_SIGNATURE) for p in pinned.problems), pinned.problems
    assert any(p.startswith(LOG_KEY) for p in pinned.problems)
    assert any(p.startswith(segment) and "logged" in p for p in pinned.problems), pinned.problems


def test_a_recording_changed_at_the_coordinator_is_named_in_its_export(demo: Path, tmp_path: Path) -> None:
    """Someone with the coordinator's disk changes a closed segment; the export lists what it finds, and verify
    names the segment by the hash logged when it was recorded."""
    copy = tmp_path / "coordinator"
    shutil.copytree(demo, copy, ignore=shutil.ignore_patterns("agents", "pki"))
    segment = sorted((copy / "recordings").rglob("seg-000001.webm"))[0]
    segment.write_bytes(flipped(segment.read_bytes()))
    code = json.loads((demo / "summary.json").read_text(encoding="utf-8"))["session"]["code"]
    out = tmp_path / "re-export.zip"
    exported = evalroom("export", code, "--data", str(copy), "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    result = evalroom("verify", str(out), "--log-key", str(demo / "log-key.txt"))
    assert result.returncode == 1
    failures = [line for line in result.stdout.splitlines() if "FAILED:" in line]
    assert len(failures) == 1 and segment.name in failures[0] and "not the hash logged" in failures[0], failures
    assert "verdict: FAILED (1 problem(s))" in result.stdout


def test_export_refuses_what_it_cannot_export_and_writes_nothing(demo: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.zip"
    unknown = evalroom("export", "NO-SUCH-SESSION", "--data", str(demo), "--out", str(out))
    assert unknown.returncode == 2 and "no session" in unknown.stderr and not out.exists()
    not_a_bundle = tmp_path / "junk.zip"
    not_a_bundle.write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip
    checked = evalroom("verify", str(not_a_bundle))
    assert checked.returncode == 1 and "BUNDLE.json: missing" in checked.stdout


def _with_events(bundle: Path, out: Path, change: Any) -> None:
    """The bundle with its events.jsonl changed by ``change(lines)``, relisted and re-signed by a forger."""
    with zipfile.ZipFile(bundle) as zf:
        lines = zf.read("events.jsonl").decode().splitlines()
        index = json.loads(zf.read(INDEX))
    events = ("\n".join(change(lines)) + "\n").encode()
    index["files"]["events.jsonl"]["sha256"] = hashlib.sha256(events).hexdigest()
    body = json.dumps(index).encode()
    signer = NoteSigner(index["log_origin"], Ed25519PrivateKey.generate())
    note = sign_note(index_note_text(index["session_id"], hashlib.sha256(body).hexdigest()), signer)
    rewrite(bundle, out, {"events.jsonl": events, INDEX: body, INDEX_SIGNATURE: note.encode(),
                          LOG_KEY: (signer.verifier.vkey + "\n").encode()})


def _altered(lines: list[str]) -> list[str]:
    ev = json.loads(lines[5])
    ev["actor"] = "someone else"
    return [*lines[:5], json.dumps(ev), *lines[6:]]


@pytest.mark.parametrize("change, words", [
    (_altered, "altered"),
    (lambda lines: [*lines[:5], *lines[6:]], "which the log holds, is missing"),
    (lambda lines: [*lines[:5], lines[6], lines[5], *lines[7:]], "is not where its chain has it"),
], ids=["altered", "dropped", "reordered"])
def test_an_altered_dropped_or_reordered_event_is_named_even_behind_a_resigned_index(
        demo: Path, tmp_path: Path, change: Any, words: str) -> None:
    """Whoever rewrites the events and the index: the events check itself (their hashes, the session's chain,
    the log's leaves) names the event."""
    forged = tmp_path / "forged.zip"
    _with_events(bundle_of(demo), forged, change)
    report = verify_bundle(forged, log_key=(demo / "log-key.txt").read_text().strip())
    assert any(p.startswith("events.jsonl: event") and words in p for p in report.problems), report.problems
