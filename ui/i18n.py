"""The words of the touch UI, Bahasa Indonesia first (UI.md), and the language of a request.

``lang()`` is shared with the JSON API, so this module needs nothing but Flask.
Templates call ``t("key")``; the JavaScript gets the same dictionary for the current
language as ``window.KIOSK.t`` (see ``base.html``).
"""

from __future__ import annotations

from flask import current_app, has_app_context, has_request_context, request

LANGS = ("id", "en")
COOKIE = "lang"

# key -> (Bahasa Indonesia, English). Words from UI.md's table wherever it has one.
WORDS: dict[str, tuple[str, str]] = {
    # general
    "app_name": ("Perekaman KTP-el", "e-KTP enrollment"),
    "back": ("Kembali", "Back"),
    "next": ("Lanjut", "Next"),
    "save": ("Simpan", "Save"),
    "cancel": ("Batal", "Cancel"),
    "close": ("Tutup", "Close"),
    "detail": ("Detail", "Detail"),
    "retry": ("Ulangi", "Try again"),
    "home": ("Beranda", "Home"),
    "yes": ("Ya", "Yes"),
    "no": ("Tidak", "No"),
    "loading": ("Sedang memproses…", "Working…"),
    "language": ("Bahasa", "Language"),
    "lang_switch": ("English", "Bahasa Indonesia"),
    "lang_switch_code": ("en", "id"),
    "sim_banner": ("MODE SIMULASI — perangkat disimulasikan", "SIMULATION MODE — devices are simulated"),
    "net_error": ("Kios tidak menjawab. Periksa bahwa layanan kios berjalan, lalu coba lagi.",
                  "The kiosk service did not answer. Check that it is running, then try again."),
    "unexpected": ("Terjadi kesalahan. Coba lagi; bila berulang, hubungi teknisi.",
                   "Something went wrong. Try again; if it happens again, ask a technician."),
    "not_found_title": ("Tidak ditemukan", "Not found"),
    # status bar
    "status_power": ("Listrik", "Power"),
    "power_mains": ("listrik PLN", "mains power"),
    "power_battery": ("memakai baterai", "on battery"),
    "power_low": ("baterai lemah", "battery low"),
    "power_unknown": ("listrik ?", "power ?"),
    "centre_up": ("terhubung ke pusat", "connected to the centre"),
    "centre_down": ("tidak terhubung ke pusat", "no connection to the centre"),
    "centre": ("Pusat", "Centre"),
    "link_up": ("terhubung", "online"),
    "link_down": ("terputus", "offline"),
    "link_unknown": ("belum tahu", "unknown"),
    "power_mains_short": ("PLN", "mains"),
    "power_battery_short": ("baterai", "battery"),
    "queue": ("antrean kirim", "queue (to send)"),
    "queue_short": ("Antrean", "Queue"),
    "dev_camera": ("Kamera", "Camera"),
    "dev_fingerprint": ("Sidik jari", "Fingerprint"),
    "dev_smartcard": ("Kartu", "Card"),
    "dev_power": ("Daya", "Power"),
    "dev_network": ("Jaringan", "Network"),
    "state_ok": ("siap", "ready"),
    "state_warning": ("perhatian", "attention"),
    "state_fault": ("rusak", "fault"),
    "state_absent": ("tidak ada", "absent"),
    "state_sim": ("sim", "sim"),
    "operator": ("petugas", "operator"),
    "supervisor": ("supervisor", "supervisor"),
    "technician": ("teknisi", "technician"),
    # login
    "login_title": ("Masuk petugas", "Operator log in"),
    "operator_id": ("ID petugas", "Operator id"),
    "pin": ("PIN", "PIN"),
    "login": ("Masuk", "Log in"),
    "logout": ("Keluar", "Log out"),
    "login_sim_note": ("Mode simulasi: masuk sebagai demo / PIN 123456",
                       "Simulation mode: log in as demo / PIN 123456"),
    "login_need_id": ("Isi ID petugas dulu.", "Enter the operator id first."),
    "login_need_pin": ("PIN 6 sampai 12 angka.", "A PIN is 6 to 12 digits."),
    "login_idle": ("Sesi berakhir karena tidak ada aktivitas. Silakan masuk lagi.",
                   "The session ended after inactivity. Please log in again."),
    "login_locked_minutes": ("Akun dikunci karena terlalu banyak PIN salah. Coba lagi dalam {minutes} menit "
                             "atau hubungi supervisor.",
                             "The account is locked after too many wrong PINs. Try again in {minutes} minutes "
                             "or ask a supervisor."),
    "field_id": ("ID", "Id"),
    "field_pin": ("PIN", "PIN"),
    # keypad
    "key_delete": ("hapus", "delete"),
    "key_clear": ("hapus semua", "clear all"),
    # home
    "home_title": ("Beranda", "Home"),
    "village_today": ("Desa/kelurahan hari ini", "Today's village"),
    "village_none": ("Belum dipilih", "Not chosen yet"),
    "village_choose": ("Pilih desa/kelurahan", "Choose the village"),
    "village_other": ("atau tulis nama desa/kelurahan", "or type the village name"),
    "village_set": ("Pakai desa ini", "Use this village"),
    "village_scheduled": ("Jadwal hari ini", "Scheduled today"),
    "tally_today": ("Direkam hari ini", "Recorded today"),
    "drafts": ("Perekaman belum selesai", "Unfinished recordings"),
    "drafts_none": ("Tidak ada perekaman yang tertunda.", "No unfinished recordings."),
    "resume_at": ("lanjutkan di langkah", "resume at step"),
    "enroll_start": ("Rekam data penduduk", "Record a resident"),
    "outbox": ("Antrean kirim", "Send queue"),
    "residents_imported": ("Penduduk di daftar impor", "Residents in the imported register"),
    # steps
    "step_nik": ("NIK", "NIK"),
    "step_biodata": ("Biodata", "Biodata"),
    "step_photo": ("Foto", "Photo"),
    "step_signature": ("Tanda tangan", "Signature"),
    "step_fingers": ("Sidik jari", "Fingerprints"),
    "step_review": ("Periksa kembali", "Review"),
    "step_done": ("Selesai", "Done"),
    "step_done_mark": ("selesai", "done"),
    "step_current_mark": ("sekarang", "current"),
    # NIK step
    "nik_title": ("Masukkan NIK", "Enter the NIK"),
    "nik_hint": ("16 angka dari KTP atau Kartu Keluarga.", "16 digits from the ID card or family card."),
    "nik_digits": ("{n} dari 16 angka", "{n} of 16 digits"),
    "nik_province": ("Provinsi", "Province"),
    "nik_regency": ("Kabupaten/kota", "Regency/city"),
    "nik_district": ("Kecamatan", "District"),
    "nik_birth_date": ("Tanggal lahir", "Birth date"),
    "nik_sex": ("Jenis kelamin", "Sex"),
    "nik_serial": ("Nomor urut", "Serial"),
    "nik_incomplete": ("NIK belum lengkap: {n} dari 16 angka.", "The NIK is incomplete: {n} of 16 digits."),
    "nik_valid": ("NIK terbaca dengan benar.", "The NIK reads correctly."),
    "sex_M": ("Laki-laki", "Male"),
    "sex_F": ("Perempuan", "Female"),
    "already_recorded": ("NIK ini sudah direkam di kios ini", "This NIK was already recorded at this kiosk"),
    "draft_exists": ("Sudah ada perekaman tertunda untuk NIK ini.", "There is an unfinished recording for this NIK."),
    "draft_resume": ("Lanjutkan perekaman itu", "Resume that recording"),
    "not_in_register_title": ("Isi biodata dari dokumen", "Enter the biodata from the documents"),
    "nik_change": ("Ubah NIK", "Change the NIK"),
    "creating": ("Membuat perekaman…", "Creating the recording…"),
    # biodata fields
    "f_nik": ("NIK", "NIK"),
    "f_name": ("Nama", "Name"),
    "f_birth_place": ("Tempat lahir", "Place of birth"),
    "f_birth_date": ("Tanggal lahir", "Date of birth"),
    "f_sex": ("Jenis kelamin", "Sex"),
    "f_blood_type": ("Golongan darah", "Blood type"),
    "f_address": ("Alamat", "Address"),
    "f_rt": ("RT", "RT"),
    "f_rw": ("RW", "RW"),
    "f_village": ("Kel/Desa", "Village"),
    "f_district": ("Kecamatan", "District"),
    "f_religion": ("Agama", "Religion"),
    "f_marital_status": ("Status perkawinan", "Marital status"),
    "f_occupation": ("Pekerjaan", "Occupation"),
    "f_citizenship": ("Kewarganegaraan", "Citizenship"),
    "sex_L_opt": ("L — laki-laki", "M — male"),
    "sex_P_opt": ("P — perempuan", "F — female"),
    "choose": ("— pilih —", "— choose —"),
    "blood_unknown": ("- (tidak tahu)", "- (unknown)"),
    # biodata step
    "biodata_title": ("Periksa biodata", "Check the biodata"),
    "biodata_hint": ("Bacakan biodata kepada penduduk. Bila ada yang salah, tekan Koreksi.",
                     "Read the biodata to the resident. If anything is wrong, press Correct."),
    "correct": ("Koreksi", "Correct"),
    "correct_stop": ("Batalkan koreksi", "Cancel correction"),
    "correct_reason": ("Alasan koreksi", "Reason for the correction"),
    "correct_reason_hint": ("Wajib bila ada yang diubah (minimal 5 huruf).", "Needed when anything changes (5 characters at least)."),
    "correct_document": ("Dokumen pendukung (jenis dan nomor)", "Supporting document (type and number)"),
    "correct_document_hint": ("Wajib untuk tempat/tanggal lahir dan golongan darah.",
                              "Needed for place/date of birth and blood type."),
    "locked_field": ("perlu dokumen", "needs a document"),
    "biodata_ok": ("Benar, lanjut", "Correct, next"),
    "corrections": ("Koreksi", "Corrections"),
    "corrections_none": ("Tidak ada koreksi.", "No corrections."),
    # photo
    "photo_title": ("Foto", "Photo"),
    "photo_hint": ("Minta penduduk menatap kamera, wajah di tengah, tanpa kacamata gelap.",
                   "Ask the resident to look at the camera, face centred, no dark glasses."),
    "photo_take": ("Ambil foto", "Take photo"),
    "photo_retake": ("Ambil ulang", "Take again"),
    "photo_taking": ("Mengambil foto…", "Taking the photo…"),
    "photo_accepted": ("Foto diterima", "Photo accepted"),
    "photo_rejected": ("Foto belum baik", "The photo is not good enough"),
    "photo_stored": ("Foto tersimpan", "Stored photo"),
    "preview_live": ("Pratinjau kamera", "Camera preview"),
    "preview_unavailable": ("Pratinjau kamera tidak tersedia. Foto mungkin masih bisa diambil; bila gagal hubungi teknisi.",
                            "The camera preview is not available. Taking a photo may still work; if not, ask a technician."),
    "quality": ("kualitas", "quality"),
    "bg_red": ("latar merah (tahun lahir ganjil)", "red background (odd birth year)"),
    "bg_blue": ("latar biru (tahun lahir genap)", "blue background (even birth year)"),
    # signature
    "signature_title": ("Tanda tangan", "Signature"),
    "signature_hint": ("Minta penduduk menandatangani di kotak ini dengan jari atau pena.",
                       "Ask the resident to sign in the box with a finger or stylus."),
    "signature_clear": ("Hapus", "Clear"),
    "signature_save": ("Simpan", "Save"),
    "signature_saving": ("Menyimpan tanda tangan…", "Saving the signature…"),
    "signature_empty": ("Kotak tanda tangan masih kosong.", "The signature box is still empty."),
    "signature_accepted": ("Tanda tangan tersimpan", "Signature saved"),
    "signature_rejected": ("Tanda tangan belum baik", "The signature is not good enough"),
    "signature_stored": ("Tanda tangan tersimpan", "Stored signature"),
    # fingers
    "fingers_title": ("Sidik jari", "Fingerprints"),
    "finger_place": ("Letakkan {finger} pada pemindai", "Place your {finger} on the scanner"),
    "finger_lift": ("Angkat jari Anda", "Lift your finger"),
    "finger_scan": ("Pindai", "Scan"),
    "finger_scanning": ("Memindai… letakkan jari dan tahan", "Scanning… place the finger and hold still"),
    "finger_scanning_short": ("Memindai…", "Scanning…"),
    "finger_phase_imaging": ("Mengambil gambar sidik jari… tahan jari", "Imaging the finger… hold still"),
    "finger_phase_uploading": ("Membaca gambar dari pemindai…", "Reading the image from the scanner…"),
    "finger_low": ("Kualitas kurang baik, ulangi", "Quality too low, try again"),
    "finger_accepted": ("Sidik jari diterima", "Fingerprint accepted"),
    "finger_no_finger": ("Tidak ada jari pada pemindai. Letakkan jari lalu tekan Pindai lagi.",
                         "No finger on the scanner. Place the finger, then press Scan again."),
    "finger_attempts": ("percobaan", "attempts"),
    "finger_exception": ("Pengecualian", "Exception"),
    "finger_exception_q": ("Mengapa jari ini tidak bisa dipindai?", "Why can this finger not be scanned?"),
    "finger_exception_done": ("Pengecualian dicatat", "Exception recorded"),
    "finger_exception_offer": ("Sudah beberapa kali gagal. Bila jari memang tidak bisa dipindai, catat pengecualian.",
                               "Several tries failed. If the finger really cannot be scanned, record an exception."),
    "finger_all_done": ("Sepuluh jari lengkap.", "All ten fingers are done."),
    "finger_choose": ("Ketuk jari pada gambar untuk memilihnya.", "Tap a finger on the picture to choose it."),
    "fs_missing": ("belum", "not yet"),
    "fs_captured": ("diterima", "accepted"),
    "fs_rejected": ("ditolak", "rejected"),
    "fs_exception": ("pengecualian", "exception"),
    "legend": ("✓ diterima (angka = kualitas) · ✗ ditolak · ⊘ pengecualian · ○ belum",
               "✓ accepted (number = quality) · ✗ rejected · ⊘ exception · ○ not yet"),
    "left_hand": ("Tangan kiri", "Left hand"),
    "right_hand": ("Tangan kanan", "Right hand"),
    "ex_amputated": ("jari tidak ada", "finger missing"),
    "ex_injured": ("terluka", "injured"),
    "ex_bandaged": ("diperban", "bandaged"),
    "ex_unreadable": ("tidak terbaca", "unreadable"),
    # finger exceptions: a supervisor approves
    "approval_pending": ("Menunggu persetujuan supervisor", "Waiting for a supervisor's approval"),
    "approval_pending_hint": ("Pengecualian jari harus disetujui supervisor sebelum perekaman bisa disimpan.",
                              "A finger exception must be approved by a supervisor before the recording can be saved."),
    "approval_approve": ("Setujui (supervisor)", "Approve (supervisor)"),
    "approval_title": ("Persetujuan pengecualian jari", "Approval of a finger exception"),
    "approval_submit": ("Setujui", "Approve"),
    "approval_done": ("Pengecualian disetujui oleh", "Exception approved by"),
    "approval_enter": ("Masukkan ID dan PIN supervisor.", "Enter the supervisor's id and PIN."),
    "fs_pending": ("menunggu persetujuan", "awaiting approval"),
    "missing_approval": ("persetujuan supervisor untuk pengecualian", "supervisor approval of the exception"),
    # index-finger verification
    "step_verify": ("Verifikasi", "Verification"),
    "verify_title": ("Verifikasi jari telunjuk", "Index-finger verification"),
    "verify_hint": ("Letakkan lagi jari telunjuk yang sama: kios mencocokkannya dengan rekaman pertama.",
                    "Place the same index finger again: the kiosk matches it with the first capture."),
    "verify_place": ("Letakkan lagi {finger} pada pemindai", "Place your {finger} on the scanner again"),
    "verify_scan": ("Verifikasi", "Verify"),
    "verify_matched": ("Cocok", "Matched"),
    "verify_not_matched": ("Tidak cocok", "Not matched"),
    "verify_not_matched_hint": ("Pastikan jari yang benar, bersihkan pemindai, lalu ulangi.",
                                "Make sure it is the right finger, clean the scanner, then try again."),
    "verify_recapture": ("Masih tidak cocok. Mungkin rekaman pertama salah jari: rekam ulang jari ini pada langkah "
                         "sidik jari.",
                         "Still no match. The first capture may be of the wrong finger: capture this finger again "
                         "at the fingerprints step."),
    "verify_score": ("skor", "score"),
    "verify_all_done": ("Kedua jari telunjuk cocok.", "Both index fingers match."),
    "verify_none": ("Tidak ada jari telunjuk yang perlu diverifikasi.", "No index finger needs verifying."),
    "verify_not_captured": ("belum direkam", "not captured yet"),
    "missing_verify": ("verifikasi", "verification"),
    # possible duplicates ("data ganda") and the supervisor's review
    "duplicate_done_hint": ("Data tetap tersimpan. Supervisor akan memeriksa kemungkinan data ganda ini.",
                            "The record is saved. A supervisor will review this possible duplicate."),
    "duplicate_with": ("mirip dengan", "similar to"),
    "duplicate_fingers": ("jari cocok", "matching fingers"),
    "review_queue": ("Pemeriksaan data ganda", "Duplicate review"),
    "review_queue_hint": ("Data yang sidik jarinya mirip dengan NIK lain. Bandingkan, lalu putuskan dengan alasan.",
                          "Records whose fingerprints resemble another NIK's. Compare them, then decide with a reason."),
    "review_queue_empty": ("Tidak ada data yang menunggu pemeriksaan.", "No record waits for review."),
    "review_same_person": ("Orang yang sama (data ganda)", "Same person (duplicate)"),
    "review_different_person": ("Orang berbeda", "Different person"),
    "review_reason": ("Alasan keputusan", "Reason for the decision"),
    "review_decided": ("Keputusan tersimpan", "Decision saved"),
    "review_recent": ("Keputusan terakhir", "Recent decisions"),
    "review_record": ("Data ini", "This record"),
    "review_suspect": ("Data mirip", "Similar record"),
    # simulation panel
    "sim_panel": ("Simulasi", "Simulation"),
    "sim_subject": ("Nomor orang simulasi", "Simulated person number"),
    "sim_apply": ("Pakai", "Apply"),
    "sim_applied": ("Orang simulasi: {subject}", "Simulated person: {subject}"),
    "sim_no_face": ("Tanpa wajah", "No face"),
    "sim_no_finger": ("Tanpa jari", "No finger"),
    "sim_low_quality": ("Jari buram", "Smudged finger"),
    # review
    "review_title": ("Periksa kembali", "Review"),
    "review_hint": ("Periksa semuanya bersama penduduk, lalu simpan.", "Check everything with the resident, then save."),
    "review_save": ("Simpan", "Save"),
    "review_saving": ("Menyimpan perekaman…", "Saving the recording…"),
    "review_incomplete": ("Perekaman belum lengkap. Yang masih kurang:", "The recording is not complete. Still missing:"),
    "review_go": ("buka", "open"),
    "missing_biodata": ("biodata belum diperiksa", "biodata not checked"),
    "missing_photo": ("foto", "photo"),
    "missing_signature": ("tanda tangan", "signature"),
    "override_title": ("Persetujuan supervisor", "Supervisor approval"),
    "override_hint": ("NIK ini sudah direkam di kios ini. Perekaman ulang perlu persetujuan supervisor dengan alasan.",
                      "This NIK was already recorded at this kiosk. Recording again needs a supervisor's approval "
                      "with a reason."),
    "override_supervisor": ("ID supervisor", "Supervisor id"),
    "override_pin": ("PIN supervisor", "Supervisor PIN"),
    "override_reason": ("Alasan", "Reason"),
    "override_submit": ("Setujui dan simpan", "Approve and save"),
    "duplicate_suspects": ("Kemungkinan data ganda", "Possible duplicate record"),
    # done
    "done_title": ("Selesai: perekaman tersimpan", "Done: recording saved"),
    "registration_id": ("Nomor registrasi", "Registration number"),
    "done_qr": ("Kode QR tanda terima (tanpa data pribadi)", "Receipt QR code (no personal data)"),
    "done_next": ("Rekam berikutnya", "Record the next"),
    "done_queue": ("Data masuk antrean kirim dan akan terkirim ke pusat saat terhubung.",
                   "The record is in the send queue and goes to the centre when the link is up."),
    # outbox
    "outbox_title": ("Antrean kirim", "Send queue"),
    "ob_queued": ("menunggu", "queued"),
    "ob_sending": ("sedang dikirim", "sending"),
    "ob_sent": ("terkirim ke pusat", "sent to the centre"),
    "ob_failed": ("gagal", "failed"),
    "ob_oldest": ("Tertua belum terkirim", "Oldest unsent"),
    "ob_last_sent": ("Terakhir terkirim", "Last sent"),
    "ob_never": ("belum pernah", "never"),
    "ob_empty": ("Antrean kosong.", "The queue is empty."),
    "ob_reg": ("Nomor registrasi", "Registration number"),
    "ob_state": ("Status", "State"),
    "ob_age": ("Umur", "Age"),
    "ob_attempts": ("Percobaan", "Attempts"),
    "age_s": ("{n} detik", "{n} s"),
    "age_m": ("{n} menit", "{n} min"),
    "age_h": ("{n} jam", "{n} h"),
    "age_d": ("{n} hari", "{n} days"),
}


