/* Signature pad: pointer events (finger, stylus or mouse), "Hapus" clears, "Simpan" posts the
 * canvas as image/png to POST /api/v1/enrollments/<id>/signature and moves on when accepted. */
(function () {
  "use strict";
  var K = window.Kiosk, t = K.t;
  var root = document.getElementById("signature-step");
  var eid = root.dataset.eid;
  var canvas = document.getElementById("signature-pad");
  var ctx = canvas.getContext("2d");
  var area = document.getElementById("signature-messages");
  var save = document.getElementById("signature-save");
  var inked = false, drawing = false, last = null;

  function reset() {
    var w = Math.max(1, Math.round(canvas.clientWidth));
    var h = Math.max(1, Math.round(canvas.clientHeight));
    if (canvas.width !== w) { canvas.width = w; }
    if (canvas.height !== h) { canvas.height = h; }
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.strokeStyle = "#000000";
    ctx.lineWidth = 3;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    inked = false;
    root.classList.remove("inked");
  }
  reset();
  window.addEventListener("resize", function () { if (!inked) { reset(); } });

  function point(ev) {
    var r = canvas.getBoundingClientRect();
    return { x: (ev.clientX - r.left) * canvas.width / r.width, y: (ev.clientY - r.top) * canvas.height / r.height };
  }
  function line(a, b) {
    ctx.beginPath();
    ctx.moveTo(a.x, a.y);
    ctx.lineTo(b.x, b.y);
    ctx.stroke();
  }
  canvas.addEventListener("pointerdown", function (ev) {
    ev.preventDefault();
    drawing = true;
    try { canvas.setPointerCapture(ev.pointerId); } catch (e) { /* ignore */ }
    last = point(ev);
    line(last, { x: last.x + 0.1, y: last.y + 0.1 });  // a dot is ink too
    inked = true;
    root.classList.add("inked");
    K.clear(area);
  });
  canvas.addEventListener("pointermove", function (ev) {
    if (!drawing) { return; }
    ev.preventDefault();
    var events = ev.getCoalescedEvents ? ev.getCoalescedEvents() : [ev];
    if (!events.length) { events = [ev]; }
    events.forEach(function (e) {
      var p = point(e);
      line(last, p);
      last = p;
    });
  });
  function end() { drawing = false; last = null; }
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  canvas.addEventListener("lostpointercapture", end);

  document.getElementById("signature-clear").addEventListener("click", function () { reset(); K.clear(area); });

  save.addEventListener("click", function () {
    K.clear(area);
    if (!inked) { K.showMessage(area, "error", t("signature_empty")); return; }
    K.busy(save, true, t("signature_saving"));
    canvas.toBlob(function (blob) {
      K.api("POST", "/enrollments/" + encodeURIComponent(eid) + "/signature", blob).then(function (r) {
        if (r.accepted) {
          K.showMessage(area, "ok", "✓ " + t("signature_accepted"));
          setTimeout(function () { location.href = root.dataset.next; }, 500);
        } else {
          K.busy(save, false);
          K.showMessage(area, "error", "✗ " + t("signature_rejected"), (r.reasons || []).map(K.reasonText));
        }
      }).catch(function (err) {
        K.busy(save, false);
        K.showError(area, err);
      });
    }, "image/png");
  });
})();
