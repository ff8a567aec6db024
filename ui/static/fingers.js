/* Ten fingers: the hand picture shows each finger's state (colour AND symbol/number), the current
 * finger is highlighted and named in the prompt. "Pindai" → POST /api/v1/enrollments/<id>/fingers/<pos>
 * (waits up to ~10 s for a finger: spinner, button disabled); accepted → next missing finger;
 * rejected → retry; an exception with a reason when a finger cannot be scanned. */
(function () {
  "use strict";
  var K = window.Kiosk, t = K.t;
  var root = document.getElementById("fingers-step");
  var eid = root.dataset.eid;
  var data = JSON.parse(document.getElementById("fingers-data").textContent);
  var fingers = {};
  data.fingers.forEach(function (f) { fingers[f.position] = f; });
  var svg = document.getElementById("hands");
  var prompt = document.getElementById("finger-prompt");
  var attemptsLine = document.getElementById("finger-attempts");
  var area = document.getElementById("finger-messages");
  var progress = document.getElementById("finger-progress");
  var panel = document.getElementById("exception-panel");
  var exToggle = document.getElementById("exception-toggle");
  var scan = document.getElementById("finger-scan");
  var next = document.getElementById("fingers-next");
  var SYMBOL = { captured: "✓", rejected: "✗", exception: "⊘", missing: "○" };
  var current = null, working = false;
  var scanLabel = scan.innerHTML;

  function done(f) { return f.state === "captured" || f.state === "exception"; }
  function firstMissing(after) {
    var order = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    if (after) { order = order.slice(after).concat(order.slice(0, after)); }
    for (var i = 0; i < order.length; i++) { if (!done(fingers[order[i]])) { return order[i]; } }
    return null;
  }
  function allDone() { return firstMissing() === null; }

  function renderFinger(f) {
    var g = svg.querySelector('.finger[data-pos="' + f.position + '"]');
    g.setAttribute("class", "finger fs-" + f.state + (f.position === current ? " current" : ""));
    g.querySelector(".f-sym").textContent = SYMBOL[f.state] || "○";
    g.querySelector(".f-q").textContent =
      (f.state === "captured" || f.state === "rejected") && f.quality !== null && f.quality !== undefined ? String(f.quality) : "";
    g.setAttribute("aria-label", f.position + " " + f.name + ": " + t("fs_" + f.state) +
      (f.position === current ? " (" + t("step_current_mark") + ")" : ""));
    if (f.position === current) { g.setAttribute("aria-current", "true"); } else { g.removeAttribute("aria-current"); }
  }

  function render() {
    Object.keys(fingers).forEach(function (p) { renderFinger(fingers[p]); });
    var complete = allDone();
    if (current) {
      var f = fingers[current];
      prompt.textContent = t("finger_place", { finger: f.name });
      attemptsLine.textContent = f.attempts ? t("finger_attempts") + ": " + f.attempts +
        (f.state === "captured" ? " · " + t("fs_captured") + " (" + t("quality") + " " + f.quality + ")" :
         f.state === "exception" ? " · " + t("fs_exception") : "") : "";
    } else {
      prompt.textContent = "✓ " + t("finger_all_done");
      attemptsLine.textContent = "";
    }
    if (!working) {
      scan.innerHTML = current && fingers[current].state === "rejected" ? "↻ " + t("retry") : scanLabel;
    }
    scan.hidden = complete && !current;
    next.hidden = !(complete && !current);
    scan.disabled = working || !current;
    exToggle.disabled = working || !current;
    renderApprovals();
  }

  // Exceptions waiting for a supervisor's approval: named in the panel, approved in the dialog.
  var approvalPanel = document.getElementById("approval-panel");
  var approvalList = document.getElementById("approval-list");
  function pendingApprovals() {
    return Object.keys(fingers).map(Number).filter(function (p) {
      return fingers[p].state === "exception" && fingers[p].exception_pending;
    });
  }
  function renderApprovals() {
    var pending = pendingApprovals();
    approvalPanel.hidden = !pending.length;
    approvalList.textContent = pending.map(function (p) {
      return fingers[p].name + " (" + t("ex_" + fingers[p].exception) + ")";
    }).join(", ");
  }

  function select(pos) {
    if (working) { return; }
    current = pos;
    panel.hidden = true;
    exToggle.setAttribute("aria-expanded", "false");
    K.clear(area);
    render();
  }
  svg.addEventListener("click", function (ev) {
    var g = ev.target.closest && ev.target.closest(".finger");
    if (g) { select(Number(g.dataset.pos)); }
  });
  svg.addEventListener("keydown", function (ev) {
    var g = ev.target.closest && ev.target.closest(".finger");
    if (g && (ev.key === "Enter" || ev.key === " ")) { ev.preventDefault(); select(Number(g.dataset.pos)); }
  });

  // While the scanner works, say which phase it is in (waiting, imaging, uploading n%), from the
  // driver's progress; the capture request itself is still pending on another connection.
  var phaseText = document.getElementById("finger-phase");
  var phaseTimer = null;
  function pollPhase() {
    K.api("GET", "/fingerprint/progress", null, { noAuthRedirect: true }).then(function (p) {
      if (!working) { return; }
      if (p.phase === "uploading" && p.total) {
        phaseText.textContent = t("finger_phase_uploading") + " " + Math.round(100 * p.fraction) + "%";
      } else if (p.phase === "imaging") {
        phaseText.textContent = t("finger_phase_imaging");
      } else {
        phaseText.textContent = t("finger_scanning");
      }
    }).catch(function () { /* the capture's own answer reports any fault */ });
  }

  function setWorking(on) {
    working = on;
    progress.hidden = !on;
    if (on) {
      phaseText.textContent = t("finger_scanning");
      phaseTimer = setInterval(pollPhase, 300);
    } else if (phaseTimer) {
      clearInterval(phaseTimer);
      phaseTimer = null;
    }
    K.busy(scan, on, t("finger_scanning_short"));
    document.dispatchEvent(new CustomEvent("kiosk:busy", { detail: on }));
    render();
  }

  function advance(from) {
    var n = firstMissing(from);
    current = n;
    render();
  }

  function capture() {
    if (!current || working) { return; }
    var pos = current;
    K.clear(area);
    panel.hidden = true;
    setWorking(true);
    K.api("POST", "/enrollments/" + encodeURIComponent(eid) + "/fingers/" + pos, { no_finger_status: 422 }).then(function (r) {
      setWorking(false);
      var f = fingers[pos];
      f.attempts = r.attempts;
      if (r.accepted) {
        f.state = "captured";
        f.quality = r.quality;
        K.showMessage(area, "ok", "✓ " + t("finger_accepted") + " (" + t("quality") + " " + r.quality + ") — " +
          f.name + ". " + t("finger_lift") + ".");
        advance(pos);
      } else {
        if (f.state !== "captured") { f.state = "rejected"; f.quality = r.quality; }
        var lines = (r.reasons || []).map(K.reasonText);
        if (r.exception_allowed) { lines.push(t("finger_exception_offer")); }
        K.showMessage(area, "error", "✗ " + t("finger_low") + " (" + t("quality") + " " + r.quality + ")", lines);
        if (r.exception_allowed) { openPanel(); }
        render();
      }
    }).catch(function (err) {
      setWorking(false);
      if (err.code === "no_finger") {
        K.showMessage(area, "warn", t("finger_no_finger"));
      } else {
        K.showError(area, err);
      }
    });
  }
  scan.addEventListener("click", capture);

  function openPanel() {
    panel.hidden = false;
    exToggle.setAttribute("aria-expanded", "true");
    panel.scrollIntoView({ block: "nearest" });
  }
  exToggle.addEventListener("click", function () {
    if (panel.hidden) { openPanel(); } else { panel.hidden = true; exToggle.setAttribute("aria-expanded", "false"); }
  });
  panel.addEventListener("click", function (ev) {
    var b = ev.target.closest("[data-exception]");
    if (!b || !current || working) { return; }
    var pos = current, reason = b.dataset.exception;
    K.busy(b, true);
    K.api("POST", "/enrollments/" + encodeURIComponent(eid) + "/fingers/" + pos + "/exception", { reason: reason }).then(function () {
      K.busy(b, false);
      var f = fingers[pos];
      f.state = "exception";
      f.exception = reason;
      f.exception_pending = true;
      panel.hidden = true;
      K.showMessage(area, "info", "⊘ " + t("finger_exception_done") + ": " + f.name + " — " + t("ex_" + reason));
      advance(pos);
      approvalPanel.scrollIntoView({ block: "nearest" });
    }).catch(function (err) {
      K.busy(b, false);
      K.showError(area, err);
    });
  });

  // Simulation (training): whose finger is on the simulated sensor.
  var simApply = document.getElementById("sim-apply");
  if (simApply) {
    var simState = document.getElementById("sim-state");
    var sim = function (body, label) {
      K.api("POST", "/sim/finger", body).then(function () { simState.textContent = label; })
        .catch(function (err) { K.showError(area, err); });
    };
    var subject = function () { return parseInt(document.getElementById("sim-subject").value, 10); };
    simApply.addEventListener("click", function () {
      var s = subject();
      if (isNaN(s) || s < 0) { return; }
      sim({ subject: s, present: true }, t("sim_applied", { subject: s }));
    });
    document.getElementById("sim-low").addEventListener("click", function () {
      var s = subject();
      sim({ subject: isNaN(s) ? 1 : s, present: true, quality: 0.1 }, t("sim_low_quality"));
    });
    document.getElementById("sim-none").addEventListener("click", function () {
      sim({ present: false }, t("sim_no_finger"));
    });
  }

  // The approval dialog: supervisor id + PIN on the on-screen keypad; approves every pending exception.
  var dialog = document.getElementById("approval-dialog");
  var apSupervisor = document.getElementById("ap-supervisor");
  var apPin = document.getElementById("ap-pin");
  var apArea = document.getElementById("approval-messages");
  var apSubmit = document.getElementById("approval-submit");
  var me = (window.KIOSK || {}).operator;
  var typing = apPin;
  apSupervisor.addEventListener("focus", function () { typing = apSupervisor; });
  apPin.addEventListener("focus", function () { typing = apPin; });
  window.Keypad(document.getElementById("approval-keypad"), function (key) {
    typing.value = window.Keypad.apply(typing.value, key, typing === apPin ? 12 : 32);
  });
  document.getElementById("approval-open").addEventListener("click", function () {
    K.clear(apArea);
    apPin.value = "";
    if (!apSupervisor.value && me && me.role === "supervisor") { apSupervisor.value = me.id; }
    document.getElementById("approval-what").textContent = approvalList.textContent + ". " + t("approval_enter");
    if (dialog.showModal) { dialog.showModal(); } else { dialog.setAttribute("open", ""); }
    (apSupervisor.value ? apPin : apSupervisor).focus();
  });
  function closeDialog() { if (dialog.close) { dialog.close(); } else { dialog.removeAttribute("open"); } }
  document.getElementById("approval-cancel").addEventListener("click", closeDialog);
  document.getElementById("approval-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var who = apSupervisor.value.trim(), pin = apPin.value;
    if (!who || !pin) { K.showMessage(apArea, "error", t("approval_enter")); return; }
    var pending = pendingApprovals();
    K.busy(apSubmit, true);
    // One after the other: a wrong PIN stops at the first and counts once towards the lock-out.
    var chain = Promise.resolve();
    pending.forEach(function (pos) {
      chain = chain.then(function () {
        return K.api("POST", "/enrollments/" + encodeURIComponent(eid) + "/fingers/" + pos + "/exception/approve",
          { supervisor: who, pin: pin }, { noAuthRedirect: true }).then(function (r) {
          fingers[pos].exception_pending = false;
          fingers[pos].exception_approved_by = r.approved_by;
        });
      });
    });
    chain.then(function () {
      K.busy(apSubmit, false);
      apPin.value = "";
      closeDialog();
      K.showMessage(area, "ok", "✓ " + t("approval_done") + " " + who + ".");
      render();
    }).catch(function (err) {
      K.busy(apSubmit, false);
      apPin.value = "";
      K.showError(apArea, err);
      render();
    });
  });

  current = firstMissing();
  render();
})();
