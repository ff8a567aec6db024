/* The pages' way to the JSON API, plus the small helpers every page uses.
 * Errors from the API are {error, message, message_id, message_en, ...}; `message` is already in
 * the page's language. showError() shows it in plain words, technical detail behind "Detail". */
(function () {
  "use strict";
  var K = window.KIOSK || {};
  var WORDS = K.t || {};

  function t(key, fmt) {
    var s = Object.prototype.hasOwnProperty.call(WORDS, key) ? WORDS[key] : key;
    if (fmt) {
      Object.keys(fmt).forEach(function (k) { s = s.split("{" + k + "}").join(String(fmt[k])); });
    }
    return s;
  }

  function ApiError(status, data) {
    data = data || {};
    this.name = "ApiError";
    this.status = status;
    this.data = data;
    this.code = data.error || "error";
    this.message = data.message || t("unexpected");
    this.stack = (new Error(this.message)).stack;
  }
  ApiError.prototype = Object.create(Error.prototype);
  ApiError.prototype.constructor = ApiError;

  function toLogin(code) {
    var next = location.pathname + location.search;
    location.href = "/login?next=" + encodeURIComponent(next) + (code === "session_expired" ? "&reason=idle" : "");
  }

  /* api(method, path, body, opts): path is below /api/v1; body a plain object (sent as JSON) or a Blob.
   * Resolves with the parsed JSON, rejects with ApiError. A 401 for a missing or expired session goes
   * to the login page unless opts.noAuthRedirect. */
  function api(method, path, body, opts) {
    opts = opts || {};
    var headers = { "Accept": "application/json" };
    var payload;
    if (typeof Blob !== "undefined" && body instanceof Blob) {
      payload = body;
      headers["Content-Type"] = body.type || "application/octet-stream";
    } else if (body !== undefined && body !== null) {
      payload = JSON.stringify(body);
      headers["Content-Type"] = "application/json";
    }
    return fetch("/api/v1" + path, {
      method: method, headers: headers, body: payload, credentials: opts.credentials || "same-origin",
      cache: "no-store", signal: opts.signal
    }).catch(function (err) {
      if (err && err.name === "AbortError") { throw err; }
      throw new ApiError(0, { error: "network", message: t("net_error"), detail: String(err) });
    }).then(function (resp) {
      return resp.text().then(function (text) {
        var data;
        try { data = text ? JSON.parse(text) : {}; }
        catch (e) { data = { error: "bad_response", message: t("unexpected"), body: text.slice(0, 400) }; }
        if (!resp.ok) {
          if (resp.status === 401 && !opts.noAuthRedirect &&
              (data.error === "unauthenticated" || data.error === "session_expired")) {
            toLogin(data.error);
          }
          if (!data.error) { data = { error: "http_" + resp.status, message: t("unexpected"), body: data }; }
          throw new ApiError(resp.status, data);
        }
        return data;
      });
    });
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") { node.textContent = attrs[k]; }
      else if (k === "class") { node.className = attrs[k]; }
      else if (k.slice(0, 2) === "on") { node.addEventListener(k.slice(2), attrs[k]); }
      else { node.setAttribute(k, attrs[k]); }
    });
    (children || []).forEach(function (c) {
      if (c === null || c === undefined) { return; }
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }

  function clear(area) { if (area) { area.textContent = ""; } }

  /* A message box: kind is ok | info | warn | error | sim. `lines` are extra plain lines. */
  function showMessage(area, kind, text, lines) {
    if (!area) { return null; }
    clear(area);
    var box = el("div", { "class": "msg msg-" + kind, role: kind === "error" ? "alert" : "status" },
      [el("p", { text: text })]);
    if (lines && lines.length) {
      box.appendChild(el("ul", {}, lines.map(function (l) { return el("li", { text: l }); })));
    }
    area.appendChild(box);
    return box;
  }

  /* The problems of an error (biodata, NIK) as lines in the page's language. */
  function problemLines(data) {
    var lang = K.lang === "en" ? "en" : "id";
    var out = [];
    (data.problems || data.reasons || []).forEach(function (p) {
      if (typeof p === "string") { out.push(p); return; }
      out.push(p["message_" + lang] || p.message || p.code);
    });
    return out;
  }

  /* A reason of a quality verdict ({code, message[, message_id, message_en]}) in the page's language. */
  function reasonText(x) {
    if (typeof x === "string") { return x; }
    return x["message_" + (K.lang === "en" ? "en" : "id")] || x.message || x.code;
  }

  function showError(area, err, extraLines) {
    if (!area) { return null; }
    var data = (err && err.data) || { error: "error", message: String(err && err.message || err) };
    var lines = (extraLines || []).concat(problemLines(data));
    if (lines.length === 1 && lines[0] === data.message) { lines = []; }
    var box = showMessage(area, "error", data.message || t("unexpected"), lines);
    var detail = el("pre", { "class": "detail", hidden: "" });
    detail.textContent = "HTTP " + (err && err.status !== undefined ? err.status : "?") + "\n" + JSON.stringify(data, null, 1);
    var btn = el("button", { type: "button", "class": "btn btn-small", text: t("detail"), "aria-expanded": "false" });
    btn.addEventListener("click", function () {
      detail.hidden = !detail.hidden;
      btn.setAttribute("aria-expanded", String(!detail.hidden));
    });
    box.appendChild(btn);
    box.appendChild(detail);
    return box;
  }

  /* Put a button into a busy state (disabled, spinner, optional label) and back. */
  function busy(button, on, label) {
    if (!button) { return; }
    if (on) {
      if (!button.dataset.idleHtml) { button.dataset.idleHtml = button.innerHTML; }
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
      button.innerHTML = "";
      button.appendChild(el("span", { "class": "spinner", "aria-hidden": "true" }));
      button.appendChild(document.createTextNode(" " + (label || t("loading"))));
    } else {
      button.disabled = false;
      button.removeAttribute("aria-busy");
      if (button.dataset.idleHtml) { button.innerHTML = button.dataset.idleHtml; delete button.dataset.idleHtml; }
    }
  }

  // Any server-rendered "Detail" button (error page).
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest && ev.target.closest("[data-toggle-detail]");
    if (!btn) { return; }
    var pre = btn.parentNode.querySelector(".detail");
    if (pre) { pre.hidden = !pre.hidden; }
  });

  window.Kiosk = {
    api: api, ApiError: ApiError, t: t, el: el, clear: clear, showMessage: showMessage,
    showError: showError, problemLines: problemLines, reasonText: reasonText, busy: busy, lang: K.lang || "id",
    simulated: !!K.simulated
  };
})();
