"""The ``central`` command (DESIGN §4): keys, kiosk registration, the packet list, the server."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from pathlib import Path

from kiosk.errors import KioskError

log = logging.getLogger("central")


def default_data_dir() -> Path:
    # systemd's StateDirectory= hands us the directory; by hand, the user's data dir.
    state = os.environ.get("STATE_DIRECTORY")
    if state:
        return Path(state.split(":")[0])
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "ektp-central"


def _data_dir(args) -> Path:
    return Path(args.data_dir).expanduser() if args.data_dir else default_data_dir()


def _store(args):
    from central.store import open_store
    url = args.db or os.environ.get("CENTRAL_DB") or f"sqlite:///{_data_dir(args) / 'central.db'}"
    return open_store(url)


def cmd_keygen(args) -> int:
    from kiosk import keys
    private, public = keys.generate_central_keys(_data_dir(args), force=args.force)
    print(f"kunci pusat dibuat / centre key pair written: {private} (rahasia / private, 0600)")
    print(public)
    return 0


def _kiosk_id(args) -> str:
    from central.store import valid_kiosk_id
    kiosk_id = args.kiosk_id.strip()
    # The id travels in URL paths and signed request lines: keep it to characters that need no quoting.
    if not valid_kiosk_id(kiosk_id):
        raise KioskError("bad_kiosk_id", "Id kios harus 1-64 huruf, angka, '.', '_' atau '-'.",
                         "A kiosk id is 1-64 letters, digits, '.', '_' or '-'.")
    return kiosk_id


def cmd_kiosk_add(args) -> int:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from kiosk import keys
    kiosk_id = _kiosk_id(args)
    public = keys.load_public_key(args.public_key_file, Ed25519PublicKey)
    store = _store(args)
    try:
        new = store.add_kiosk(kiosk_id, keys.public_pem(public))
    finally:
        store.close()
    print(f"kios {kiosk_id} {'didaftarkan' if new else 'kuncinya diganti'} / kiosk "
          f"{'registered' if new else 're-keyed'}")
    return 0


def cmd_kiosk_invite(args) -> int:
    import datetime as dt

    kiosk_id = _kiosk_id(args)
    if not args.ttl_hours > 0:
        raise KioskError("bad_ttl", "--ttl-hours harus lebih dari 0.", "--ttl-hours must be more than 0.")
    store = _store(args)
    try:
        code, expires_at = store.invite_kiosk(kiosk_id, ttl_hours=args.ttl_hours)
    finally:
        store.close()
    until = dt.datetime.fromtimestamp(expires_at, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    if args.json:
        print(json.dumps({"kiosk_id": kiosk_id, "code": code, "expires_at": expires_at}))
        return 0
    print(f"kode pendaftaran / enrolment code for {kiosk_id}: {code}")
    print(f"berlaku sampai / valid until: {until} (sekali pakai / one use)")
    print(f"di kios / on the kiosk: kiosk register --code {code}")
    return 0


def cmd_kiosk_list(args) -> int:
    store = _store(args)
    try:
        rows = store.kiosks()
    finally:
        store.close()
    if args.json:
        print(json.dumps(rows, indent=2))
    for r in rows if not args.json else ():
        print(f"{r['kiosk_id']:24} {r['packets']:6} packets")
    return 0


def cmd_packets(args) -> int:
    store = _store(args)
    try:
        rows = store.packets(status=args.status, limit=args.limit)
    finally:
        store.close()
    out = [{"packet_id": r["packet_id"], "kiosk_id": r["kiosk_id"], "nik": r["nik"], "status": r["status"],
            "registration_id": r["registration_id"], "village": r["village"], "received_at": r["received_at"],
            "training": r["simulated"]} for r in rows]
    if args.json:
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return 0
    print(f"{'PACKET':36}  {'KIOSK':16}  {'NIK':16}  STATUS")
    for r in out:
        print(f"{r['packet_id']:36}  {r['kiosk_id']:16}  {r['nik']:16}  {r['status']}"
              + ("  (training)" if r["training"] else ""))
    return 0


def cmd_village(args) -> int:
    store = _store(args)
    try:
        store.set_eligible(args.village, args.eligible)
    finally:
        store.close()
    print(f"{args.village}: {args.eligible} wajib KTP / eligible")
    return 0


def cmd_run(args) -> int:
    import waitress

    from central import pipeline
    from central.app import create_app
    from kiosk import keys

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    private_path = keys.central_key_paths(_data_dir(args))[0]
    if not private_path.exists():
        raise KioskError("no_central_key", f"Kunci pusat belum ada ({private_path}); jalankan dulu: central keygen",
                         f"No centre key yet ({private_path}); run first: central keygen")
    central_key = keys.load_decryption_key(private_path)
    store = _store(args)
    pending = pipeline.process_pending(store)
    if pending:
        log.info("decided %d packets left undecided by the last run", pending)
    app = create_app(store, central_key, max_body=args.max_body_mb * 1024 * 1024)
    server = waitress.create_server(app, host=args.host, port=args.port, threads=8, channel_timeout=120,
                                    max_request_body_size=args.max_body_mb * 1024 * 1024 + 1)

    def terminate(signum, _frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, terminate)
    print(f"ektp-central serving on http://{args.host}:{server.effective_port}/  [{store.url.split('@')[-1]}]",
          flush=True)
    try:
        server.run()
    except (SystemExit, KeyboardInterrupt):
        pass
    finally:
        server.close()
        store.close()
        log.info("stopped cleanly")
    return 0


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", help="keys and the default SQLite database (default: ~/.local/share/ektp-central)")
    common.add_argument("--db", help="database URL: sqlite:///PATH or postgresql://... (default: SQLite in the data dir)")
    p = argparse.ArgumentParser(prog="central", description="e-KTP reference receiving server (pusat)")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("keygen", parents=[common], help="write the centre's X25519 key pair")
    s.add_argument("--force", action="store_true", help="replace an existing key (packets sealed to it become unreadable)")
    s.set_defaults(func=cmd_keygen)

    k = sub.add_parser("kiosk", help="register kiosks").add_subparsers(dest="kiosk_command", required=True)
    s = k.add_parser("add", parents=[common], help="register a kiosk's public key")
    s.add_argument("kiosk_id")
    s.add_argument("public_key_file")
    s.set_defaults(func=cmd_kiosk_add)
    s = k.add_parser("invite", parents=[common], help="a one-time code for `kiosk register` (prints it once)")
    s.add_argument("kiosk_id")
    s.add_argument("--ttl-hours", type=float, default=72.0, help="hours the code stays valid (default 72)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_kiosk_invite)
    s = k.add_parser("list", parents=[common], help="registered kiosks")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_kiosk_list)

    s = sub.add_parser("packets", parents=[common], help="list the stored records")
    s.add_argument("--json", action="store_true")
    s.add_argument("--status", choices=("received", "PRR", "DUPLICATE", "ADJUDICATE", "FAILED"))
    s.add_argument("--limit", type=int, default=1000)
    s.set_defaults(func=cmd_packets)

    s = sub.add_parser("village", parents=[common], help="set a village's number of eligible residents")
    s.add_argument("village")
    s.add_argument("eligible", type=int)
    s.set_defaults(func=cmd_village)

    s = sub.add_parser("run", parents=[common], help="serve the API")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8090)
    s.add_argument("--max-body-mb", type=int, default=16)
    s.set_defaults(func=cmd_run)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KioskError as exc:
        print(f"galat / error: {exc.message.id}\n  {exc.message.en}", file=sys.stderr)
        return 2
    except ValueError as exc:  # e.g. an unsupported --db URL
        print(f"galat / error: {exc}", file=sys.stderr)
        return 2
    except ImportError as exc:
        print(f"galat / error: {exc}; PostgreSQL perlu / needs: pip install 'ektp-kiosk[postgres]'", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - only the database driver's own errors are reported here
        if not type(exc).__module__.startswith(("psycopg", "sqlite3")):
            raise
        print(f"galat basis data / database error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
              file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
