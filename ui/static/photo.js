/* Photo step: a live preview refreshed from GET /api/v1/camera/preview.jpg about every 400 ms
 * (paused while the page is hidden), "Ambil foto" → POST /api/v1/enrollments/<id>/photo,
 * the verdict with its reasons, and the stored portrait when accepted. */
(function () {
  "use strict";
  var K = window.Kiosk, t = K.t;
  var root = document.getElementById("photo-step");
  var eid = root.dataset.eid;
  var preview = document.getElementById("preview");
  var previewNote = document.getElementById("preview-note");
  var storedWrap = document.getElementById("stored-wrap");
  var stored = document.getElementById("stored");
  var storedNote = document.getElementById("stored-note");
  var area = document.getElementById("photo-messages");
  var take = document.getElementById("photo-take");
  var retake = document.getElementById("photo-take-secondary");
  var next = document.getElementById("photo-next");
  var INTERVAL = 400;
  var timer = null, failures = 0, capturing = false;

  function schedule(ms) {
    clearTimeout(timer);
    if (document.hidden) { return; }
    timer = setTimeout(refresh, ms);
  }
  function refresh() {
    if (document.hidden) { return; }
    if (capturing) { schedule(INTERVAL); return; }
    preview.src = "/api/v1/camera/preview.jpg?t=" + Date.now();
  }
  preview.addEventListener("load", function () {
    failures = 0;
    previewNote.hidden = true;
    preview.classList.remove("unavailable");
    schedule(INTERVAL);
  });
  preview.addEventListener("error", function () {
    failures += 1;
    if (failures >= 2) { previewNote.hidden = false; preview.classList.add("unavailable"); }
    schedule(Math.min(5000, 1000 * failures));  // back off while the camera is away
  });
  document.addEventListener("visibilitychange", function () {
    if (document.hidden) { clearTimeout(timer); } else { refresh(); }
  });
  window.addEventListener("pagehide", function () { clearTimeout(timer); });
  refresh();

  function accepted(on, quality) {
    take.hidden = on;
    retake.hidden = !on;
    next.hidden = !on;
    if (on) {
      storedWrap.hidden = false;
      stored.src = "/api/v1/enrollments/" + encodeURIComponent(eid) + "/photo.jpg?t=" + Date.now();
      storedNote.textContent = "✓ " + t("photo_accepted") + (quality !== undefined && quality !== null ? " · " + t("quality") + " " + quality : "");
    }
  }
  if (root.dataset.hasPhoto) {
    take.hidden = true; retake.hidden = false; next.hidden = false;  // resumed: the stored photo is shown
  }

  function capture(button) {
    capturing = true;
    K.clear(area);
    K.busy(button, true, t("photo_taking"));
    K.api("POST", "/enrollments/" + encodeURIComponent(eid) + "/photo", {}).then(function (r) {
      K.busy(button, false);
      if (r.accepted) {
        accepted(true, r.quality);
        next.focus();
      } else {
        var lines = (r.reasons || []).map(K.reasonText);
        K.showMessage(area, "error", "✗ " + t("photo_rejected") +
          (r.quality !== undefined && r.quality !== null ? " (" + t("quality") + " " + r.quality + ")" : ""), lines);
        if (!root.dataset.hasPhoto && storedWrap.hidden) { take.innerHTML = "↻ " + t("photo_retake"); }
      }
    }).catch(function (err) {
      K.busy(button, false);
      K.showError(area, err);
    }).then(function () { capturing = false; });
  }
  take.addEventListener("click", function () { capture(take); });
  retake.addEventListener("click", function () { capture(retake); });

  // Simulation (training): what the simulated camera sees.
  var simApply = document.getElementById("sim-apply");
  if (simApply) {
    var simState = document.getElementById("sim-state");
    var send = function (body, label) {
      K.api("POST", "/sim/face", body).then(function () {
        simState.textContent = label;
      }).catch(function (err) { K.showError(area, err); });
    };
    simApply.addEventListener("click", function () {
      var subject = parseInt(document.getElementById("sim-subject").value, 10);
      if (isNaN(subject) || subject < 0) { return; }
      send({ subject: subject }, t("sim_applied", { subject: subject }));
    });
    document.getElementById("sim-none").addEventListener("click", function () {
      send({ none: true }, t("sim_no_face"));
    });
  }
})();
