/* Supervisor's duplicate review: each flagged record gets a decision with a reason
 * → POST /api/v1/review/<enrollment id> {decision, reason}. */
(function () {
  "use strict";
  var K = window.Kiosk, t = K.t;
  var list = document.getElementById("review-queue");
  if (!list) { return; }
  list.addEventListener("click", function (ev) {
    var b = ev.target.closest("[data-decision]");
    if (!b) { return; }
    var item = b.closest(".review-item");
    var area = item.querySelector(".item-messages");
    var reason = item.querySelector(".review-reason").value.trim();
    K.busy(b, true);
    K.api("POST", "/review/" + encodeURIComponent(item.dataset.eid), { decision: b.dataset.decision, reason: reason })
      .then(function (r) {
        K.busy(b, false);
        item.querySelectorAll("button, input").forEach(function (x) { x.disabled = true; });
        item.classList.add("decided");
        K.showMessage(area, "ok", "✓ " + t("review_decided") + ": " + t("review_" + r.decision));
      }).catch(function (err) {
        K.busy(b, false);
        K.showError(area, err);
      });
  });
})();
