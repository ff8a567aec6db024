/* Index-finger verification: the right then the left index finger is placed again and matched 1:1
 * with its first capture. "Verifikasi" → POST /api/v1/enrollments/<id>/verify/<pos> → {matched, score};
 * matched → the next finger; not matched → try again (after several failures: capture it again). */
(function () {
  "use strict";
  var K = window.Kiosk, t = K.t;
  var root = document.getElementById("verify-step");
  var eid = root.dataset.eid;
  var data = JSON.parse(document.getElementById("verify-data").textContent);
  var svg = document.getElementById("hands");
  var prompt = document.getElementById("verify-prompt");
  var area = document.getElementById("verify-messages");
  var progress = document.getElementById("verify-progress");
  var scan = document.getElementById("verify-scan");
  var next = document.getElementById("verify-next");
  var scanLabel = scan.innerHTML;
  var state = {};   // pos -> "matched" | "failed" | "todo" | "skip"
  var current = null, working = false;

  data.positions.forEach(function (pos) {
    var f = data.fingers[String(pos)];
    if (f.state !== "captured") { state[pos] = "skip"; }
    else { state[pos] = f.verify && f.verify.matched ? "matched" : "todo"; }
  });

  function firstTodo() {
    for (var i = 0; i < data.positions.length; i++) {
      var p = data.positions[i];
      if (state[p] === "todo" || state[p] === "failed") { return p; }
    }
    return null;
  }

  function render() {
    data.positions.forEach(function (pos) {
      var li = document.querySelector('#verify-list li[data-pos="' + pos + '"]');
      var f = data.fingers[String(pos)];
      var s = state[pos];
      li.className = "v-" + s + (pos === current ? " current" : "");
      li.querySelector(".vsym").textContent = { matched: "✓", failed: "✗", skip: "⊘", todo: "○" }[s];
      var score = f.verify && f.verify.score !== null && f.verify.score !== undefined ?
        " (" + t("verify_score") + " " + f.verify.score + ")" : "";
      li.querySelector(".vstate").textContent =
        s === "matched" ? t("verify_matched") + score :
        s === "failed" ? t("verify_not_matched") + score :
        s === "skip" ? (f.state === "exception" ? t("fs_exception") : t("verify_not_captured")) : t("fs_missing");
    });
    svg.querySelectorAll(".finger").forEach(function (g) {
      var on = Number(g.dataset.pos) === current;
      g.classList.toggle("current", on);
      if (on) { g.setAttribute("aria-current", "true"); } else { g.removeAttribute("aria-current"); }
    });
    var done = current === null;
    var any = data.positions.some(function (p) { return state[p] !== "skip"; });
    prompt.textContent = done ? "✓ " + t(any ? "verify_all_done" : "verify_none") :
      t("verify_place", { finger: data.names[String(current)] });
    if (!working) {
      scan.innerHTML = current && state[current] === "failed" ? "↻ " + t("retry") : scanLabel;
    }
    scan.hidden = done;
    next.hidden = !done;
    scan.disabled = working || done;
  }

  function setWorking(on) {
    working = on;
    progress.hidden = !on;
    K.busy(scan, on, t("finger_scanning_short"));
    document.dispatchEvent(new CustomEvent("kiosk:busy", { detail: on }));
    render();
  }

  scan.addEventListener("click", function () {
    if (!current || working) { return; }
    var pos = current, f = data.fingers[String(pos)];
    K.clear(area);
    setWorking(true);
    K.api("POST", "/enrollments/" + encodeURIComponent(eid) + "/verify/" + pos, { no_finger_status: 422 }).then(function (r) {
      f.verify = { matched: r.verified, score: r.score };
      state[pos] = r.verified ? "matched" : "failed";
      if (r.matched) {
        K.showMessage(area, "ok", "✓ " + t("verify_matched") + ": " + data.names[String(pos)] +
          " (" + t("verify_score") + " " + r.score + "). " + t("finger_lift") + ".");
        current = firstTodo();
      } else {
        var lines = (r.reasons || []).map(K.reasonText);
        lines.push(r.recapture_suggested ? t("verify_recapture") : t("verify_not_matched_hint"));
        K.showMessage(area, "error", "✗ " + t("verify_not_matched") + ": " + data.names[String(pos)] +
          " (" + t("verify_score") + " " + r.score + ")", lines);
      }
      setWorking(false);
    }).catch(function (err) {
      setWorking(false);
      if (err.code === "no_finger") { K.showMessage(area, "warn", t("finger_no_finger")); }
      else { K.showError(area, err); }
    });
  });

  // Simulation (training): whose finger is on the simulated sensor — another person's does not match.
  var simApply = document.getElementById("sim-apply");
  if (simApply) {
    var simState = document.getElementById("sim-state");
    var sim = function (body, label) {
      K.api("POST", "/sim/finger", body).then(function () { simState.textContent = label; })
        .catch(function (err) { K.showError(area, err); });
    };
    simApply.addEventListener("click", function () {
      var s = parseInt(document.getElementById("sim-subject").value, 10);
      if (isNaN(s) || s < 0) { return; }
      sim({ subject: s, present: true }, t("sim_applied", { subject: s }));
    });
    document.getElementById("sim-none").addEventListener("click", function () {
      sim({ present: false }, t("sim_no_finger"));
    });
  }

  current = firstTodo();
  render();
})();
