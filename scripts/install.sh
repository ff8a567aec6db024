#!/usr/bin/env bash
# Install ektp-kiosk on Debian 12 / Raspberry Pi OS (bookworm).
# Pasang ektp-kiosk di Debian 12 / Raspberry Pi OS.
#
#   ./scripts/install.sh            system packages + .venv in this tree (pip install -e ".[card]")
#                                   then: .venv/bin/kiosk run
#   ./scripts/install.sh --system   also install the service: /opt/ektp-kiosk, user ektp,
#                                   /etc/ektp-kiosk/kiosk.toml, systemd units, enable --now
#
# Safe to run again (idempotent). Runs as root, or uses sudo for the steps that need it.
# It never starts the kiosk itself, except `--system`, which enables and starts the service.
# Environment: PYTHON=/path/to/python3.11+ to choose the interpreter for the venv.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PREFIX=/opt/ektp-kiosk
ETC_DIR=/etc/ektp-kiosk
UNIT_DIR=/etc/systemd/system
SERVICE_USER=ektp

# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"

usage() {
    # The comment block at the top of this file.
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
}

SYSTEM=0
for arg in "$@"; do
    case "$arg" in
        --system) SYSTEM=1 ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "Pilihan tidak dikenal: $arg" "Unknown option: $arg" ;;
    esac
done

