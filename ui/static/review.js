/* Review: "Simpan" → POST /api/v1/enrollments/<id>/commit. 409 incomplete lists what is missing
 * with links to the steps; 409 already_recorded asks for a supervisor's approval. */
(function () {
  "use strict";
  var K = window.Kiosk, t = K.t;
  var root = document.getElementById("review-step");
  var eid = root.dataset.eid;
  var links = JSON.parse(document.getElementById("step-links").textContent);
  var area = document.getElementById("review-messages");
  var missingList = document.getElementById("missing-list");
  var save = document.getElementById("review-save");
  var form = document.getElementById("override-form");
  var formSubmit = document.getElementById("override-submit");
  var SUSPECTS = "kiosk.suspects." + eid;

  function missingItem(code) {
    var step, label;
    if (code.indexOf("finger:") === 0) {
      step = "fingers";
      label = t("step_fingers") + ": " + (links.names[code.slice(7)] || code);
    } else if (code.indexOf("approval:") === 0) {
      step = "fingers";
      label = t("missing_approval") + ": " + (links.names[code.slice(9)] || code);
    } else if (code.indexOf("verify:") === 0) {
      step = "verify";
      label = t("missing_verify") + ": " + (links.names[code.slice(7)] || code);
    } else {
      step = code;
      label = t("missing_" + code);
    }
    var li = K.el("li", {}, [K.el("span", { text: "✗ " + label + " " })]);
    if (links[step]) { li.appendChild(K.el("a", { "class": "btn btn-small", href: links[step], text: t("review_go") + " →" })); }
    return li;
  }

  function commit(body, button) {
    K.clear(area);
    missingList.hidden = true;
    K.busy(button, true, t("review_saving"));
    var opts = body.override ? { noAuthRedirect: true } : {};
    return K.api("POST", "/enrollments/" + encodeURIComponent(eid) + "/commit", body, opts).then(function (r) {
      try {
        if (r.duplicate_suspects && r.duplicate_suspects.length) {
          sessionStorage.setItem(SUSPECTS, JSON.stringify(r.duplicate_suspects));
        }
      } catch (e) { /* ignore */ }
      location.href = root.dataset.done;
    }).catch(function (err) {
      K.busy(button, false);
      if (err.code === "incomplete") {
        K.showMessage(area, "error", t("review_incomplete"));
        missingList.textContent = "";
        (err.data.missing || []).forEach(function (m) { missingList.appendChild(missingItem(m)); });
        missingList.hidden = false;
        return;
      }
      if (err.code === "already_recorded") {
        K.showMessage(area, "warn", "⚠ " + err.message);
        form.hidden = false;
        form.scrollIntoView({ block: "nearest" });
        document.getElementById("ov-supervisor").focus();
        return;
      }
      K.showError(area, err);
      area.scrollIntoView({ block: "nearest" });
    });
  }

  save.addEventListener("click", function () {
    if (!form.hidden) { form.requestSubmit ? form.requestSubmit() : formSubmit.click(); return; }
    commit({}, save);
  });
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    commit({ override: {
      supervisor: document.getElementById("ov-supervisor").value.trim(),
      pin: document.getElementById("ov-pin").value,
      reason: document.getElementById("ov-reason").value.trim()
    } }, formSubmit).then(function () { document.getElementById("ov-pin").value = ""; });
  });
})();
