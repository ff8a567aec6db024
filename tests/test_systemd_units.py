"""The systemd units say what DESIGN §3 and systemd/README.md promise.

Parsed with configparser (systemd's syntax is close enough with strict=False); when
systemd-analyze is installed the units are also verified by systemd itself, on a copy whose
paths point at binaries that exist here.
"""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UNITS = ROOT / "systemd"
KIOSK_UNIT = UNITS / "ektp-kiosk.service"
BROWSER_UNIT = UNITS / "ektp-kiosk-browser.service"


class MultiDict(dict):
    """Keeps every value of a key that systemd allows to repeat (Environment=, After= ...)."""

    def __setitem__(self, key, value):
        if isinstance(value, list) and key in self:
            self[key].extend(value)
        else:
            super().__setitem__(key, value)


def parse(path: Path) -> dict[str, dict[str, list[str]]]:
    parser = configparser.RawConfigParser(strict=False, dict_type=MultiDict, empty_lines_in_values=False,
                                          comment_prefixes=("#", ";"), inline_comment_prefixes=None,
                                          delimiters=("=",))
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read(path, encoding="utf-8")
    out: dict[str, dict[str, list[str]]] = {}
    for section in parser.sections():
        out[section] = {}
        for key in parser._sections[section]:  # noqa: SLF001 - the raw multi-valued lists
            values = parser._sections[section][key]
            values = values if isinstance(values, list) else [values]
            out[section][key] = [v.strip() for chunk in values for v in str(chunk).split("\n") if v.strip()]
    return out


def one(unit: dict, section: str, key: str) -> str:
    values = unit[section].get(key)
    assert values, f"[{section}] {key}= missing"
    return values[-1]


def words(unit: dict, section: str, key: str) -> set[str]:
    return {w for v in unit[section].get(key, []) for w in v.split()}


def console_script() -> str:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    scripts = data["project"]["scripts"]
    (name,) = [n for n, target in scripts.items() if target == "kiosk.cli:main"]
    return name


@pytest.fixture(scope="module")
def kiosk_unit():
    return parse(KIOSK_UNIT)


@pytest.fixture(scope="module")
def browser_unit():
    return parse(BROWSER_UNIT)


def test_kiosk_unit_is_a_notify_service_with_a_watchdog(kiosk_unit):
    s = "Service"
    assert one(kiosk_unit, s, "Type") == "notify"
    assert one(kiosk_unit, s, "NotifyAccess") == "main"
    assert one(kiosk_unit, s, "WatchdogSec") == "30"
    assert one(kiosk_unit, s, "Restart") == "on-failure"
    assert int(re.sub(r"s$", "", one(kiosk_unit, s, "TimeoutStopSec"))) > 0
    assert one(kiosk_unit, "Install", "WantedBy") == "multi-user.target"


def test_kiosk_unit_runs_the_console_script(kiosk_unit):
    argv = shlex.split(one(kiosk_unit, "Service", "ExecStart"))
    assert argv[0] == f"/opt/ektp-kiosk/.venv/bin/{console_script()}"
    assert Path(argv[0]).name == "kiosk" and argv[1:] == ["run"]


def test_kiosk_unit_user_state_and_config(kiosk_unit):
    s = "Service"
    assert one(kiosk_unit, s, "User") == "ektp"
    assert one(kiosk_unit, s, "StateDirectory") == "ektp-kiosk"
    env = dict(e.split("=", 1) for v in kiosk_unit[s]["Environment"] for e in shlex.split(v))
    assert env["KIOSK_CONFIG"] == "/etc/ektp-kiosk/kiosk.toml"
    # The kiosk's configuration leaves data_dir empty, so $STATE_DIRECTORY is the data dir.
    assert "STATE_DIRECTORY" not in env


def test_kiosk_unit_is_hardened(kiosk_unit):
    s = "Service"
    assert one(kiosk_unit, s, "ProtectSystem") == "strict"
    assert one(kiosk_unit, s, "ProtectHome") == "yes"
    assert one(kiosk_unit, s, "PrivateTmp") == "yes"
    assert one(kiosk_unit, s, "NoNewPrivileges") == "yes"
    assert "/var/lib/ektp-kiosk" in words(kiosk_unit, s, "ReadWritePaths")
    assert {"dialout", "video"} <= words(kiosk_unit, s, "SupplementaryGroups")


def test_state_directory_is_the_kiosks_data_dir(monkeypatch):
    from kiosk.config import load_config
    monkeypatch.setenv("STATE_DIRECTORY", "/var/lib/ektp-kiosk")
    config = load_config(ROOT / "config" / "kiosk.toml")
    assert config.data_dir == Path("/var/lib/ektp-kiosk")


def test_browser_unit_shows_the_kiosk_in_kiosk_mode(browser_unit, kiosk_unit):
    s = "Service"
    argv = shlex.split(one(browser_unit, s, "ExecStart"))
    assert any(Path(a).name in ("chromium", "chromium-browser") for a in argv)
    for flag in ("--kiosk", "--noerrdialogs", "--disable-session-crashed-bubble",
                 "--disable-background-networking", "--no-first-run"):
        assert flag in argv, flag
    port = 8080
    assert argv[-1] == f"http://127.0.0.1:{port}/"
    assert one(browser_unit, s, "Restart") == "always"
    assert "ektp-kiosk.service" in words(browser_unit, "Unit", "After")
    assert "ektp-kiosk.service" in words(browser_unit, "Unit", "Wants")


def test_default_port_matches_the_browser_url(browser_unit):
    from kiosk.config import SCHEMA
    url = shlex.split(one(browser_unit, "Service", "ExecStart"))[-1]
    assert url == f"http://{SCHEMA['ui']['host'][1]}:{SCHEMA['ui']['port'][1]}/"


def test_readme_covers_the_technicians_commands():
    text = (UNITS / "README.md").read_text(encoding="utf-8")
    for needle in ("journalctl -u ektp-kiosk", "systemctl status ektp-kiosk", "install.sh --system"):
        assert needle in text, needle


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_analyze_verify(tmp_path):
    """systemd's own parser: no unknown keys, no unparsable values, executables that exist."""
    kiosk_bin = Path(sys.executable).with_name("kiosk")
    if not kiosk_bin.exists():
        kiosk_bin = Path("/bin/true")
    adapted = {
        KIOSK_UNIT: [("/opt/ektp-kiosk/.venv/bin/kiosk", str(kiosk_bin))],
        BROWSER_UNIT: [("/usr/bin/cage", shutil.which("cage") or "/bin/true")],
    }
    copies = []
    for unit, swaps in adapted.items():
        text = unit.read_text(encoding="utf-8")
        for old, new in swaps:
            assert old in text
            text = text.replace(old, new)
        copy = tmp_path / unit.name
        copy.write_text(text, encoding="utf-8")
        copies.append(copy)
    proc = subprocess.run(["systemd-analyze", "verify", *map(str, copies)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    output = proc.stdout + proc.stderr
    ours = [line for line in output.splitlines()
            if any(c.name in line for c in copies)
            and re.search(r"Unknown (key|section)|Failed to parse|[Ii]nvalid|not executable|bad-setting", line)]
    assert not ours, output
