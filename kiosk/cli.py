"""The ``kiosk`` command (DESIGN §4): run the kiosk, manage operators, import data, check devices."""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import signal
import sys
import threading
import time

from kiosk.config import Config, load_config
from kiosk.errors import KioskError

log = logging.getLogger("kiosk")


def _config(args, **overrides) -> Config:
    return load_config(args.config, simulate=getattr(args, "simulate", False), overrides=overrides)


def _lang(config: Config | None = None) -> str:
    return config.language if config else "id"


def _setup_logging(level: str = "INFO") -> None:
    # Journald adds its own time stamps; keep lines short. Never log biodata: modules log ids only.
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _kiosk(config: Config, **kwargs):
    from kiosk.app import build_kiosk
    return build_kiosk(config, **kwargs)


def cmd_run(args) -> int:
    import waitress

    from kiosk import sdnotify
    from ui import create_app

    config = _config(args, ui={"host": args.host, "port": args.port})
    _setup_logging(config.get("log", "level"))
    kiosk = _kiosk(config)
    app = create_app(kiosk)
    host, port = config.get("ui", "host"), config.get("ui", "port")
    server = waitress.create_server(app, host=host, port=port, threads=8, channel_timeout=60)
    url = f"http://{host}:{server.effective_port}/"
    stop = threading.Event()

    def terminate(signum, _frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, terminate)
    mode = "SIMULATED DEVICES (training mode)" if kiosk.simulated else (
        "simulated: " + ", ".join(kiosk.devices.simulated_names) if kiosk.devices.simulated_names else "hardware")
    print(f"ektp-kiosk {kiosk.config.kiosk_id} serving on {url}  [{mode}]", flush=True)
    if kiosk.simulated:
        print("Mode simulasi: masuk sebagai demo / PIN 123456 (demo login, simulated mode only)", flush=True)
    log.info("data directory %s", kiosk.data_dir)
    sdnotify.notify("READY=1")
    sdnotify.start_watchdog(lambda: kiosk.store.schema_version() > 0, stop)
    try:
        server.run()
    except (SystemExit, KeyboardInterrupt):
        pass
    finally:
        sdnotify.notify("STOPPING=1")
        stop.set()
        server.close()
        kiosk.close()
        log.info("stopped cleanly")
    return 0


def cmd_nik(args) -> int:
    from kiosk.nik import parse_nik
    config = load_config(args.config) if args.config else None
    lang = args.lang or _lang(config)
    doc = parse_nik(args.nik).to_json(lang)
    if args.json:
        print(json.dumps(doc, ensure_ascii=False, indent=2))
    else:
        print(f"NIK {doc['nik']}: {'sah' if doc['valid'] else 'TIDAK SAH'} / {'valid' if doc['valid'] else 'INVALID'}")
        for key in ("province", "regency", "district"):
            if doc.get(key) or doc.get(f"{key}_code"):
                print(f"  {key:9} {doc.get(f'{key}_code') or ''} {doc.get(key) or '?'}")
        if doc["birth_date"]:
            print(f"  born      {doc['birth_date']}  sex {doc['sex']}  serial {doc['serial']}")
        for e in doc["errors"]:
            print(f"  error:   {e}")
        for w in doc.get("warnings", []):
            print(f"  warning: {w}")
    return 0 if doc["valid"] else 1


def cmd_operator_add(args) -> int:
    from kiosk.operators import Operators
    from kiosk.store import Store
    config = _config(args)
    pin = args.pin
    if pin is None:
        if not sys.stdin.isatty():
            pin = sys.stdin.readline().strip()
        else:
            pin = getpass.getpass("PIN (6-12 angka / digits): ")
            if getpass.getpass("PIN lagi / again: ") != pin:
                print("PIN tidak sama / PINs differ", file=sys.stderr)
                return 2
    store = Store(config.data_dir / "kiosk.db")
    try:
        op = Operators(store).add(args.id, args.role, pin)
    finally:
        store.close()
    print(f"petugas {op.id} ({op.role}) ditambahkan / operator added")
    return 0


