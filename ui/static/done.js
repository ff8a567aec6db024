/* Done: show possible duplicates the commit reported (kept for this page only). */
(function () {
  "use strict";
  var K = window.Kiosk, t = K.t;
  var root = document.getElementById("done-step");
  var key = "kiosk.suspects." + root.dataset.eid;
  var raw = null;
  try { raw = sessionStorage.getItem(key); sessionStorage.removeItem(key); } catch (e) { /* ignore */ }
  if (!raw) { return; }
  var suspects = [];
  try { suspects = JSON.parse(raw) || []; } catch (e) { return; }
  // The page already shows the server's own flag (the record's review entry); this is only a fallback.
  if (!suspects.length || document.getElementById("duplicate-warning")) { return; }
  K.showMessage(document.getElementById("done-suspects"), "warn", "⚠ " + t("duplicate_suspects"),
    suspects.map(function (s) { return (s.nik || "?") + (s.score !== undefined ? " (" + s.score + ")" : ""); }));
})();
