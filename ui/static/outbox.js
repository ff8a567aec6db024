/* Send queue: refresh the counts from GET /api/v1/outbox every 10 s while the page is visible. */
(function () {
  "use strict";
  var K = window.Kiosk, t = K.t;
  function age(seconds) {
    if (seconds === null || seconds === undefined) { return t("ob_never"); }
    var s = Math.max(0, Math.floor(seconds));
    if (s < 120) { return t("age_s", { n: s }); }
    if (s < 7200) { return t("age_m", { n: Math.floor(s / 60) }); }
    if (s < 172800) { return t("age_h", { n: Math.floor(s / 3600) }); }
    return t("age_d", { n: Math.floor(s / 86400) });
  }
  function refresh() {
    if (document.hidden) { return; }
    K.api("GET", "/outbox").then(function (c) {
      ["queued", "sending", "sent", "failed"].forEach(function (s) {
        var n = document.querySelector('[data-count="' + s + '"]');
        if (n) { n.textContent = c[s] || 0; }
      });
      document.getElementById("ob-oldest").textContent = age(c.oldest_unsent_age_seconds);
      document.getElementById("ob-last").textContent = c.last_sent_at ? age(Date.now() / 1000 - c.last_sent_at) : t("ob_never");
    }).catch(function () { /* the status bar shows a dead service */ });
  }
  setInterval(refresh, 10000);
  document.addEventListener("visibilitychange", refresh);
})();
