// saferoom: live timers counted on the device from server timestamps, so a slow network never
// makes a clock wrong; and htmx defaults. Kept small on purpose.
(function () {
  "use strict";
  var skew = 0; // server time minus device time, from <meta name="server-now">

  function readSkew() {
    var meta = document.querySelector('meta[name="server-now"]');
    if (meta) { skew = Date.parse(meta.content) - Date.now(); }
  }

  function formatElapsed(ms) {
    var total = Math.max(0, Math.floor(ms / 1000));
    var h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
    var mm = (h ? String(m).padStart(2, "0") : String(m)) + ":" + String(s).padStart(2, "0");
    return h ? h + ":" + mm : mm;
  }

  function tick() {
    var now = Date.now() + skew;
    document.querySelectorAll("[data-since]").forEach(function (el) {
      var since = Date.parse(el.getAttribute("data-since"));
      if (!isNaN(since)) { el.textContent = formatElapsed(now - since); }
    });
    document.querySelectorAll("[data-until]").forEach(function (el) {
      var until = Date.parse(el.getAttribute("data-until"));
      if (!isNaN(until)) { el.textContent = formatElapsed(until - now); }
    });
  }

  // A live update (htmx) that failed: say so, with the reference of the error page. The board
  // says it in its own flash area (board.js), so it is left alone there.
  function showHtmxError(kind, xhr) {
    var box = document.getElementById("htmx-error");
    if (!box || document.getElementById("board-flash")) { return; }
    var text = box.getAttribute("data-text-" + kind) || "";
    var reference = xhr && xhr.getResponseHeader ? xhr.getResponseHeader("X-Request-Id") : "";
    box.textContent = "";
    var p = document.createElement("p");
    p.className = "message error";
    p.textContent = kind === "response" && reference ? text + " " + reference : text;
    box.appendChild(p);
    box.hidden = false;
  }
  // A poll (a GET the page makes, such as the emergency screen's timeline every 5 s, or a
  // request marked X-Saferoom-Poll) that cannot reach the server saved nothing and lost nothing:
  // no alert, just a calm status beside the outbox's (includes/outbox_status.html). Taps the
  // outbox kept are counted there, so nothing here says "nothing was saved".
  function isPoll(detail) {
    var config = (detail && detail.requestConfig) || {};
    var headers = config.headers || {};
    if (headers["X-Saferoom-Poll"]) { return true; }
    if (String(config.verb || "").toLowerCase() === "get") { return true; }
    var elt = config.elt || (detail && detail.elt);
    var trigger = elt && elt.getAttribute ? elt.getAttribute("hx-trigger") || "" : "";
    return /(^|[\s,])every\s/.test(trigger);
  }

  function showOffline(on) {
    var note = document.getElementById("connection-note");
    if (!note) { return; }
    var message = on ? note.getAttribute("data-text-offline") || "" : "";
    if (note.textContent !== message) { note.textContent = message; }
    note.hidden = !on;
  }

  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail && event.detail.xhr;
    showHtmxError(xhr && xhr.status === 429 ? "rate" : "response", xhr);
  });
  document.addEventListener("htmx:sendError", function (event) {
    if (isPoll(event.detail)) { showOffline(true); return; }
    showHtmxError("send", null);
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    if (!event.detail || !event.detail.successful) { return; }
    var box = document.getElementById("htmx-error");
    if (box) { box.hidden = true; box.textContent = ""; }
    showOffline(false);
  });

  document.addEventListener("DOMContentLoaded", function () { readSkew(); tick(); });
  document.addEventListener("htmx:afterSettle", function () { readSkew(); tick(); });
  setInterval(tick, 1000);
  window.saferoom = { tick: tick, formatElapsed: formatElapsed };
})();
