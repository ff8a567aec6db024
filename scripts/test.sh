#!/usr/bin/env bash
# Run the test suite: system packages the tests need, .venv with the test extras, then pytest.
# Jalankan semua uji: paket sistem yang diperlukan, .venv dengan paket uji, lalu pytest.
#
#   ./scripts/test.sh                      everything (browser tests included)
#   ./scripts/test.sh -m "not browser"     any pytest arguments are passed through
#   ./scripts/test.sh -q -x tests/kiosk    ...
#
# Browser tests drive Debian's /usr/bin/chromium through Playwright's Python package
# (executable_path); `playwright install` is never run. Screenshots and other artifacts go to
# $KIOSK_ARTIFACTS (default: test-artifacts/ in the tree).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"

# chromium: browser tests; pcscd + vsmartcard-vpcd: a virtual card reader for the card tests;
# libpcsclite-dev + swig (+ a compiler): building pyscard; fonts: screenshots that show text;
# nut-server + nut-client: a real upsd with dummy-ups for the UPS tests; postgresql: the centre's
# contract tests on PostgreSQL; iproute2: network namespaces for the field-link benchmark.
PACKAGES=(python3 python3-venv python3-dev chromium pcscd vsmartcard-vpcd libpcsclite-dev swig fonts-dejavu-core
          ca-certificates nut-server nut-client postgresql iproute2)
if ! command -v gcc >/dev/null 2>&1 || ! command -v make >/dev/null 2>&1; then
    PACKAGES+=(build-essential)
fi
missing=()
for pkg in "${PACKAGES[@]}"; do
    installed "$pkg" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    command -v apt-get >/dev/null 2>&1 || die "apt-get tidak ada; pasang manual: ${missing[*]}" \
        "apt-get not found; install these by hand: ${missing[*]}"
    say "Memasang paket sistem untuk pengujian: ${missing[*]}" "Installing system packages for the tests: ${missing[*]}"
    if ! apt-cache policy chromium 2>/dev/null | grep -q 'Candidate: [^(]'; then
        as_root apt-get update
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi

# The venv: the same one install.sh makes (reused when it is there).
if [ -n "${PYTHON:-}" ]; then
    python="$PYTHON"
elif [ -x /usr/bin/python3 ]; then
    python=/usr/bin/python3
else
    python="$(command -v python3)"
fi
venv="$ROOT/.venv"
if ! { [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; }; then
    say "Membuat lingkungan Python: $venv" "Creating the Python environment $venv"
    args=(-m venv --clear)
    if [ -r /proc/device-tree/model ] && tr -d '\0' </proc/device-tree/model | grep -q "Raspberry Pi"; then
        args+=(--system-site-packages)
    fi
    "$python" "${args[@]}" "$venv"
fi
stamp="$( (cat pyproject.toml; echo "test,card") | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$venv/.ektp-test-stamp" 2>/dev/null)" != "$stamp" ] \
    || ! (cd / && "$venv/bin/python" -c "import kiosk.cli, pytest, playwright, smartcard" 2>/dev/null); then
    say "Memasang paket Python untuk pengujian" "Installing the Python packages for the tests: -e \".[test,card]\""
    "$venv/bin/python" -m pip install --quiet --upgrade pip || true
    "$venv/bin/python" -m pip install --quiet -e ".[test,card]"
    echo "$stamp" >"$venv/.ektp-test-stamp"
fi

export KIOSK_ARTIFACTS="${KIOSK_ARTIFACTS:-$ROOT/test-artifacts}"
mkdir -p "$KIOSK_ARTIFACTS"
# Tests must not pick up a configuration meant for a real kiosk.
unset KIOSK_CONFIG
say "pytest $*" "artifacts: $KIOSK_ARTIFACTS"
exec "$venv/bin/python" -m pytest "$@"
