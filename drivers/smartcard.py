"""Smart card reader/writer for the chip card: is a card there, and exchange APDUs with it.

Backends: ``pcsc`` (pyscard over pcscd, any PC/SC reader — on the test machine the
``vsmartcard-vpcd`` virtual reader) and ``sim`` (no card unless the simulation API puts one in).
"""

from __future__ import annotations

from drivers.base import Device, DeviceError, DeviceNotFound, DeviceState, Registry, Status, sim_status

registry = Registry("smartcard")


class CardError(DeviceError):
    code = "card_error"
    default_id = "Kartu tidak bisa dibaca."
    default_en = "The card could not be read."


class NoCard(CardError):
    code = "no_card"
    default_id = "Tidak ada kartu di pembaca. Masukkan kartu kosong."
    default_en = "No card in the reader. Insert a blank card."


class CardRemoved(CardError):
    code = "card_removed"
    default_id = "Kartu dicabut saat sedang ditulis. Masukkan lagi; jangan cabut kartu."
    default_en = "The card was pulled out while being written. Insert it again; do not remove the card."


class CardReader(Device):
    kind = "smartcard"

    def card_present(self) -> bool:
        raise NotImplementedError

    def atr(self) -> bytes:
        raise NotImplementedError

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        """Send one command APDU; return (response data, status word)."""
        raise NotImplementedError

    def status(self) -> Status:
        try:
            present = self.card_present()
        except CardError as exc:
            return Status(DeviceState.FAULT, exc.message_id, exc.message_en, self.backend, self.simulated)
        id_, en = ("ada kartu", "card present") if present else ("tidak ada kartu", "no card")
        if self.simulated:
            s = sim_status("pembaca kartu", "card reader")
            return Status(s.state, f"{id_} (simulasi)", f"{en} (simulated)", self.backend, True)
        return Status(DeviceState.OK, id_, en, self.backend)


@registry.register("sim")
class SimCardReader(CardReader):
    backend = "sim"
    simulated = True

    def __init__(self, **_options):
        super().__init__()
        self.present = False

    def set(self, present: bool) -> None:
        with self._lock:
            self.present = bool(present)

    def card_present(self) -> bool:
        return self.present

    def atr(self) -> bytes:
        if not self.present:
            raise NoCard()
        return bytes.fromhex("3B8880010000000000000000")

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        if not self.present:
            raise NoCard()
        return b"", 0x6D00  # instruction not supported: the card profile arrives with card writing


@registry.register("pcsc")
class PcscCardReader(CardReader):
    backend = "pcsc"

    def __init__(self, reader: str = "", **_options):
        super().__init__()
        self.reader_filter = reader
        self._connection = None

    def _reader(self):
        try:
            from smartcard.System import readers
            from smartcard.Exceptions import EstablishContextException
        except ImportError as exc:  # pyscard missing: report, don't crash the kiosk
            raise DeviceNotFound("pyscard is not installed", "pyscard belum terpasang") from exc
        try:
            found = [r for r in readers() if self.reader_filter in str(r)]
        except EstablishContextException as exc:
            raise CardError("pcscd is not running", "Layanan pcscd tidak berjalan") from exc
        if not found:
            raise DeviceNotFound("No card reader found", "Pembaca kartu tidak ditemukan")
        return found[0]

    def card_present(self) -> bool:
        from smartcard.Exceptions import CardConnectionException, NoCardException
        reader = self._reader()
        conn = reader.createConnection()
        try:
            conn.connect()
        except (NoCardException, CardConnectionException):
            return False
        finally:
            try:
                conn.disconnect()
            except Exception:  # noqa: BLE001 - a vanished reader may fail here too
                pass
        return True

    def status(self) -> Status:
        try:
            return super().status()
        except DeviceNotFound as exc:
            return Status(DeviceState.ABSENT, exc.message_id, exc.message_en, self.backend)

    def _connect(self):
        from smartcard.Exceptions import CardConnectionException, NoCardException
        if self._connection is None:
            conn = self._reader().createConnection()
            try:
                conn.connect()
            except NoCardException as exc:
                raise NoCard() from exc
            except CardConnectionException as exc:
                raise CardError(str(exc)) from exc
            self._connection = conn
        return self._connection

    def atr(self) -> bytes:
        with self._lock:
            return bytes(self._connect().getATR())

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        from smartcard.Exceptions import CardConnectionException
        with self._lock:
            try:
                data, sw1, sw2 = self._connect().transmit(list(apdu))
            except CardConnectionException as exc:
                self._connection = None
                raise CardRemoved() from exc
            return bytes(data), (sw1 << 8) | sw2

    def _close(self):
        if self._connection is not None:
            try:
                self._connection.disconnect()
            except Exception:  # noqa: BLE001
                pass
            self._connection = None


def open_smartcard(backend: str, **options) -> CardReader:
    if backend == "auto":
        backend = "sim"
        try:
            from smartcard.System import readers
            if any(options.get("reader", "") in str(r) for r in readers()):
                backend = "pcsc"
        except Exception:  # noqa: BLE001 - no pyscard or no pcscd: no reader, so simulate
            pass
    return registry.create(backend, **options)
