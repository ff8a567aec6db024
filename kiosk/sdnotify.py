"""systemd's notify protocol (Type=notify, WatchdogSec=) without a dependency: one datagram per message."""

from __future__ import annotations

import os
import socket
import threading


def notify(message: str) -> bool:
    addr = os.environ.get("NOTIFY_SOCKET")
    if not addr:
        return False
    if addr.startswith("@"):  # abstract namespace socket
        addr = "\0" + addr[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.sendto(message.encode(), addr)
        return True
    except OSError:
        return False


def start_watchdog(alive, stop: threading.Event) -> threading.Thread | None:
    """Ping the watchdog at half its period while ``alive()`` says the kiosk can still serve."""
    usec = os.environ.get("WATCHDOG_USEC")
    if not usec:
        return None
    period = int(usec) / 1e6 / 2

    def loop():
        while not stop.wait(period):
            if alive():
                notify("WATCHDOG=1")

    t = threading.Thread(target=loop, name="watchdog", daemon=True)
    t.start()
    return t