def cmd_import_residents(args) -> int:
    from kiosk import residents
    from kiosk.store import Store
    config = _config(args)
    store = Store(config.data_dir / "kiosk.db")
    interactive = sys.stderr.isatty()

    def progress(n):
        if interactive:
            print(f"\r{n} baris / rows", end="", file=sys.stderr, flush=True)
        elif n % 5000 == 0:
            print(f"{n} baris / rows", file=sys.stderr, flush=True)
    try:
        report = residents.import_csv(store, args.file, progress=progress)
    finally:
        store.close()
    if interactive:
        print(file=sys.stderr)
    lang = _lang(config)
    for r in report.rejected[: args.show_rejected]:
        reasons = "; ".join(x["message_en"] if lang == "en" else x["message_id"] for x in r["reasons"])
        print(f"baris/line {r['line']} ({r['nik']}): {reasons}")
    if len(report.rejected) > args.show_rejected:
        print(f"... {len(report.rejected) - args.show_rejected} baris ditolak lainnya / more rejected rows")
    print(f"baru/inserted {report.inserted}, diperbarui/updated {report.updated}, "
          f"sama/unchanged {report.unchanged}, ditolak/rejected {len(report.rejected)}")
    return 0 if not report.rejected else 1


def cmd_import_schedule(args) -> int:
    from kiosk import schedule
    from kiosk.store import Store
    config = _config(args)
    store = Store(config.data_dir / "kiosk.db")
    try:
        result = schedule.import_csv(store, args.file)
    finally:
        store.close()
    for r in result["rejected"]:
        print(f"baris/line {r['line']}: {r['reason']}")
    print(f"jadwal/schedule rows imported: {result['imported']}, rejected: {len(result['rejected'])}")
    return 0 if not result["rejected"] else 1


def cmd_report(args) -> int:
    from kiosk import reports
    from kiosk.store import Store
    config = _config(args)
    store = Store(config.data_dir / "kiosk.db")
    try:
        rep = reports.progress(store)
    finally:
        store.close()
    if args.format == "json":
        print(json.dumps(rep, indent=2, ensure_ascii=False))
    else:
        import csv
        w = csv.writer(sys.stdout)
        w.writerow(["village_code", "village", "start_date", "end_date", "eligible", "recorded", "percent"])
        for v in rep["villages"]:
            w.writerow([v["village_code"], v["village"], v["start_date"], v["end_date"], v["eligible"],
                        v["recorded"], "" if v["percent"] is None else v["percent"]])
        w.writerow(["", "TOTAL", "", "", rep["eligible"], rep["recorded"], "" if rep["percent"] is None else rep["percent"]])
    return 0


def cmd_selftest(args) -> int:
    config = _config(args)
    _setup_logging("WARNING")
    kiosk = _kiosk(config, start_workers=False)
    try:
        kiosk.devices.network.check()
        status = kiosk.device_status(_lang(config))
    finally:
        kiosk.close()
    # The kiosk cannot record without camera and fingerprint scanner; the rest degrade gracefully.
    required = ("camera", "fingerprint")
    failed = [name for name in required if status[name]["state"] in ("fault", "absent")]
    if args.json:
        print(json.dumps({"devices": status, "ok": not failed, "failed": failed}, indent=2, ensure_ascii=False))
    else:
        for name, s in status.items():
            print(f"{name:12} {s['state']:8} {s['backend']:10} {s['detail']}")
        print("OK" if not failed else "GAGAL / FAILED: " + ", ".join(failed))
    return 0 if not failed else 1


def cmd_keygen(args) -> int:
    from kiosk.keys import generate_kiosk_keys
    config = _config(args)
    _private, public = generate_kiosk_keys(config.data_dir, force=args.force)
    print(public)
    return 0


def _print_sync_status(st: dict, lang: str) -> None:
    key = "message_en" if lang == "en" else "message_id"
    print(f"status: {st['state']}  antrean/queue {st['queue']}  ditahan/held {st['held']}  "
          f"belum disegel/unsealed {st['unsealed']}")
    if st["oldest_age_seconds"] is not None:
        print(f"tertua/oldest: {st['oldest_age_seconds']:.0f} s")
    for label, value in (("berhasil terakhir/last success", st["last_success_at"]),
                         ("coba berikutnya/next attempt", st["next_attempt_at"])):
        if value:
            print(f"{label}: {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(value))}")
    for what in ("last_failure", "clock", "not_configured"):
        if st.get(what):
            print(f"{what}: {st[what][key]}")


