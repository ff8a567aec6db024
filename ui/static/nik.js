/* NIK step: 16 digits on the keypad, decoded live (GET /api/v1/nik/...), then
 * POST /api/v1/enrollments. A NIK not in the imported register asks for the full biodata. */
(function () {
  "use strict";
  var K = window.Kiosk, t = K.t;
  var root = document.getElementById("nik-step");
  var display = document.getElementById("nik-display");
  var cells = display.querySelectorAll(".nik-cell");
  var count = document.getElementById("nik-count");
  var decoded = document.getElementById("nik-decoded");
  var messages = document.getElementById("nik-messages");
  var nextBtn = document.getElementById("nik-next");
  var form = document.getElementById("biodata-form");
  var formMessages = document.getElementById("biodata-messages");
  var draftPanel = document.getElementById("draft-panel");
  var village = root.dataset.village || "";
  var LEN = 16;
  var value = "";
  var info = null;          // the last decode of a complete NIK
  var mode = "nik";         // "nik" | "biodata" | "go" (created, already recorded: next goes on)
  var goTo = null;
  var seq = 0, timer = null;
  var messagesFrom = "decode";  // after "Lanjut", a late live decode must not wipe the answer

  var MONTHS = {
    id: ["Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober",
         "November", "Desember"],
    en: ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
         "November", "December"]
  };
  function formatDate(iso) {
    var p = (iso || "").split("-");
    if (p.length !== 3) { return iso || "—"; }
    return Number(p[2]) + " " + MONTHS[K.lang === "en" ? "en" : "id"][Number(p[1]) - 1] + " " + p[0];
  }

  function render() {
    for (var i = 0; i < LEN; i++) {
      cells[i].textContent = i < value.length ? value[i] : "·";
      cells[i].classList.toggle("filled", i < value.length);
      cells[i].classList.toggle("cursor", i === value.length);
    }
    count.textContent = t("nik_digits", { n: value.length });
  }

  function setField(name, text, state) {
    var dd = decoded.querySelector('[data-nik="' + name + '"]');
    dd.textContent = text || "—";
    dd.className = state || "";
  }

  // Complete groups of PP KK CC DDMMYY SSSS: decode what has been typed, pad the rest with a filler
  // that parses, and show only the parts actually typed.
  var BOUNDS = [2, 4, 6, 12, 16];
  var FILLER = "0001010101000001";
  function decode() {
    clearTimeout(timer);
    var n = value.length;
    var known = 0;
    BOUNDS.forEach(function (b) { if (n >= b) { known = b; } });
    if (known === 0) {
      ["province", "regency", "district", "birth_date", "sex"].forEach(function (f) { setField(f, ""); });
      info = null;
      if (n === 0) { K.clear(messages); }
      return;
    }
    var query = value.slice(0, known) + FILLER.slice(known);
    var mine = ++seq;
    timer = setTimeout(function () {
      K.api("GET", "/nik/" + encodeURIComponent(query)).then(function (d) {
        if (mine !== seq) { return; }
        var missing = "?";
        setField("province", known >= 2 ? (d.province ? d.province + " (" + d.province_code + ")" : missing) : "",
                 known >= 2 && !d.province ? "bad" : "");
        setField("regency", known >= 4 ? (d.regency ? d.regency + " (" + d.regency_code + ")" : missing) : "",
                 known >= 4 && !d.regency ? "bad" : "");
        setField("district", known >= 6 ? (d.district ? d.district + " (" + d.district_code + ")" : missing) : "",
                 known >= 6 && !d.district ? "bad" : "");
        setField("birth_date", known >= 12 ? (d.birth_date ? formatDate(d.birth_date) : missing) : "",
                 known >= 12 && !d.birth_date ? "bad" : "");
        setField("sex", known >= 12 ? (d.sex ? t("sex_" + d.sex) : missing) : "",
                 known >= 12 && !d.sex ? "bad" : "");
        if (n === LEN) { info = d; }
        if (messagesFrom !== "decode") { return; }
        if (n === LEN) {
          if (d.errors && d.errors.length) {
            K.showMessage(messages, "error", d.errors[0], d.errors.slice(1));
          } else if (d.warnings && d.warnings.length) {
            K.showMessage(messages, "warn", d.warnings[0], d.warnings.slice(1));
          } else {
            K.showMessage(messages, "ok", "✓ " + t("nik_valid"));
          }
        } else {
          K.clear(messages);
        }
      }).catch(function (err) {
        if (mine === seq && messagesFrom === "decode") { K.showError(messages, err); }
      });
    }, 120);
  }

  function key(k) {
    if (mode !== "nik") { return; }
    var before = value;
    value = window.Keypad.apply(value, k, LEN);
    if (value !== before) {
      messagesFrom = "decode";
      if (value.length < LEN) { info = null; }
      draftPanel.hidden = true;
      render();
      decode();
    }
  }
  window.Keypad(document.getElementById("keypad"), key);
  document.addEventListener("keydown", function (ev) {
    var tag = (ev.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "select" || tag === "textarea") { return; }
    if (/^[0-9]$/.test(ev.key)) { key(ev.key); ev.preventDefault(); }
    else if (ev.key === "Backspace") { key("del"); ev.preventDefault(); }
    else if (ev.key === "Escape") { key("clear"); }
    else if (ev.key === "Enter") { nextBtn.click(); ev.preventDefault(); }
  });

  function fieldValues() {
    var out = {};
    form.querySelectorAll("[name]").forEach(function (f) { out[f.name] = f.value.trim(); });
    return out;
  }

  function markProblems(data) {
    form.querySelectorAll(".field.invalid").forEach(function (f) { f.classList.remove("invalid"); });
    (data.problems || []).forEach(function (p) {
      var m = /^(?:bad|missing)_(.+)$/.exec(p.code || "");
      var name = m ? m[1] : (p.code === "nik_birth_date_mismatch" ? "birth_date" : p.code === "nik_sex_mismatch" ? "sex" : "");
      var f = name && form.querySelector('[data-field="' + name + '"]');
      if (f) { f.classList.add("invalid"); }
    });
  }

  function showBiodataForm(err) {
    mode = "biodata";
    form.hidden = false;
    root.classList.add("with-form");
    document.getElementById("biodata-why").textContent = err.message;
    var set = function (name, v) {
      var f = form.querySelector('[name="' + name + '"]');
      if (f && !f.value && v) { f.value = v; }
    };
    var prefill = function (d) {
      set("birth_date", d.birth_date);
      set("sex", d.sex);
      set("district", d.district);
    };
    if (info && info.nik === value) {
      prefill(info);
    } else {  // typed faster than the live decode: decode now
      K.api("GET", "/nik/" + encodeURIComponent(value)).then(function (d) { info = d; prefill(d); })
        .catch(function () { /* the operator fills them in */ });
    }
    set("village", village);
    var first = form.querySelector('[name="name"]');
    form.scrollIntoView({ block: "start" });
    if (first) { first.focus(); }
  }

  function showDraft(id, message) {
    if (mode === "biodata") {  // the form is not needed: the draft has its biodata
      mode = "nik";
      form.hidden = true;
      root.classList.remove("with-form");
    }
    draftPanel.hidden = false;
    document.getElementById("draft-message").textContent = message;
    document.getElementById("draft-resume").href = "/enroll/" + encodeURIComponent(id);
    draftPanel.scrollIntoView({ block: "nearest" });
  }

  function create() {
    var body = { nik: value, session_village: village };
    if (mode === "biodata") {
      var v = fieldValues();
      Object.keys(v).forEach(function (k) { body[k] = v[k]; });
    }
    var area = mode === "biodata" ? formMessages : messages;
    messagesFrom = "create";
    K.clear(messages); K.clear(formMessages);
    K.busy(nextBtn, true, t("creating"));
    K.api("POST", "/enrollments", body).then(function (e) {
      K.busy(nextBtn, false);
      var url = "/enroll/" + encodeURIComponent(e.id) + "/biodata";
      if (e.already_recorded) {
        mode = "go"; goTo = url;
        K.showMessage(area, "warn", "⚠ " + t("already_recorded"));
        return;
      }
      location.href = url;
    }).catch(function (err) {
      K.busy(nextBtn, false);
      if (err.code === "not_in_register") {
        // Before asking for the whole biodata: is there an open draft for this NIK already?
        K.api("GET", "/enrollments").then(function (r) {
          var draft = (r.drafts || []).filter(function (d) { return d.nik === value; })[0];
          if (draft) { showDraft(draft.id, t("draft_exists")); } else { showBiodataForm(err); }
        }).catch(function () { showBiodataForm(err); });
        return;
      }
      if (err.code === "draft_exists" && (err.data.id || err.data.draft_id)) {
        showDraft(err.data.id || err.data.draft_id, err.message);
        return;
      }
      if (mode === "biodata") { markProblems(err.data); }
      K.showError(area, err);
      area.scrollIntoView({ block: "nearest" });
    });
  }

  nextBtn.addEventListener("click", function () {
    if (mode === "go" && goTo) { location.href = goTo; return; }
    create();
  });
  document.getElementById("nik-change").addEventListener("click", function () {
    mode = "nik";
    form.hidden = true;
    root.classList.remove("with-form");
    K.clear(formMessages);
    window.scrollTo(0, 0);
    document.getElementById("main").scrollTop = 0;
  });
  form.addEventListener("submit", function (ev) { ev.preventDefault(); create(); });

  render();
})();
