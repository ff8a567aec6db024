/* Log in: operator id + PIN. The keypad types into the field last chosen (the PIN once an id is
 * there). The API sets the session cookie; then we go where the operator was going. */
(function () {
  "use strict";
  var K = window.Kiosk, t = K.t;
  var form = document.getElementById("login-form");
  var opField = document.getElementById("operator");
  var pinField = document.getElementById("pin");
  var area = document.getElementById("login-error");
  var submit = document.getElementById("login-submit");
  var REMEMBER = "kiosk.lastOperator";

  try { opField.value = localStorage.getItem(REMEMBER) || ""; } catch (e) { /* private mode */ }
  var active = opField.value ? pinField : opField;
  [opField, pinField].forEach(function (f) {
    f.addEventListener("focus", function () { active = f; mark(); });
  });
  function mark() {
    opField.classList.toggle("active", active === opField);
    pinField.classList.toggle("active", active === pinField);
  }
  mark();
  active.focus();

  window.Keypad(document.getElementById("keypad"), function (key) {
    var max = active === pinField ? 12 : 32;
    active.value = window.Keypad.apply(active.value, key, max);
    active.dispatchEvent(new Event("input"));
  });

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    K.clear(area);
    var op = opField.value.trim(), pin = pinField.value;
    if (!op) { K.showMessage(area, "error", t("login_need_id")); active = opField; mark(); opField.focus(); return; }
    if (!/^[0-9]{6,12}$/.test(pin)) { K.showMessage(area, "error", t("login_need_pin")); active = pinField; mark(); return; }
    K.busy(submit, true);
    K.api("POST", "/auth/login", { operator: op, pin: pin }, { noAuthRedirect: true }).then(function () {
      try { localStorage.setItem(REMEMBER, op); } catch (e) { /* ignore */ }
      location.href = form.dataset.next || "/";
    }).catch(function (err) {
      K.busy(submit, false);
      pinField.value = "";
      active = pinField; mark();
      if (err.code === "locked_out" && err.data && err.data.retry_after) {
        // Plain words with minutes (the API counts seconds); its own text stays behind "Detail".
        var minutes = Math.max(1, Math.ceil(err.data.retry_after / 60));
        err = { status: err.status, data: Object.assign({}, err.data, {
          message: t("login_locked_minutes", { minutes: minutes }), api_message: err.data.message }) };
      }
      K.showError(area, err);
    });
  });
})();
