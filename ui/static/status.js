/* The status bar: polls GET /api/v1/status every 5 s (while the page is visible), keeps the clock,
 * opens the device details on a tap, and logs the operator out after the configured idle time.
 * The chips mirror ui/pages.py:status_items(). */
(function () {
  "use strict";
  var K = window.Kiosk, t = K.t;
  var bar = document.getElementById("statusbar");
  if (!bar) { return; }
  var chips = document.getElementById("status-chips");
  var toggle = bar.querySelector(".statusbar-toggle");
  var detail = document.getElementById("status-detail");
  var POLL_MS = 5000;

  toggle.addEventListener("click", function () {
    detail.hidden = !detail.hidden;
    toggle.setAttribute("aria-expanded", String(!detail.hidden));
  });

  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function tick() {
    var d = new Date();
    var c = bar.querySelector("[data-status=clock]");
    if (c) { c.textContent = pad(d.getHours()) + ":" + pad(d.getMinutes()); }
  }
  tick();
  setInterval(tick, 10000);

  function items(s) {
    var out = [], dev = s.devices || {}, counts = s.outbox || {}, power = s.power || {};
    var pct = power.battery_percent, pctText = (pct === null || pct === undefined) ? "" : " " + Math.round(pct) + "%";
    if (power.mains === null || power.mains === undefined) {
      out.push({ key: "power", state: (dev.power || {}).state || "absent", label: "", word: t("power_unknown") });
    } else if (power.mains) {
      out.push({ key: "power", state: "ok", label: "", word: t("power_mains_short") + pctText });
    } else {
      var low = pct !== null && pct !== undefined && pct < 25;
      out.push({ key: "power", state: low ? "fault" : "warning", label: "",
                 word: t(low ? "power_low" : "power_battery_short") + pctText });
    }
    var net = dev.network || {}, nstate, nword;
    if (String(net.detail_en || "").indexOf("connected") === 0) { nstate = "ok"; nword = "link_up"; }
    else if (net.state === "fault") { nstate = "fault"; nword = "link_down"; }
    else { nstate = "warning"; nword = "link_unknown"; }
    out.push({ key: "network", state: nstate, label: t("centre"), word: t(nword) });
    var waiting = (counts.queued || 0) + (counts.sending || 0) + (counts.failed || 0);
    out.push({ key: "queue", state: counts.failed ? "warning" : "ok", label: t("queue_short"), word: String(waiting) });
    ["camera", "fingerprint", "smartcard"].forEach(function (name) {
      var d = dev[name] || {}, state = d.state || "absent";
      var word = (d.simulated && state === "warning") ? "state_sim" : "state_" + state;
      out.push({ key: name, state: state, label: t("dev_" + name), word: t(word) });
    });
    return out;
  }

  function render(s) {
    var list = items(s);
    chips.textContent = "";
    list.forEach(function (it) {
      var chip = K.el("span", { "class": "chip st-" + it.state, "data-status": it.key },
        [K.el("span", { "class": "dot", "aria-hidden": "true" })]);
      if (it.label) {
        chip.appendChild(K.el("span", { "class": "chip-label", text: it.label }));
        chip.appendChild(document.createTextNode(" "));
      }
      chip.appendChild(K.el("b", { "class": "chip-word", text: it.word }));
      chips.appendChild(chip);
    });
    var dev = s.devices || {};
    Object.keys(dev).forEach(function (name) {
      var dd = detail.querySelector('[data-detail="' + name + '"]');
      if (dd) { dd.textContent = dev[name].detail || "—"; }
    });
    bar.classList.remove("stale");
    document.dispatchEvent(new CustomEvent("kiosk:status", { detail: s }));
  }

  var timer = null;
  function poll() {
    clearTimeout(timer);
    if (document.hidden) { return; }
    // Without the session cookie: a poll must not keep an idle session alive (the server's idle
    // log-out counts only what the operator does). The language goes in the query instead.
    K.api("GET", "/status?lang=" + encodeURIComponent(K.lang), null, { credentials: "omit" }).then(function (s) {
      render(s);
    }).catch(function () {
      bar.classList.add("stale");  // the service did not answer: grey the bar, keep trying
    }).then(function () { timer = setTimeout(poll, POLL_MS); });
  }
  document.addEventListener("visibilitychange", function () { if (!document.hidden) { poll(); } });
  timer = setTimeout(poll, POLL_MS);

  // Idle log-out (the server enforces it too: an idle session is refused).
  var idleSeconds = Number((window.KIOSK || {}).idle_seconds || 0);
  if (idleSeconds > 0) {
    var last = Date.now();
    var busyUntil = 0;
    ["pointerdown", "keydown", "touchstart", "wheel"].forEach(function (ev) {
      document.addEventListener(ev, function () { last = Date.now(); }, { passive: true, capture: true });
    });
    // Long work (a finger capture) counts as activity.
    document.addEventListener("kiosk:busy", function (ev) { busyUntil = ev.detail ? Infinity : 0; last = Date.now(); });
    setInterval(function () {
      if (busyUntil || Date.now() - last < idleSeconds * 1000) { return; }
      K.api("POST", "/auth/logout", {}, { noAuthRedirect: true }).catch(function () {}).then(function () {
        location.href = "/login?reason=idle";
      });
    }, 5000);
  }
})();