# --- privileges: SUDO and as_root come from lib.sh ----------------------------------------------
if [ "$SYSTEM" -eq 1 ] && [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "--system perlu root atau sudo." "--system needs root or sudo."
    say "Meminta hak root untuk --system (sudo)" "Asking for root for --system (sudo)"
    exec sudo -- "${BASH_SOURCE[0]}" "$@"
fi

# --- what machine is this -----------------------------------------------------------------------
IS_PI=0
if [ -r /proc/device-tree/model ] && tr -d '\0' </proc/device-tree/model | grep -q "Raspberry Pi"; then
    IS_PI=1
fi
if [ "$IS_PI" -eq 1 ]; then
    say "Raspberry Pi terdeteksi: $(tr -d '\0' </proc/device-tree/model)" \
        "Raspberry Pi detected: camera support (picamera2) will be installed"
fi

# --- system packages -----------------------------------------------------------------------------
has_candidate() { apt-cache policy "$1" 2>/dev/null | grep -q 'Candidate: [^(]'; }

apt_install() {
    # Install only what is missing, so a second run needs neither root nor the network.
    local missing=() pkg
    for pkg in "$@"; do
        installed "$pkg" || missing+=("$pkg")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        return 0
    fi
    command -v apt-get >/dev/null 2>&1 || die "apt-get tidak ada; pasang manual: ${missing[*]}" \
        "apt-get not found; install these by hand: ${missing[*]}"
    say "Memasang paket sistem: ${missing[*]}" "Installing system packages: ${missing[*]}"
    local pkgs_with_candidate=0
    for pkg in "${missing[@]}"; do
        has_candidate "$pkg" && pkgs_with_candidate=$((pkgs_with_candidate + 1))
    done
    if [ "$pkgs_with_candidate" -lt ${#missing[@]} ]; then
        as_root apt-get update
    fi
    if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"; then
        say "Memperbarui daftar paket lalu mencoba lagi" "Updating the package lists and trying again"
        as_root apt-get update
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
    fi
}

# Runtime: Python with venv; pcscd + libpcsclite-dev + swig build the card reader's pyscard.
# No libgl: the kiosk uses opencv-python-headless.
PACKAGES=(python3 python3-venv python3-dev pcscd libpcsclite-dev swig ca-certificates)
# pyscard has no Linux wheel: it is compiled, so a C compiler is needed when none is there.
if ! command -v gcc >/dev/null 2>&1 || ! command -v make >/dev/null 2>&1; then
    PACKAGES+=(build-essential)
fi
if [ "$IS_PI" -eq 1 ]; then
    # picamera2 needs libcamera's Python bindings, which only come from Raspberry Pi OS packages.
    PACKAGES+=(python3-libcamera python3-picamera2)
fi
if [ "$SYSTEM" -eq 1 ] && [ "$IS_PI" -eq 1 ]; then
    # The screen of the kiosk: Chromium inside the cage kiosk compositor.
    if has_candidate chromium; then PACKAGES+=(chromium); else PACKAGES+=(chromium-browser); fi
    PACKAGES+=(cage)
fi
apt_install "${PACKAGES[@]}"

# --- the Python environment ---------------------------------------------------------------------
pick_python() {
    if [ -n "${PYTHON:-}" ]; then
        echo "$PYTHON"
    elif [ "$IS_PI" -eq 1 ] || [ -x /usr/bin/python3 ]; then
        # The system's Python: on a Pi its site-packages hold libcamera and picamera2.
        echo /usr/bin/python3
    else
        command -v python3
    fi
}

python_ok() {
    "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null
}

make_venv() {
    # make_venv DIR EXTRAS: create or reuse DIR/.venv and install the tree in DIR into it.
    local dir="$1" extras="$2" venv="$1/.venv" python want_system=false stamp
    python="$(pick_python)"
    python_ok "$python" || die "Perlu Python 3.11 atau lebih baru ($python)." \
        "Python 3.11 or newer is needed ($python); set PYTHON=/path/to/python3.11"
    [ "$IS_PI" -eq 1 ] && want_system=true
    if [ -x "$venv/bin/python" ] && python_ok "$venv/bin/python" \
        && grep -qi "include-system-site-packages = $want_system" "$venv/pyvenv.cfg" 2>/dev/null; then
        say "Memakai lingkungan Python yang ada: $venv" "Reusing the Python environment $venv"
    else
        if [ -e "$venv" ]; then
            say "Membuat ulang $venv (tidak cocok)" "Re-creating $venv (it does not fit this machine)"
        else
            say "Membuat lingkungan Python: $venv" "Creating the Python environment $venv"
        fi
        local args=(-m venv --clear)
        [ "$want_system" = true ] && args+=(--system-site-packages)
        "$python" "${args[@]}" "$venv" || die "Gagal membuat venv; pasang python3-venv." \
            "Could not create the venv; install python3-venv."
    fi
    # Skip pip when this exact pyproject.toml and extras are already installed (fast re-runs).
    stamp="$( (cat "$dir/pyproject.toml"; echo "$extras") | sha256sum | cut -d' ' -f1)"
    if [ -x "$venv/bin/kiosk" ] && [ "$(cat "$venv/.ektp-install-stamp" 2>/dev/null)" = "$stamp" ] \
        && (cd / && "$venv/bin/python" -c "import kiosk.cli, ui" 2>/dev/null); then
        say "Paket Python sudah terpasang" "Python packages already installed ($extras)"
        return 0
    fi
    say "Memasang paket Python (bisa beberapa menit)" "Installing Python packages: -e \".[$extras]\" (may take minutes)"
    (cd "$dir" && "$venv/bin/python" -m pip install --quiet --upgrade pip) \
        || warn "pip tidak bisa diperbarui; lanjut dengan yang ada" "could not upgrade pip; going on with the one there"
    (cd "$dir" && "$venv/bin/python" -m pip install --quiet -e ".[$extras]") \
        || die "Gagal memasang paket Python (lihat pesan di atas)." "Installing the Python packages failed (see above)."
    echo "$stamp" >"$venv/.ektp-install-stamp"
}

EXTRAS=card
[ "$IS_PI" -eq 1 ] && EXTRAS=card,pi

if [ "$SYSTEM" -eq 0 ]; then
    make_venv "$ROOT" "$EXTRAS"
    say "Selesai. Jalankan kios:  .venv/bin/kiosk run" "Done. Start the kiosk:  .venv/bin/kiosk run"
    echo "    (tanpa perangkat keras semua perangkat disimulasikan; masuk: demo / 123456)"
    echo "    (with no hardware every device is simulated; log in: demo / 123456)"
    exit 0
fi

# --- --system: the service ----------------------------------------------------------------------
say "Memasang layanan ke $PREFIX" "Installing the service into $PREFIX"
if [ "$ROOT" != "$PREFIX" ]; then
    mkdir -p "$PREFIX"
    # Replace the program, keep the venv (re-used below).
    find "$PREFIX" -mindepth 1 -maxdepth 1 ! -name .venv -exec rm -rf {} +
    tar -C "$ROOT" --exclude=./.venv --exclude=./.git --exclude=./test-artifacts \
        --exclude='__pycache__' --exclude='*.egg-info' --exclude=./.hypothesis --exclude=./.pytest_cache \
        -cf - . | tar -C "$PREFIX" -xf -
fi
make_venv "$PREFIX" "$EXTRAS"
# The service cannot write to /opt (ProtectSystem=strict): compile the bytecode now.
"$PREFIX/.venv/bin/python" -m compileall -q "$PREFIX/kiosk" "$PREFIX/ui" "$PREFIX/drivers" \
    "$PREFIX/central" >/dev/null 2>&1 || true
# Owned by root, readable by the service user whatever the umask or the source tree's modes.
chown -R root:root "$PREFIX"
chmod -R u+rwX,go+rX,go-w "$PREFIX"

if ! id "$SERVICE_USER" >/dev/null 2>&1; then
    say "Membuat pengguna sistem $SERVICE_USER" "Creating the system user $SERVICE_USER"
    useradd --system --user-group --home-dir /var/lib/ektp-kiosk --no-create-home \
        --shell /usr/sbin/nologin --comment "ektp-kiosk service" "$SERVICE_USER"
fi
groups_added=()
for group in dialout video gpio i2c plugdev render input; do
    if getent group "$group" >/dev/null; then
        usermod -a -G "$group" "$SERVICE_USER"
        groups_added+=("$group")
    fi
done
say "Grup $SERVICE_USER: ${groups_added[*]}" "Groups of $SERVICE_USER: ${groups_added[*]}"

install -d -m 0755 "$ETC_DIR"
if [ -e "$ETC_DIR/kiosk.toml" ]; then
    say "Konfigurasi yang ada dipertahankan: $ETC_DIR/kiosk.toml" "Keeping the existing configuration $ETC_DIR/kiosk.toml"
else
    install -m 0640 -o root -g "$SERVICE_USER" "$PREFIX/config/kiosk.toml" "$ETC_DIR/kiosk.toml"
    say "Konfigurasi dipasang: $ETC_DIR/kiosk.toml (ubah [kiosk] id dan perangkat)" \
        "Configuration installed: $ETC_DIR/kiosk.toml (set [kiosk] id and the devices)"
fi

install -m 0644 "$PREFIX/systemd/ektp-kiosk.service" "$UNIT_DIR/ektp-kiosk.service"
install -m 0644 "$PREFIX/systemd/ektp-kiosk-browser.service" "$UNIT_DIR/ektp-kiosk-browser.service"
if [ ! -x /usr/bin/chromium ] && [ -x /usr/bin/chromium-browser ]; then
    sed -i 's#/usr/bin/chromium #/usr/bin/chromium-browser #' "$UNIT_DIR/ektp-kiosk-browser.service"
fi

browser=0
if command -v cage >/dev/null 2>&1 && { [ -x /usr/bin/chromium ] || [ -x /usr/bin/chromium-browser ]; }; then
    browser=1
fi

if [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    systemctl enable --now ektp-kiosk.service
    if [ "$browser" -eq 1 ]; then
        systemctl enable --now ektp-kiosk-browser.service
    fi
    say "Layanan berjalan. Periksa: systemctl status ektp-kiosk" \
        "The service is running. Check: systemctl status ektp-kiosk; logs: journalctl -u ektp-kiosk"
else
    # A chroot or container: create the boot-time links, nothing can be started here.
    systemctl enable ektp-kiosk.service
    if [ "$browser" -eq 1 ]; then
        systemctl enable ektp-kiosk-browser.service
    fi
    warn "systemd tidak berjalan di sini: layanan akan mulai saat boot berikutnya." \
        "systemd is not running here: the service will start at the next boot."
fi
if [ "$browser" -eq 0 ]; then
    say "Layar kios (ektp-kiosk-browser) tidak diaktifkan: perlu cage dan chromium" \
        "The kiosk screen (ektp-kiosk-browser) is not enabled: it needs cage and chromium (apt-get install cage chromium)"
fi
say "Petugas pertama: lihat systemd/README.md (kiosk operator add ... --role supervisor)" \
    "First operator: see systemd/README.md (kiosk operator add ... --role supervisor)"
