// saferoom floor board: check colours counted on the device from server timestamps, picking a
// person then a seat, the two-step emergency button, an optional beep, and a poll loop that
// survives network blips. The board works without this file (plain forms); this makes it live.
// saferoom.js still counts the [data-since]/[data-until] timers.
(function () {
  "use strict";

  var SOUND_KEY = "saferoom.board.sound"; // "on" or "off": a preference, not personal data
  var ARM_MS = 5000;
  var HIDDEN_POLL_MS = 15000;

  var root = null; // #board: settings and words
  var skew = 0; // server time minus device time
  var selected = null; // visit id picked in the queue
  var armed = {}; // emergency button id -> time it disarms
  var openMenus = {}; // <details> ids left open by the person
  var overdueSeen = null; // session ids known to be overdue (null until the first tick)
  var escalationsSeen = null;
  var audio = null;
  var pending = null; // a newer board held back while the person is using a <select>
  var failures = 0;
  var stale = 0;
  var offlineSince = null;
  var timer = null;
  var inFlight = false;
  var busy = 0; // board actions (htmx requests) on their way: a poll must not swap under them
  var busySince = 0;

  function text(name, value) {
    var template = (root && root.getAttribute("data-text-" + name)) || "";
    return value === undefined ? template : template.replace("%s", value);
  }

  function now() { return Date.now() + skew; }

  function live() { return document.getElementById("board-live"); }

  function readSkew() {
    var el = live();
    var stamp = el && el.getAttribute("data-server-now");
    if (!stamp) {
      var meta = document.querySelector('meta[name="server-now"]');
      stamp = meta && meta.content;
    }
    var parsed = stamp ? Date.parse(stamp) : NaN;
    if (!isNaN(parsed)) { skew = parsed - Date.now(); }
  }

  function clock(ms) {
    return window.saferoom ? window.saferoom.formatElapsed(ms) : String(Math.round(ms / 1000));
  }

  function announce(message) {
    var region = document.getElementById("board-announce");
    if (region) { region.textContent = message; }
  }

  // --- Sound ----------------------------------------------------------------------------------

  function soundOn() {
    try { return window.localStorage.getItem(SOUND_KEY) === "on"; } catch (e) { return false; }
  }

  function beep() {
    if (!soundOn()) { return; }
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) { return; }
    try {
      audio = audio || new Context();
      if (audio.state === "suspended") { audio.resume(); }
      [0, 0.3].forEach(function (offset) {
        var osc = audio.createOscillator();
        var gain = audio.createGain();
        osc.type = "sine";
        osc.frequency.value = 880;
        gain.gain.setValueAtTime(0.0001, audio.currentTime + offset);
        gain.gain.exponentialRampToValueAtTime(0.3, audio.currentTime + offset + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + offset + 0.2);
        osc.connect(gain).connect(audio.destination);
        osc.start(audio.currentTime + offset);
        osc.stop(audio.currentTime + offset + 0.22);
      });
    } catch (e) { /* no sound is better than a broken board */ }
  }

  function setupSound() {
    var button = document.getElementById("board-sound");
    if (!button) { return; }
    button.hidden = false;
    button.setAttribute("aria-pressed", soundOn() ? "true" : "false");
    button.addEventListener("click", function () {
      var on = !soundOn();
      try { window.localStorage.setItem(SOUND_KEY, on ? "on" : "off"); } catch (e) { /* private mode */ }
      button.setAttribute("aria-pressed", on ? "true" : "false");
      if (on) { beep(); } // also unlocks audio: browsers allow it only after a tap
    });
  }

  // --- Check colours, every second ------------------------------------------------------------

  function tick() {
    var t = now();
    var overdue = {};
    var refresh = false;
    document.querySelectorAll("#board-live [data-check-due]").forEach(function (tile) {
      var due = Date.parse(tile.getAttribute("data-check-due"));
      var late = Date.parse(tile.getAttribute("data-check-overdue"));
      if (isNaN(due) || isNaN(late)) { return; }
      var status = t >= late ? "overdue" : t >= due ? "due" : "ok";
      ["ok", "due", "overdue"].forEach(function (s) {
        tile.classList.toggle("check-" + s, s === status);
      });
      var label = tile.querySelector("[data-check-label]");
      if (label) { label.textContent = text(status); }
      var countdown = tile.querySelector("[data-check-countdown]");
      if (countdown) {
        countdown.textContent = status === "ok" ? text("due-in", clock(due - t))
          : status === "due" ? text("due-now") : text("overdue-by", clock(t - due));
      }
      if (status === "overdue") { overdue[tile.getAttribute("data-session")] = true; }
    });
    if (overdueSeen !== null) {
      for (var id in overdue) { if (!overdueSeen[id]) { beep(); break; } }
    }
    overdueSeen = overdue;
    // A seat whose clear-down is over is free: fetch the board, nothing was written to say so.
    document.querySelectorAll("#board-live [data-clear-until]").forEach(function (tile) {
      var until = Date.parse(tile.getAttribute("data-clear-until"));
      if (!isNaN(until) && t >= until && !tile.hasAttribute("data-refreshed")) {
        tile.setAttribute("data-refreshed", "");
        refresh = true;
      }
    });
    if (refresh) { schedule(0, true); }
  }

  function noticeEscalations() {
    var section = document.querySelector("#board-live [data-escalations]");
    var ids = section ? section.getAttribute("data-escalations").trim().split(/\s+/) : [];
    var known = {};
    var fresh = false;
    ids.forEach(function (id) {
      if (!id) { return; }
      known[id] = true;
      if (escalationsSeen !== null && !escalationsSeen[id]) { fresh = true; }
    });
    escalationsSeen = known;
    if (fresh) { beep(); }
  }

  // --- Tap a person, then a seat --------------------------------------------------------------

  function applySelection() {
    var entry = selected && document.getElementById("queue-" + selected);
    if (selected && !entry) { selected = null; } // assigned, or gone from the queue
    var fits = entry ? (entry.getAttribute("data-fits") || "").trim().split(/\s+/) : [];
    document.querySelectorAll("#board-live [data-select]").forEach(function (button) {
      button.hidden = false;
      var on = button.getAttribute("data-select") === selected;
      button.setAttribute("aria-pressed", on ? "true" : "false");
      var row = button.closest(".queue-entry");
      if (row) { row.classList.toggle("is-selected", on); }
    });
    document.querySelectorAll("#board-live form[data-assign]").forEach(function (form) {
      var show = !!entry && fits.indexOf(form.getAttribute("data-assign")) !== -1;
      form.hidden = !show;
      var input = form.querySelector("[data-visit-input]");
      if (input) { input.value = show ? selected : ""; }
    });
    var spaces = document.querySelector("#board-live .board-spaces");
    if (spaces) { spaces.classList.toggle("is-picking", !!entry); }
  }

  function toggleSelection(id) {
    selected = selected === id ? null : id;
    applySelection();
    var entry = selected && document.getElementById("queue-" + selected);
    announce(entry ? text("selected", entry.getAttribute("data-name")) : text("unselected"));
  }

  // --- The two-step emergency button ----------------------------------------------------------

  function setArmed(button, on) {
    var input = button.form && button.form.querySelector("[data-confirm-input]");
    // Only the visible words change: the seat's name beside them ("Emergency, Booth 3", visually
    // hidden) stays in the button's accessible name whichever step it is on.
    var words = button.querySelector("[data-two-step-label]") || button;
    words.textContent = button.getAttribute(on ? "data-confirm-label" : "data-label");
    button.classList.toggle("is-armed", on);
    if (input) { input.value = on ? "1" : ""; }
  }

  function applyArmed() {
    var t = Date.now();
    for (var id in armed) {
      var button = document.getElementById(id);
      if (!button || t >= armed[id]) {
        delete armed[id];
        if (button) { setArmed(button, false); }
      } else {
        setArmed(button, true);
      }
    }
  }

  function onTwoStep(event, button) {
    if (armed[button.id] && Date.now() < armed[button.id]) {
      delete armed[button.id];
      setArmed(button, true); // the form goes with confirm=1
      return;
    }
    event.preventDefault();
    armed[button.id] = Date.now() + ARM_MS;
    setArmed(button, true);
    announce(text("confirm"));
    window.setTimeout(applyArmed, ARM_MS + 50);
  }

  // --- After any new board --------------------------------------------------------------------

  function rememberMenus() {
    document.querySelectorAll("#board-live details[id]").forEach(function (d) {
      if (d.open) { openMenus[d.id] = true; } else { delete openMenus[d.id]; }
    });
  }

  function afterSwap() {
    var el = live();
    if (!el) { return; }
    readSkew();
    for (var id in openMenus) {
      var menu = document.getElementById(id);
      if (menu) { menu.open = true; } else { delete openMenus[id]; }
    }
    applySelection();
    applyArmed();
    tick();
    noticeEscalations();
    var focus = el.getAttribute("data-focus");
    if (focus) {
      el.removeAttribute("data-focus");
      var target = document.getElementById(focus) || document.getElementById("board-heading");
      if (target) { target.focus({ preventScroll: false }); }
    }
  }

  function usingSelect() {
    var active = document.activeElement;
    return active && active.tagName === "SELECT" && active.closest("#board-live");
  }

  function shownVersion() {
    var el = live();
    return el ? parseInt(el.getAttribute("data-version"), 10) : -1;
  }

  function swapIn(html) {
    var el = live();
    if (!el) { return; }
    // An action's answer replaces the board it was sent from: swapping a poll's board in
    // first would leave that answer (and its message) nowhere to go.
    if (busy > 0 || usingSelect()) { pending = html; return; }
    pending = null;
    rememberMenus();
    if (window.htmx && window.htmx.swap) {
      // settleDelay 0: htmx wires up the new forms at once (see board.htmx.html).
      window.htmx.swap(el, html, { swapStyle: "outerHTML", settleDelay: 0 });
    } else {
      var focused = document.activeElement && document.activeElement.id;
      el.outerHTML = html;
      var again = focused && document.getElementById(focused);
      if (again) { again.focus({ preventScroll: true }); }
    }
    afterSwap();
  }

  // --- The poll loop --------------------------------------------------------------------------

  function setConnection(message) {
    var status = document.getElementById("board-connection");
    if (status && status.textContent !== message) { status.textContent = message; }
  }

  function interval() {
    var normal = parseInt(root.getAttribute("data-poll-ms"), 10) || 1500;
    var max = parseInt(root.getAttribute("data-max-backoff-ms"), 10) || 5000;
    if (document.hidden) { return HIDDEN_POLL_MS; }
    if (failures) { return Math.min(max, normal * Math.pow(2, failures - 1)); }
    return normal;
  }

  function schedule(ms, force) {
    window.clearTimeout(timer);
    timer = window.setTimeout(function () { poll(force); }, ms);
  }

  function versionOf(html) {
    var match = /data-version="(\d+)"/.exec(html);
    return match ? parseInt(match[1], 10) : -1;
  }

  function poll(force) {
    // An answer whose end was never reported (its form left the page) must not freeze the board.
    if (busy > 0 && Date.now() - busySince > 10000) { busy = 0; }
    var el = live();
    if (!el || inFlight) { schedule(interval()); return; }
    inFlight = true;
    var shown = parseInt(el.getAttribute("data-version"), 10);
    var url = root.getAttribute("data-poll-url") + "?v=" + (force ? "" : encodeURIComponent(shown));
    var abort = window.AbortController ? new AbortController() : null;
    var limit = window.setTimeout(function () { if (abort) { abort.abort(); } }, 8000);
    fetch(url, {
      credentials: "same-origin",
      cache: "no-store",
      headers: { "X-Saferoom-Poll": "1", "HX-Request": "true" },
      signal: abort ? abort.signal : undefined
    }).then(function (response) {
      var redirect = response.headers.get("HX-Redirect");
      if (redirect) { window.location.href = redirect; return null; } // logged out
      if (response.redirected) { window.location.href = response.url; return null; } // to log in
      if (response.status === 204) { return null; }
      if (!response.ok) { throw new Error(String(response.status)); }
      return response.text();
    }).then(function (html) {
      failures = 0;
      offlineSince = null;
      setConnection("");
      if (html === null) { return; }
      if (html.indexOf('id="board-live"') === -1) { window.location.reload(); return; }
      // An action's answer may already show a newer board than this poll: never go back,
      // unless the server keeps saying so (its database was restored).
      if (versionOf(html) < shownVersion() && ++stale < 3) { return; }
      stale = 0;
      swapIn(html);
    }).catch(function () {
      failures += 1;
      if (offlineSince === null) { offlineSince = new Date(); }
      var since = offlineSince.toTimeString().slice(0, 5);
      // The device knows it has no network: say so plainly (taps made now are kept by the
      // outbox, outbox.js, and counted in the top bar), not only that it is trying again.
      if (navigator.onLine === false) { setConnection(text("offline", since)); }
      else { setConnection(failures > 2 ? text("offline-since", since) : text("reconnecting")); }
    }).then(function () {
      window.clearTimeout(limit);
      inFlight = false;
      schedule(interval());
    });
  }

  // --- Wiring ---------------------------------------------------------------------------------

  function start() {
    document.querySelectorAll("[data-print]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () { window.print(); });
    });
    document.addEventListener("click", function (event) {
      var two = event.target.closest && event.target.closest("[data-two-step]");
      if (two) { onTwoStep(event, two); return; }
      var pick = event.target.closest && event.target.closest("#board-live [data-select]");
      if (pick) { toggleSelection(pick.getAttribute("data-select")); }
    });
    root = document.getElementById("board");
    if (!root) { return; } // the emergency page and the handover use only the parts above
    setupSound();
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && selected) { toggleSelection(selected); }
    });
    function flushPending() {
      if (pending && busy === 0 && !usingSelect()) {
        var html = pending;
        pending = null;
        if (versionOf(html) >= shownVersion()) { swapIn(html); }
      }
    }
    document.addEventListener("focusout", function () { window.setTimeout(flushPending, 0); });
    document.body.addEventListener("htmx:beforeRequest", function () {
      busy += 1;
      busySince = Date.now();
    });
    document.body.addEventListener("htmx:afterRequest", function () {
      busy = Math.max(0, busy - 1);
      window.setTimeout(flushPending, 0);
    });
    document.addEventListener("toggle", function (event) {
      var d = event.target;
      if (d.tagName === "DETAILS" && d.id) {
        if (d.open) { openMenus[d.id] = true; } else { delete openMenus[d.id]; }
      }
    }, true);
    // An action's answer (htmx) replaces the board: put selection and colours back.
    document.body.addEventListener("htmx:beforeSwap", rememberMenus);
    document.body.addEventListener("htmx:afterSettle", afterSwap);
    // A POST that did not reach the server is never sent again by itself: say so.
    function failed(kind) {
      var flash = document.getElementById("board-flash");
      if (!flash) { return; }
      flash.innerHTML = "";
      var p = document.createElement("p");
      p.className = "message error";
      p.textContent = flash.getAttribute("data-text-" + kind) || "";
      flash.appendChild(p);
      schedule(0, true);
    }
    document.body.addEventListener("htmx:sendError", function (event) {
      // Only a write that was lost is said to be unsaved: a GET saved nothing, and the poll
      // has its own line (#board-connection). A tap the outbox kept never gets here.
      var config = (event.detail && event.detail.requestConfig) || {};
      if (String(config.verb || "post").toLowerCase() === "get") { return; }
      failed("send-error");
    });
    document.body.addEventListener("htmx:responseError", function () { failed("response-error"); });
    document.addEventListener("visibilitychange", function () {
      schedule(document.hidden ? HIDDEN_POLL_MS : 0);
    });
    readSkew();
    overdueSeen = null;
    afterSwap();
    window.setInterval(tick, 1000);
    schedule(interval());
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