def lang() -> str:
    """The language of this request: ``?lang=``, the ``lang`` cookie, for the API (scripts) also
    ``Accept-Language``, else the kiosk's configured one.

    Pages ignore ``Accept-Language`` on purpose: the kiosk's browser sends its system locale, and
    the configured language must win over whatever the Pi's image was built with.
    """
    if has_request_context():
        for value in (request.args.get(COOKIE), request.cookies.get(COOKIE)):
            if value in LANGS:
                return value
        if request.path.startswith("/api/") and request.headers.get("Accept-Language"):
            best = request.accept_languages.best_match(LANGS)
            if best in LANGS:
                return best
    if has_app_context():
        kiosk = current_app.extensions.get("kiosk")
        configured = getattr(getattr(kiosk, "config", None), "language", None)
        if configured in LANGS:
            return configured
    return "id"


def t(key: str, language: str | None = None, **fmt) -> str:
    """The word for ``key`` in ``language`` (default: this request's); unknown keys show as themselves."""
    pair = WORDS.get(key)
    if pair is None:
        return key
    text = pair[1] if (language or lang()) == "en" else pair[0]
    return text.format(**fmt) if fmt else text


def words(language: str | None = None) -> dict[str, str]:
    """The whole dictionary in one language, for the page's JavaScript."""
    i = 1 if (language or lang()) == "en" else 0
    return {k: v[i] for k, v in WORDS.items()}


def register(app) -> None:
    """Expose ``t``, ``lang`` and ``words`` to every template."""

    @app.context_processor
    def _inject():
        return {"t": t, "lang": lang(), "words": words}