def cmd_sync(args) -> int:
    from kiosk.sync import sync_once
    config = _config(args)
    _setup_logging("WARNING")
    kiosk = _kiosk(config, start_workers=False)
    lang = _lang(config)
    try:
        if args.retry_failed:
            print(f"{kiosk.sync.retry_failed()} paket dikembalikan ke antrean / packets put back in the queue")
        if not args.once:
            st = kiosk.sync.status()
            if args.json:
                print(json.dumps(st, indent=2, ensure_ascii=False))
            else:
                _print_sync_status(st, lang)
            return 0
        report = sync_once(kiosk)
        st = kiosk.sync.status()
    finally:
        kiosk.close()
    if args.json:
        print(json.dumps({"report": report.as_dict(), "status": st}, indent=2, ensure_ascii=False))
    else:
        print(f"terkirim/sent {report.sent}, gagal/failed {report.failed}, ditahan/held {report.held}, "
              f"status {report.status_changes}, dihapus/purged {report.purged}"
              + ("  (sinkronisasi lain sedang berjalan / another sync is running)" if report.busy else ""))
        _print_sync_status(st, lang)
    return 0 if report.ok else 1


def cmd_register(args) -> int:
    import datetime as dt

    from kiosk import register
    config = _config(args)
    url = args.url or config.get("central", "url")
    try:
        pem = register.read_public_key(config.data_dir)
        result = register.register(url, config.kiosk_id, pem, args.code,
                                   timeout=config.get("sync", "timeout_seconds"))
    except register.RegisterError as exc:
        print(f"{exc.message.id}\n{exc.message.en}", file=sys.stderr)
        return exc.exit_code
    at = dt.datetime.fromtimestamp(result["registered_at"], dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    if result["already"]:
        print(f"kios {result['kiosk_id']} sudah terdaftar dengan kunci ini sejak {at}\n"
              f"kiosk {result['kiosk_id']} was already registered with this key at {at}")
    else:
        print(f"kios {result['kiosk_id']} terdaftar di pusat {at}\nkiosk {result['kiosk_id']} registered at the centre {at}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kiosk", description="ektp-kiosk: e-KTP enrollment kiosk")
    p.add_argument("--config", help="configuration file (default: $KIOSK_CONFIG or built-in defaults)")
    sub = p.add_subparsers(dest="command", required=True)

    def add(name, func, help_text):
        sp = sub.add_parser(name, help=help_text)
        sp.add_argument("--config", default=argparse.SUPPRESS, help="configuration file")
        sp.set_defaults(func=func)
        return sp

    r = add("run", cmd_run, "serve the touch UI and the API")
    r.add_argument("--simulate", action="store_true", help="simulate every device whose backend is auto")
    r.add_argument("--host")
    r.add_argument("--port", type=int)

    op = add("operator", None, "manage operators")
    opsub = op.add_subparsers(dest="op_command", required=True)
    oa = opsub.add_parser("add", help="add an operator")
    oa.add_argument("id")
    oa.add_argument("--role", required=True, choices=["operator", "supervisor", "technician"])
    oa.add_argument("--pin", help="PIN (prompted for, or read from stdin, when omitted)")
    oa.add_argument("--config", default=argparse.SUPPRESS)
    oa.set_defaults(func=cmd_operator_add)

    s = add("selftest", cmd_selftest, "probe every configured device")
    s.add_argument("--json", action="store_true")
    s.add_argument("--simulate", action="store_true")

    n = add("nik", cmd_nik, "parse and validate a NIK")
    n.add_argument("nik")
    n.add_argument("--json", action="store_true")
    n.add_argument("--lang", choices=["id", "en"])

    ir = add("import-residents", cmd_import_residents, "import the residents register (CSV)")
    ir.add_argument("file")
    ir.add_argument("--show-rejected", type=int, default=50, help="how many rejected rows to print")

    isch = add("import-schedule", cmd_import_schedule, "import the recording schedule (CSV)")
    isch.add_argument("file")

    rep = add("report", cmd_report, "progress per village against the eligible residents")
    rep.add_argument("--format", choices=["json", "csv"], default="json")

    kg = add("keygen", cmd_keygen, "create the kiosk's signing key pair; prints the public key's path")
    kg.add_argument("--force", action="store_true", help="replace an existing key (orphans the queue at the centre)")

    rg = add("register", cmd_register, "register the kiosk's public key at the centre with a one-time code")
    rg.add_argument("--code", required=True, help="the code from `central kiosk invite`")
    rg.add_argument("--url", help="the centre's address (default: [central] url)")

    sy = add("sync", cmd_sync, "show the sync state; --once sends the queue and pulls status now")
    sy.add_argument("--once", action="store_true", help="one round now: send, pull status, purge")
    sy.add_argument("--retry-failed", action="store_true",
                    help="put packets held after 409/422/403 back in the queue first")
    sy.add_argument("--json", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not hasattr(args, "config"):
        args.config = None
    try:
        return args.func(args)
    except KioskError as exc:
        print(f"{exc.message.id}\n{exc.message.en}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
