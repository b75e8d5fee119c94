"""How long signing takes: a 9-expert report (PAdES, each signature an incremental update, then the sealed
time-stamp) signed and verified, and 1,000 detached sheet signatures verified.

    .venv/bin/python tests/benchmarks/bench_signing.py [--sheets 1000] [--repeat 3]

Keys are in memory (the software key store's, unlocked), so the figures are the coordinator's and pyHanko's
work, not a token's; a USB token adds its own signing time per signature. The report is the sample twin
(tests/data/report-sample.json) rendered to PDF. Trust is judged by the regional trust store with CRLs, as
``evalroom verify`` does. Prints a Markdown table for docs/benchmarks.md. Not a test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from pyhanko.pdf_utils.reader import PdfFileReader  # noqa: E402

from evalroom.report_pdf import render_report_pdf  # noqa: E402
from signing.canonical import canonical_json  # noqa: E402
from signing.cms import sign_detached, software_signer, verify_detached  # noqa: E402
from signing.pades import local_tsa, sign_pdf, verify_pdf  # noqa: E402
from signing.pki import issue_crl, issue_region_ca, issue_signer, issue_tsa  # noqa: E402
from signing.trust import RegionAnchors, TrustStore  # noqa: E402

NOW = dt.datetime.now(dt.UTC)
SAMPLE = Path(__file__).resolve().parents[1] / "data" / "report-sample.json"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sheets", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    year = NOW + dt.timedelta(days=365)
    sd, sn, co = (issue_region_ca(r, NOW - dt.timedelta(days=30)) for r in ("SD", "SN", "EVALROOM"))
    trust = TrustStore([RegionAnchors.of(ca.region, [ca.root.certificate], [ca.intermediate.certificate], [
        issue_crl(ca.root, [], NOW - dt.timedelta(hours=1), year),
        issue_crl(ca.intermediate, [], NOW - dt.timedelta(hours=1), NOW + dt.timedelta(days=7))])
        for ca in (sd, sn, co)], {"SD", "SN", "EVALROOM"})
    experts = [((sd if i < 5 else sn), issue_signer(sd if i < 5 else sn, f"专家{i}", f"E-{i}",
                                                     NOW - dt.timedelta(days=1), year)) for i in range(9)]
    seal = issue_signer(co, "协调平台印章", "SEAL-1", NOW - dt.timedelta(days=1), year)
    tsa = local_tsa(issue_tsa(co, "evalroom TSA", NOW - dt.timedelta(days=1), year), [co.intermediate.certificate],
                    lambda: NOW)
    base = render_report_pdf(json.loads(SAMPLE.read_text(encoding="utf-8")))

    sign_times, verify_times, accept_times = [], [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        pdf = base
        for i, (ca, who) in enumerate(experts):
            pdf = sign_pdf(pdf, software_signer(who.certificate, who.key, [ca.intermediate.certificate]),
                           f"expert-{i}", name=f"专家{i}", reason="评标报告签字", location=ca.region, at=NOW)
        pdf = sign_pdf(pdf, software_signer(seal.certificate, seal.key, [co.intermediate.certificate]), "seal",
                       name="evalroom", reason="签章", location="evalroom", at=NOW, timestamper=tsa)
        t1 = time.perf_counter()
        checks = verify_pdf(pdf, trust, [co.root.certificate], NOW)
        t2 = time.perf_counter()
        assert len(checks) == 10 and all(c.ok for c in checks)
        sign_times.append(t1 - t0)
        verify_times.append(t2 - t1)
        # The coordinator checks every revision as it is handed in (services/signatures.py verifies the whole
        # PDF each time, so that no earlier signature was broken): 1 + 2 + ... + 10 signature checks.
        ends = [int(c.sig_object["/ByteRange"][2]) + int(c.sig_object["/ByteRange"][3])
                for c in PdfFileReader(io.BytesIO(pdf)).embedded_signatures]
        t3 = time.perf_counter()
        for end in ends:
            assert all(c.ok for c in verify_pdf(pdf[:end], trust, [co.root.certificate], NOW))
        accept_times.append(time.perf_counter() - t3)

    ca, who = experts[0]
    signer = software_signer(who.certificate, who.key, [ca.intermediate.certificate])
    sheets = [canonical_json({"format": "evalroom-sheet-v1", "n": i, "scores": {"L1/B1": {"T1": f"{i % 20}.00"}}})
              for i in range(args.sheets)]
    signatures = [sign_detached(s, signer, NOW) for s in sheets]
    t0 = time.perf_counter()
    assert all(verify_detached(s, sig, trust, NOW).ok for s, sig in zip(sheets, signatures, strict=True))
    sheet_time = time.perf_counter() - t0

    print(f"9 experts + seal on a {len(base) / 1024:.0f} KiB report ({len(pdf) / 1024:.0f} KiB signed); "
          f"median of {args.repeat}; {args.sheets} sheets\n")
    print("| step | time |")
    print("|---|---:|")
    print(f"| sign the report: 9 PAdES signatures + the time-stamped seal | {statistics.median(sign_times):.2f} s |")
    print(f"| verify the report's 10 signatures (pyHanko + trust store) | {statistics.median(verify_times):.2f} s |")
    print(f"| the coordinator's checks as each of the 10 is handed in (every revision re-verified) | "
          f"{statistics.median(accept_times):.2f} s |")
    print(f"| verify {args.sheets} sheet signatures | {sheet_time:.1f} s ({args.sheets / sheet_time:.0f} per s) |")


if __name__ == "__main__":
    main()
