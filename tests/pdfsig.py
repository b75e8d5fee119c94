"""poppler's ``pdfsig`` as an independent verifier, trusting given roots through an NSS database of the
test's own (``certutil``, from Debian's libnss3-tools, which the test command installs)."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding


def pdfsig(pdf: bytes, tmp_path: Path, roots: Sequence[x509.Certificate] = ()) -> str:
    """poppler's verdict on ``pdf``, with ``roots`` trusted."""
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    db = tmp_path / "nssdb"
    db.mkdir(exist_ok=True)
    subprocess.run(["certutil", "-N", "-d", f"sql:{db}", "--empty-password"], check=True, capture_output=True)
    for i, root in enumerate(roots):
        pem = tmp_path / f"root{i}.pem"
        pem.write_bytes(root.public_bytes(Encoding.PEM))
        subprocess.run(["certutil", "-A", "-d", f"sql:{db}", "-n", f"root{i}", "-t", "C,C,C", "-i", str(pem)],
                       check=True, capture_output=True)
    return subprocess.run(["pdfsig", "-nssdir", f"sql:{db}", str(path)], capture_output=True, text=True).stdout
