#!/usr/bin/env bash
# The README's test command: installs everything the test suite needs on a fresh Debian machine, then runs it.
#
#   bash tests/run.sh [pytest arguments]
#   bash tests/run.sh --faketime OFFSET [pytest arguments]     e.g. --faketime +400d, --faketime +5y
#
# The suite runs on every core (pytest-xdist, see the end); `-n 0` among the arguments runs it in one process.
#
# With --faketime the machine's clock, as every process of the run sees it (pytest, PostgreSQL, the browser, the
# site agents), is moved by OFFSET (libfaketime, Debian's faketime): the suite must pass on any future day, and a
# test that names a date real time will pass, or code that asks the machine for "now" where it should ask its
# clock, fails here first. `--faketime OFFSET --dates` runs only the date-sensitive part (the modules marked
# `dates`, on SQLite), as CI does after the whole suite.
#
# System packages come from Debian through apt (only those missing, so a prepared machine needs no network);
# Python packages go into .venv. The suite starts and stops its own servers (a private PostgreSQL on
# loopback); nothing is left running.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests use: postgresql for the storage and API tests against PostgreSQL;
# python3-venv so that a plain Debian python3 can make the virtualenv; poppler-utils because the report PDF
# tests check its fonts and rendering with pdffonts, pdftoppm, pdftotext and pdfinfo, and its signatures with
# pdfsig; softhsm2 is the PKCS#11 token the signing tests put experts' keys on; libnss3-tools gives certutil,
# which makes the NSS trust database pdfsig checks signers against; ffmpeg gives ffprobe, which checks that
# recorded segments play and last as long as they should; janus and janus-tools (janus-pp-rec) are the second
# media backend, which the media tests and the benchmark run against.
# faketime moves the clock for `--faketime`.
# haproxy is the load balancer tests/cluster.py puts in front of several coordinators (tests/benchmarks/bench_fanout.py).
APT_PACKAGES=(postgresql python3-venv poppler-utils softhsm2 libnss3-tools ffmpeg janus janus-tools chromium fonts-wqy-microhei
              faketime haproxy)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# A python3 that already makes virtualenvs (as on this project's machines) does not need python3-venv.
if python3 -c 'import ensurepip, venv' 2>/dev/null; then
    missing=("${missing[@]/python3-venv}")
fi
missing=(${missing[@]+"${missing[@]}"})
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "installing Debian packages: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # The package starts a cluster of its own; the tests run their own private one instead.
    command -v pg_ctlcluster >/dev/null && $sudo service postgresql stop >/dev/null 2>&1 || true
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
moved=()
if [ "${1:-}" = "--faketime" ]; then
    [ -n "${2:-}" ] || { echo "usage: bash tests/run.sh --faketime OFFSET [--dates] [pytest arguments]" >&2; exit 2; }
    # Monotonic clocks stay real (timed waits on locks and queues hang otherwise); tests/faketime/sitecustomize.py
    # works around what that breaks in libfaketime 0.9.10 (time.sleep), in every Python process of the run.
    export FAKETIME_DONT_FAKE_MONOTONIC=1
    export PYTHONPATH="$PWD/tests/faketime${PYTHONPATH:+:$PYTHONPATH}"
    moved=(faketime -f "$2")
    echo "the machine's clock moved by $2: $("${moved[@]}" date -u +%FT%TZ)"
    shift 2
fi
if [ "${1:-}" = "--dates" ]; then
    shift
    set -- tests/unit tests/integration -m "dates and not postgres" "$@"
fi
# One pytest worker per core (at most 4), each taking whole modules (`--dist loadfile`: a module's servers and
# worlds are set up once, in one worker). Every worker starts its own PostgreSQL and browser. A later `-n 0` in
# the arguments runs everything in this process instead.
workers=$(nproc 2>/dev/null || echo 1)
[ "$workers" -le 4 ] || workers=4
parallel=()
[ "$workers" -le 1 ] || parallel=(-n "$workers" --dist loadfile)
exec ${moved[@]+"${moved[@]}"} .venv/bin/python -m pytest ${parallel[@]+"${parallel[@]}"} "$@"
