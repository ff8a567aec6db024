/* On-screen numeric keypad: Keypad(root, onKey) calls onKey("0".."9" | "del" | "clear").
 * Buttons never take the focus away from the field being typed into. */
(function () {
  "use strict";
  window.Keypad = function (root, onKey) {
    if (!root) { return; }
    root.addEventListener("pointerdown", function (ev) {
      if (ev.target.closest("[data-key]")) { ev.preventDefault(); }  // keep the focus where it is
    });
    root.addEventListener("click", function (ev) {
      var b = ev.target.closest("[data-key]");
      if (!b || b.disabled) { return; }
      onKey(b.dataset.key);
    });
  };

  /* Apply a keypad key to a string value, at most `max` digits. */
  window.Keypad.apply = function (value, key, max) {
    if (key === "del") { return value.slice(0, -1); }
    if (key === "clear") { return ""; }
    if (/^[0-9]$/.test(key) && value.length < max) { return value + key; }
    return value;
  };
})();
