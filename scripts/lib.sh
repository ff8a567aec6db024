# shellcheck shell=bash
# Shared by scripts/install.sh and scripts/test.sh (sourced, not run): messages in both languages,
# root or sudo for the steps that need it, and whether a Debian package is installed.

say() { printf '\033[1m==> %s\033[0m\n    %s\n' "$1" "$2" >&2; }
warn() { printf '\033[33m!!  %s\033[0m\n    %s\n' "$1" "$2" >&2; }
die() { printf '\033[31mxx  %s\033[0m\n    %s\n' "$1" "$2" >&2; exit 1; }

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
else
    SUDO=()
fi

as_root() {
    if [ "$(id -u)" -ne 0 ] && [ ${#SUDO[@]} -eq 0 ]; then
        die "Perlu hak root (jalankan sebagai root atau pasang sudo): $*" \
            "Root is needed (run as root or install sudo): $*"
    fi
    "${SUDO[@]}" "$@"
}

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
