/* Biodata check: read-only until "Koreksi"; then changed fields, a reason (and a document for the
 * locked fields) go to POST /api/v1/enrollments/<id>/biodata. */
(function () {
  "use strict";
  var K = window.Kiosk, t = K.t;
  var form = document.getElementById("biodata-check");
  var eid = form.dataset.eid;
  var toggle = document.getElementById("correct-toggle");
  var extra = document.getElementById("correction-extra");
  var area = document.getElementById("biodata-messages");
  var ok = document.getElementById("biodata-ok");
  var editing = false;
  var fields = Array.prototype.slice.call(form.querySelectorAll("[data-original]"));

  function setEditing(on) {
    editing = on;
    fields.forEach(function (f) {
      if (f.tagName === "SELECT") { f.disabled = !on; } else { f.readOnly = !on; }
      if (!on) { f.value = f.dataset.original; }
    });
    form.querySelector(".fields").classList.toggle("fields-readonly", !on);
    extra.hidden = !on;
    toggle.setAttribute("aria-pressed", String(on));
    toggle.textContent = (on ? "✕ " : "✎ ") + (on ? toggle.dataset.on : toggle.dataset.off);
    if (!on) {
      form.querySelectorAll(".field.changed, .field.invalid").forEach(function (f) { f.classList.remove("changed", "invalid"); });
      K.clear(area);
    }
  }
  toggle.addEventListener("click", function () { setEditing(!editing); });
  fields.forEach(function (f) {
    f.addEventListener("input", function () {
      f.closest(".field").classList.toggle("changed", f.value !== f.dataset.original);
    });
    f.addEventListener("change", function () {
      f.closest(".field").classList.toggle("changed", f.value !== f.dataset.original);
    });
  });

  function changes() {
    var out = {};
    fields.forEach(function (f) { if (f.value.trim() !== f.dataset.original) { out[f.name] = f.value.trim(); } });
    return out;
  }

  function submit() {
    var body = { changes: editing ? changes() : {} };
    if (editing) {
      body.reason = document.getElementById("c-reason").value.trim();
      body.document = document.getElementById("c-document").value.trim();
    }
    K.clear(area);
    K.busy(ok, true);
    K.api("POST", "/enrollments/" + encodeURIComponent(eid) + "/biodata", body).then(function () {
      location.href = "/enroll/" + encodeURIComponent(eid) + "/photo";
    }).catch(function (err) {
      K.busy(ok, false);
      (err.data.problems || []).forEach(function (p) {
        var m = /^(?:bad|missing)_(.+)$/.exec(p.code || "");
        var f = m && form.querySelector('[data-field="' + m[1] + '"]');
        if (f) { f.classList.add("invalid"); }
      });
      (err.data.fields || []).forEach(function (name) {
        var f = form.querySelector('[data-field="' + name + '"]');
        if (f) { f.classList.add("invalid"); }
      });
      if (err.code === "reason_required") { document.getElementById("c-reason").focus(); }
      if (err.code === "document_required") { document.getElementById("c-document").focus(); }
      K.showError(area, err);
      area.scrollIntoView({ block: "nearest" });
    });
  }
  ok.addEventListener("click", submit);
  form.addEventListener("submit", function (ev) { ev.preventDefault(); submit(); });
})();
