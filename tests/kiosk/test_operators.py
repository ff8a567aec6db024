import pytest

from kiosk.errors import AuthError, Conflict, Forbidden, InvalidInput
from kiosk.operators import Operators, Policy
from kiosk.store import Store


@pytest.fixture
def ops(tmp_path):
    s = Store(tmp_path / "k.db")
    yield Operators(s, Policy(lockout_attempts=5, lockout_seconds=300, idle_logout_seconds=600))
    s.close()


def test_add_and_login(ops):
    ops.add("budi", "operator", "246810")
    token, op = ops.login("budi", "246810")
    assert op.role == "operator"
    assert ops.session(token).id == "budi"
    row = ops.store.one("SELECT pin_hash FROM operators WHERE id = 'budi'")
    assert row["pin_hash"].startswith("$argon2") and "246810" not in row["pin_hash"]


@pytest.mark.parametrize("op_id,role,pin,code", [
    ("b", "operator", "246810", "bad_operator_id"),
    ("budi", "admin", "246810", "bad_role"),
    ("budi", "operator", "1234", "bad_pin"),
    ("budi", "operator", "12a456", "bad_pin"),
])
def test_add_rejects_bad_input(ops, op_id, role, pin, code):
    with pytest.raises(InvalidInput) as info:
        ops.add(op_id, role, pin)
    assert info.value.code == code
    assert ops.store.one("SELECT COUNT(*) AS n FROM operators")["n"] == 0


def test_duplicate_operator(ops):
    ops.add("budi", "operator", "246810")
    with pytest.raises(Conflict):
        ops.add("budi", "supervisor", "246810")


def test_five_wrong_pins_lock_for_five_minutes(ops, monkeypatch):
    import kiosk.operators as mod
    t = [1_000_000.0]
    monkeypatch.setattr(mod, "now", lambda: t[0])
    ops.add("budi", "operator", "246810")
    for _ in range(4):
        with pytest.raises(AuthError) as info:
            ops.login("budi", "000000")
        assert info.value.code == "wrong_pin"
    with pytest.raises(AuthError) as info:
        ops.login("budi", "000000")
    assert info.value.code == "locked_out"
    # even the right PIN is refused while locked
    with pytest.raises(AuthError) as info:
        ops.login("budi", "246810")
    assert info.value.code == "locked_out"
    t[0] += 301
    token, _ = ops.login("budi", "246810")
    assert token


def test_idle_logout(ops, monkeypatch):
    import kiosk.operators as mod
    t = [1_000_000.0]
    monkeypatch.setattr(mod, "now", lambda: t[0])
    ops.add("budi", "operator", "246810")
    token, _ = ops.login("budi", "246810")
    t[0] += 599
    assert ops.session(token).id == "budi"  # activity keeps it alive
    t[0] += 599
    assert ops.session(token).id == "budi"
    t[0] += 601
    with pytest.raises(AuthError) as info:
        ops.session(token)
    assert info.value.code == "session_expired"
    with pytest.raises(AuthError):
        ops.session(token)


def test_demo_account_refused_unless_simulated(tmp_path):
    s = Store(tmp_path / "k.db")
    Operators(s, allow_demo=True).ensure_demo()
    assert Operators(s, allow_demo=True).login("demo", "123456")[1].role == "supervisor"
    with pytest.raises(AuthError):
        Operators(s, allow_demo=False).login("demo", "123456")
    s.close()


def test_roles(ops):
    ops.add("tek", "technician", "246810")
    tek = ops.get("tek")
    with pytest.raises(Forbidden):
        ops.require(tek, "operator")
    ops.add("sup", "supervisor", "246810")
    ops.require(ops.get("sup"), "operator")
    ops.require(ops.get("sup"), "supervisor")


def test_logout_ends_session(ops):
    ops.add("budi", "operator", "246810")
    token, _ = ops.login("budi", "246810")
    ops.logout(token)
    with pytest.raises(AuthError):
        ops.session(token)


def test_untouched_poll_does_not_keep_session_alive(ops, monkeypatch):
    import kiosk.operators as mod
    t = [1_000_000.0]
    monkeypatch.setattr(mod, "now", lambda: t[0])
    ops.add("budi", "operator", "246810")
    token, _ = ops.login("budi", "246810")
    for _ in range(3):
        t[0] += 300
        if t[0] - 1_000_000.0 <= 600:
            assert ops.session(token, touch=False).id == "budi"
    with pytest.raises(AuthError):
        ops.session(token, touch=False)
