"""config/kiosk.toml documents every key of kiosk.config.SCHEMA, and the loader's manners hold.

The shipped file must load with zero warnings and set every key with a comment next to it, so a
technician editing it on a kiosk sees what each key does. The hardware profile must load too.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from kiosk.config import BACKENDS, DEVICES, SCHEMA, load_config
from kiosk.errors import InvalidInput

ROOT = Path(__file__).resolve().parents[1]
KIOSK_TOML = ROOT / "config" / "kiosk.toml"
PROFILES = sorted((ROOT / "config" / "hardware").glob("*.toml"))

SECTION = re.compile(r"^\s*\[([A-Za-z0-9_.-]+)\]\s*(#.*)?$")
KEY = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=\s*(.*)$")


def documented_keys(path: Path) -> dict[tuple[str, str], bool]:
    """(section, key) -> whether a comment sits on the line above (a comment block) or beside it."""
    out: dict[tuple[str, str], bool] = {}
    section = None
    previous = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        m = SECTION.match(line)
        if m:
            section = m.group(1)
        else:
            k = KEY.match(line)
            if k and section is not None:
                beside = "#" in k.group(2) and not k.group(2).lstrip().startswith(('"#', "'#"))
                out[(section, k.group(1))] = previous.startswith("#") or beside
        if stripped:
            previous = stripped
    return out


def test_kiosk_toml_loads_without_warnings():
    config = load_config(KIOSK_TOML)
    assert config.warnings == []
    assert config.source == KIOSK_TOML


def test_kiosk_toml_sets_every_key_to_its_default():
    raw = tomllib.loads(KIOSK_TOML.read_text(encoding="utf-8"))
    for section, keys in SCHEMA.items():
        for key, (_kind, default) in keys.items():
            assert key in raw.get(section, {}), f"{section}.{key} missing from config/kiosk.toml"
            assert raw[section][key] == default, f"{section}.{key}: file says {raw[section][key]!r}, default {default!r}"


def test_every_schema_key_has_a_comment():
    found = documented_keys(KIOSK_TOML)
    missing = [f"{s}.{k}" for s, keys in SCHEMA.items() for k in keys if (s, k) not in found]
    undocumented = [f"{s}.{k}" for s, keys in SCHEMA.items() for k in keys if found.get((s, k)) is False]
    assert not missing, f"not in config/kiosk.toml: {missing}"
    assert not undocumented, f"no comment above or beside: {undocumented}"


def test_backend_comments_name_every_allowed_value():
    text = KIOSK_TOML.read_text(encoding="utf-8")
    for device, allowed in BACKENDS.items():
        block = text.split(f"[{device}]", 1)[1].split("\n[", 1)[0]
        for name in allowed:
            assert f'"{name}"' in block, f"[{device}] comment does not mention backend {name!r}"


@pytest.mark.parametrize("profile", PROFILES, ids=[p.name for p in PROFILES])
def test_hardware_profile_loads(profile):
    config = load_config(profile)
    assert config.warnings == []


def test_pi_profile_names_its_hardware():
    config = load_config(ROOT / "config" / "hardware" / "pi-r307-x728.toml")
    assert [config.backend(d) for d in DEVICES] == ["picamera2", "r30x", "pcsc", "x728"]
    assert config.get("fingerprint", "port") == "/dev/serial0"
    # --simulate leaves explicitly configured backends alone.
    simulated = load_config(ROOT / "config" / "hardware" / "pi-r307-x728.toml", simulate=True)
    assert [simulated.backend(d) for d in DEVICES] == ["picamera2", "r30x", "pcsc", "x728"]


def test_unknown_key_and_section_are_reported(tmp_path):
    path = tmp_path / "kiosk.toml"
    path.write_text('[ui]\nprot = 8081\n\n[camra]\nbackend = "sim"\n', encoding="utf-8")
    config = load_config(path)
    assert any("ui.prot" in w for w in config.warnings), config.warnings
    assert any("camra" in w for w in config.warnings), config.warnings
    assert config.get("ui", "port") == 8080  # the typo did not change anything


def test_wrong_type_is_refused_naming_the_key(tmp_path):
    path = tmp_path / "kiosk.toml"
    path.write_text('[ui]\nport = "x"\n', encoding="utf-8")
    with pytest.raises(InvalidInput) as info:
        load_config(path)
    assert info.value.details.get("key") == "ui.port"
    assert "ui.port" in info.value.message.en and "ui.port" in info.value.message.id


def test_unknown_backend_is_refused(tmp_path):
    path = tmp_path / "kiosk.toml"
    path.write_text('[camera]\nbackend = "webcam"\n', encoding="utf-8")
    with pytest.raises(InvalidInput) as info:
        load_config(path)
    assert info.value.details.get("key") == "camera.backend"


def test_kiosk_config_environment_variable(tmp_path, monkeypatch):
    path = tmp_path / "kiosk.toml"
    path.write_text("[ui]\nport = 9090\n", encoding="utf-8")
    monkeypatch.setenv("KIOSK_CONFIG", str(path))
    assert load_config().get("ui", "port") == 9090
    monkeypatch.delenv("KIOSK_CONFIG")
    assert load_config().get("ui", "port") == 8080


def test_simulate_turns_only_auto_backends_into_sim(tmp_path):
    path = tmp_path / "kiosk.toml"
    path.write_text('[camera]\nbackend = "opencv"\n\n[power]\nbackend = "sim"\n', encoding="utf-8")
    plain = load_config(path)
    assert [plain.backend(d) for d in DEVICES] == ["opencv", "auto", "auto", "sim"]
    simulated = load_config(path, simulate=True)
    assert [simulated.backend(d) for d in DEVICES] == ["opencv", "sim", "sim", "sim"]
    # No file at all: every backend is auto, so --simulate simulates every device.
    assert {load_config(None, simulate=True).backend(d) for d in DEVICES} == {"sim"}
