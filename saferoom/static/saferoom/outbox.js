// saferoom: the offline outbox of a tablet (the van). A one-tap form marked
// data-offline="queue" whose htmx POST cannot reach the server (no network: htmx:sendError, or
// the browser says it is offline) is kept on the tablet, sealed with AES-GCM under the person's
// key (saferoom/core/outbox.py), and sent again, oldest first, when the network is back: on the
// "online" event, at every page load and every 15 s while any is left. Each entry keeps the
// idempotency key it was first sent with, so the server makes one record of it however often it
// arrives; a form that names a time field (data-offline-at) also sends when it was tapped, and
// the server records it then, within bounds (saferoom/core/tap_time.py). A refusal (422) is kept and shown with the server's message until the person
// dismisses it; nothing queued ever expires. This is a page-level outbox, not a service worker:
// a page reloaded while offline cannot load. Storage: one IndexedDB database, written only by
// writeSealed(); the key is imported as non-extractable and never stored.
(function () {
  "use strict";
  var DB_NAME = "saferoom-outbox";
  var STORE = "entries";
  var RETRY_MS = 15000;
  var SAVED_SHOWN_MS = 4000;
  // Answers that mean "refused, nothing changed": shown with the server's message, not resent.
  var REFUSED = [400, 404, 409, 410, 422];

  var usable = Boolean(window.indexedDB && window.crypto && window.crypto.subtle &&
    window.crypto.randomUUID && window.isSecureContext !== false && window.TextEncoder);
  var encoder = usable ? new TextEncoder() : null;
  var decoder = usable ? new TextDecoder() : null;

  var me = null; // {owner, name, key, directory} once the page's keys are imported
  var skew = 0; // server time minus device time, where the page gives it (meta server-now)
  var counts = { queued: 0, refused: 0 };
  var unstored = 0; // taps being sealed and written
  var state = "idle"; // idle | login | waiting (the last try failed)
  var syncing = false;
  var again = false; // asked to send while sending
  var keepFailed = false;
  var lastSwap = null;
  var savedTimer = null;
  var savedUntil = 0;
  var writes = Promise.resolve(); // every write in tap order, so ids follow the taps
  var tapTimes = new WeakMap(); // request (XMLHttpRequest) -> when its form was tapped
  var dbPromise = null;

  // --- Text -----------------------------------------------------------------------------------

  function fill(template, n, name) {
    return String(template || "").replace("%(n)s", String(n)).replace("%(name)s", name || "");
  }

  function text(el, attr, n, name) {
    return el ? fill(el.getAttribute(attr), n, name) : "";
  }

  // --- Crypto ---------------------------------------------------------------------------------

  function bytesOf(base64) {
    var binary = window.atob(base64);
    var out = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i += 1) { out[i] = binary.charCodeAt(i); }
    return out;
  }

  function importKey(base64) {
    // Not extractable: page code can use it but never read it back out, let alone store it.
    return window.crypto.subtle.importKey(
      "raw", bytesOf(base64), { name: "AES-GCM" }, false, ["encrypt", "decrypt"]);
  }

  function seal(key, owner, value) {
    var iv = window.crypto.getRandomValues(new Uint8Array(12));
    return window.crypto.subtle.encrypt(
      { name: "AES-GCM", iv: iv, additionalData: encoder.encode(owner) },
      key, encoder.encode(JSON.stringify(value))
    ).then(function (ciphertext) { return { iv: iv, data: new Uint8Array(ciphertext) }; });
  }

  function unseal(key, owner, sealed) {
    return window.crypto.subtle.decrypt(
      { name: "AES-GCM", iv: sealed.iv, additionalData: encoder.encode(owner) }, key, sealed.data
    ).then(function (plain) { return JSON.parse(decoder.decode(plain)); });
  }

  // --- IndexedDB ------------------------------------------------------------------------------

  function request(r) {
    return new Promise(function (resolve, reject) {
      r.onsuccess = function () { resolve(r.result); };
      r.onerror = function () { reject(r.error); };
    });
  }

  function openDb() {
    if (!dbPromise) {
      dbPromise = new Promise(function (resolve, reject) {
        var r = window.indexedDB.open(DB_NAME, 1);
        r.onupgradeneeded = function () {
          r.result.createObjectStore(STORE, { keyPath: "id", autoIncrement: true });
        };
        r.onsuccess = function () {
          var db = r.result;
          // Another page is wiping it at logout: let go.
          db.onversionchange = function () { db.close(); dbPromise = null; };
          resolve(db);
        };
        r.onerror = function () { dbPromise = null; reject(r.error); };
      });
    }
    return dbPromise;
  }

  function exists() {
    if (!window.indexedDB.databases) { return Promise.resolve(true); }
    return window.indexedDB.databases().then(function (list) {
      return list.some(function (d) { return d.name === DB_NAME; });
    });
  }

  // Every entry, oldest first; none (and no database made) when there is no outbox yet.
  function allEntries() {
    return exists().then(function (yes) {
      if (!yes) { return []; }
      return openDb().then(function (db) {
        return request(db.transaction(STORE).objectStore(STORE).getAll());
      });
    });
  }

  function inTransaction(work) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(STORE, "readwrite");
        var result = work(tx.objectStore(STORE));
        tx.oncomplete = function () { resolve(result.result); };
        tx.onerror = tx.onabort = function () { reject(tx.error); };
      });
    });
  }

  // The one place anything is written to the browser's storage: an entry whose contents are
  // sealed. In clear: its number, the opaque owner tag and whether it waits or was refused.
  function writeSealed(entry) {
    var record = { owner: entry.owner, state: entry.state, body: entry.body, who: entry.who };
    if (entry.id !== undefined) { record.id = entry.id; }
    return inTransaction(function (store) { return store.put(record); });
  }

  function removeEntry(id) {
    return inTransaction(function (store) { return store["delete"](id); });
  }

  function wipe() {
    return new Promise(function (resolve) {
      var closing = dbPromise;
      dbPromise = null;
      (closing || Promise.resolve(null)).then(function (db) {
        if (db) { db.close(); }
      }, function () {}).then(function () {
        var r = window.indexedDB.deleteDatabase(DB_NAME);
        r.onsuccess = r.onerror = r.onblocked = function () { resolve(); };
      });
    });
  }

  // --- What is shown --------------------------------------------------------------------------

  function statusEl() { return document.getElementById("outbox-status"); }

  function render() {
    var el = statusEl();
    if (!el) { return; }
    var n = counts.queued + unstored;
    var kind;
    if (keepFailed) { kind = "failed"; }
    else if (n === 0) { kind = "saved"; }
    else if (state === "login") { kind = n === 1 ? "login-one" : "login"; }
    else if (navigator.onLine === false) { kind = "offline"; }
    else if (syncing) { kind = "sending"; }
    else { kind = "waiting"; }
    var message = text(el, "data-text-" + kind, n);
    var was = el.getAttribute("data-state");
    el.setAttribute("data-state", kind);
    el.setAttribute("data-count", String(n));
    if (el.textContent !== message) { el.textContent = message; }
    window.clearTimeout(savedTimer);
    if (kind !== "saved") { savedUntil = 0; el.hidden = false; return; }
    // "All saved" shows (and is read out) for a few seconds after a queue empties, then the
    // status hides again; a page that opens with nothing queued never shows it.
    if (was && was !== "saved" && !el.hidden) { savedUntil = Date.now() + SAVED_SHOWN_MS; }
    var left = savedUntil - Date.now();
    if (left > 0) {
      savedTimer = window.setTimeout(function () { el.hidden = true; }, left);
    } else {
      el.hidden = true;
    }
  }

  function renderOthers(groups) {
    var el = document.getElementById("outbox-others");
    if (!el) { return; }
    el.textContent = "";
    groups.forEach(function (group) {
      var line = document.createElement("span");
      line.className = "outbox-other";
      var attr = group.name === null ? "data-text-unknown" : group.n === 1 ? "data-text-one" : "data-text";
      line.textContent = text(el, attr, group.n, group.name);
      el.appendChild(line);
    });
    el.hidden = groups.length === 0;
  }

  function clock(iso) {
    var d = new Date(iso);
    return isNaN(d.getTime()) ? "" : d.toTimeString().slice(0, 5);
  }

  function renderRefused(items) {
    var section = document.getElementById("outbox-refused");
    if (!section) { return; }
    var summary = section.querySelector("summary");
    var list = section.querySelector("ul");
    summary.textContent = fill(summary.getAttribute("data-text"), items.length);
    list.textContent = "";
    items.forEach(function (item) {
      var li = document.createElement("li");
      var what = document.createElement("strong");
      what.textContent = item.label || "";
      li.appendChild(what);
      var where = [item.title, fill(list.getAttribute("data-text-when"), 0).replace("%(time)s", clock(item.recordedAt))];
      li.appendChild(document.createTextNode(" (" + where.filter(Boolean).join(", ") + ")"));
      var why = document.createElement("p");
      why.className = "message error";
      why.textContent = item.message || "";
      li.appendChild(why);
      list.appendChild(li);
    });
    section.hidden = items.length === 0;
  }

  var refreshing = Promise.resolve();

  // Count and show what this tablet holds: this person's queue and refusals, and other people's.
  function refresh() {
    refreshing = refreshing.then(function () {
      return allEntries().then(function (entries) {
        var mine = [], refused = [], others = {};
        entries.forEach(function (e) {
          if (me && e.owner === me.owner) {
            if (e.state === "refused") { refused.push(e); } else { mine.push(e); }
          } else if (e.state !== "refused") {
            (others[e.owner] = others[e.owner] || []).push(e);
          }
        });
        counts.queued = mine.length;
        counts.refused = refused.length;
        render();
        if (!me) { return null; }
        var groups = Object.keys(others).map(function (owner) {
          var first = others[owner][0];
          return unseal(me.directory, owner, first.who).then(
            function (name) { return { n: others[owner].length, name: String(name) }; },
            function () { return { n: others[owner].length, name: null }; });
        });
        var reasons = refused.map(function (e) {
          return unseal(me.key, me.owner, e.body).catch(function () { return {}; });
        });
        return Promise.all([Promise.all(groups), Promise.all(reasons)]).then(function (done) {
          renderOthers(done[0]);
          renderRefused(done[1]);
        });
      });
    }).catch(function () {});
    return refreshing;
  }

  // --- Keeping a tap --------------------------------------------------------------------------

  function markedForm(elt) {
    var form = elt && elt.closest ? elt.closest("form") : null;
    return form && form.getAttribute("data-offline") === "queue" ? form : null;
  }

  function localTime(ms, zone) {
    var parts = {};
    new Intl.DateTimeFormat("en-GB", {
      timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23"
    }).formatToParts(new Date(ms)).forEach(function (p) { parts[p.type] = p.value; });
    return parts.year + "-" + parts.month + "-" + parts.day + "T" + parts.hour + ":" +
      parts.minute + ":" + parts.second;
  }

  function accessibleName(button) {
    if (!button) { return ""; }
    var name = button.getAttribute("aria-label") || button.textContent || "";
    return name.replace(/\s+/g, " ").trim();
  }

  // What the tap sent, exactly (the same body again gets the same record from the server),
  // without the CSRF token: the page that sends it later puts its own in a header.
  function capture(detail, form) {
    var config = (detail && detail.requestConfig) || {};
    var data = config.formData || new FormData(form);
    var fields = [];
    data.forEach(function (value, name) {
      if (name !== "csrfmiddlewaretoken" && typeof value === "string") { fields.push([name, value]); }
    });
    // The moment of the tap (not of a network error that came later), on the server's clock.
    var tapped = detail && detail.xhr && tapTimes.get(detail.xhr);
    var at = (tapped || Date.now()) + skew;
    // Where the server takes the time of the event from the form (data-offline-at names the
    // field: the incident's taps, the board's checks, the care panel's give-outs), it is the
    // moment of the tap, not of the sending (saferoom/core/tap_time.py checks it).
    var atField = form.getAttribute("data-offline-at");
    var zone = form.getAttribute("data-offline-zone");
    if (atField && !fields.some(function (f) { return f[0] === atField && f[1]; })) {
      // Whole seconds, rounded up: a tap in the same second as the onset is not "before" it.
      var whole = Math.ceil(at / 1000) * 1000;
      if (zone) {
        // The site's local time, as the form's own time field takes it.
        try { fields.push([atField, localTime(whole, zone)]); } catch (e) { /* unknown zone: the server's now */ }
      } else {
        // An instant in UTC: no local hour is ambiguous when the clocks go back.
        fields.push([atField, new Date(whole).toISOString()]);
      }
    }
    var url = new URL(config.path || form.getAttribute("action") || "", window.location.href);
    var submitter = config.triggeringEvent && config.triggeringEvent.submitter;
    var target = detail && detail.target;
    var swapper = form.closest("[hx-swap]");
    return {
      path: url.origin === window.location.origin ? url.pathname + url.search : "",
      method: String(config.verb || form.getAttribute("method") || "post").toUpperCase(),
      fields: fields,
      recordedAt: new Date(at).toISOString(),
      label: accessibleName(submitter || form.querySelector("button")),
      title: document.title.split(" · ")[0],
      page: window.location.pathname,
      target: target && target.id ? target.id : "",
      swap: swapper ? swapper.getAttribute("hx-swap").split(" ")[0] : "innerHTML"
    };
  }

  function keep(detail, form) {
    var item = capture(detail, form);
    // The next tap on this button is a new event, with a new key.
    var input = form.querySelector('input[name="idempotency_key"]');
    if (input) { input.value = window.crypto.randomUUID(); }
    unstored += 1;
    keepFailed = false;
    render();
    var who = me;
    writes = writes.then(function () {
      if (!item.path) { throw new Error("not this site"); }
      return Promise.all([seal(who.key, who.owner, item), seal(who.directory, who.owner, who.name)]);
    }).then(function (sealed) {
      return writeSealed({ owner: who.owner, state: "queued", body: sealed[0], who: sealed[1] });
    }).then(function () {
      unstored -= 1;
      counts.queued += 1; // until refresh() counts it from the database
      return refresh();
    }, function () {
      unstored -= 1;
      keepFailed = true;
      render();
    }).then(function () {
      if (navigator.onLine !== false) { sync(); }
    });
  }

  // Offline (or behind taps still waiting, so the server gets them in the order they were
  // made): keep it instead of sending it. stopPropagation keeps the page's "not saved" alerts
  // (saferoom.js, board.js) quiet: it was not lost.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = markedForm(event.target);
    if (!form || !me) { return; }
    if (event.detail && event.detail.xhr) { tapTimes.set(event.detail.xhr, Date.now()); }
    if (navigator.onLine === false || counts.queued + unstored > 0 || syncing) {
      event.preventDefault();
      event.stopPropagation();
      keep(event.detail, form);
    }
  }, true);

  // Sent, but the network failed on the way (never a 4xx or 5xx answer: those came back).
  document.addEventListener("htmx:sendError", function (event) {
    var form = markedForm(event.target);
    if (!form || !me) { return; }
    event.stopPropagation();
    keep(event.detail, form);
  }, true);

  // --- Sending --------------------------------------------------------------------------------

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function messageOf(html) {
    var doc = new DOMParser().parseFromString(html || "", "text/html");
    var nodes = doc.querySelectorAll('[role="alert"], .errors, .message.error');
    for (var i = 0; i < nodes.length; i += 1) {
      var said = nodes[i].textContent.replace(/\s+/g, " ").trim();
      if (said) { return said.slice(0, 600); }
    }
    return "";
  }

  function send(item) {
    var body = new URLSearchParams();
    item.fields.forEach(function (f) { body.append(f[0], f[1]); });
    return window.fetch(item.path, {
      method: item.method,
      body: body,
      credentials: "same-origin",
      cache: "no-store",
      // X-Saferoom-Poll: sent by the page, not by a person now, so it does not hold off the
      // idle logout (SessionLifetimeMiddleware), as the board's poll does not.
      headers: { "X-CSRFToken": csrfToken(), "HX-Request": "true", "X-Saferoom-Poll": "1" }
    }).then(function (response) {
      // Sent back to log in (or to the second step): the server did not do it.
      if (response.headers.get("HX-Redirect") || response.redirected ||
          response.status === 401 || response.status === 403) {
        return { kind: "login" };
      }
      if (response.ok) {
        return response.text().then(function (html) { return { kind: "sent", html: html }; });
      }
      if (REFUSED.indexOf(response.status) !== -1) {
        return response.text().then(function (html) {
          return { kind: "refused", message: messageOf(html) || "HTTP " + response.status };
        });
      }
      return { kind: "retry" }; // 5xx, 429: try again later
    }, function () { return { kind: "retry" }; });
  }

  function sendNext() {
    return writes.then(allEntries).then(function (entries) {
      var next = null;
      for (var i = 0; i < entries.length && !next; i += 1) {
        if (entries[i].owner === me.owner && entries[i].state !== "refused") { next = entries[i]; }
      }
      if (!next) { state = "idle"; return null; }
      return unseal(me.key, me.owner, next.body).then(function (item) {
        return send(item).then(function (outcome) {
          if (outcome.kind === "sent") {
            if (item.page === window.location.pathname && item.target) {
              lastSwap = { target: item.target, swap: item.swap, html: outcome.html };
            }
            return removeEntry(next.id).then(function () { return true; });
          }
          if (outcome.kind === "refused") {
            item.message = outcome.message;
            return seal(me.key, me.owner, item).then(function (body) {
              return writeSealed({ id: next.id, owner: next.owner, state: "refused", body: body, who: next.who });
            }).then(function () { return true; });
          }
          state = outcome.kind === "login" ? "login" : "waiting";
          return false;
        });
      }, function () {
        // Sealed under this person's tag but unreadable with their key: never sent, never
        // dropped silently; shown among the refusals for them to dismiss.
        var item = { label: "?", message: "", recordedAt: "" };
        return seal(me.key, me.owner, item).then(function (body) {
          return writeSealed({ id: next.id, owner: next.owner, state: "refused", body: body, who: next.who });
        }).then(function () { return true; });
      }).then(function (more) {
        return refresh().then(function () { return more ? sendNext() : null; });
      });
    });
  }

  function swapLast() {
    var swap = lastSwap;
    lastSwap = null;
    if (!swap || !window.htmx) { return; }
    var el = document.getElementById(swap.target);
    // Only where the page says the answer may be put back in (not the board: it polls).
    if (el && el.hasAttribute("data-offline-swap")) {
      window.htmx.swap(el, swap.html, { swapStyle: swap.swap });
    }
  }

  function sync() {
    if (syncing) { again = true; return Promise.resolve(); }
    if (!me || navigator.onLine === false) { render(); return Promise.resolve(); }
    syncing = true;
    again = false;
    state = "idle";
    render();
    var run = function () { return sendNext(); };
    var done = navigator.locks ? navigator.locks.request("saferoom-outbox-send", run) : run();
    return done.catch(function () { state = "waiting"; }).then(function () {
      syncing = false;
      swapLast();
      return refresh();
    }).then(function () {
      // A tap kept while the last one was being sent: send it now, not in 15 s.
      if (again && state === "idle" && counts.queued > 0) { return sync(); }
      return null;
    });
  }

  // --- Logging out ----------------------------------------------------------------------------

  function onLogout(event) {
    var form = event.target;
    if (!usable || !form.matches || !form.matches("form.logout")) { return; }
    if (form.getAttribute("data-outbox-checked") === "yes") { return; }
    event.preventDefault();
    var leave = function () {
      form.setAttribute("data-outbox-checked", "yes");
      form.submit();
    };
    writes.then(refresh).then(allEntries).then(function (entries) {
      var mine = counts.queued + counts.refused;
      if (me && mine > 0) { askAtLogout(leave); return; }
      // Nothing of anybody's left: take the outbox away altogether.
      if (entries.length === 0) { return wipe().then(leave); }
      leave();
    }).catch(leave);
  }

  function askAtLogout(leave) {
    var dialog = document.getElementById("outbox-logout");
    if (!dialog || !dialog.showModal) { leave(); return; }
    var say = document.getElementById("outbox-logout-text");
    var n = counts.queued;
    var parts = [];
    if (n > 0) { parts.push(text(say, n === 1 ? "data-text-one" : "data-text", n)); }
    if (counts.refused > 0) { parts.push(text(say, "data-text-refused", counts.refused)); }
    say.textContent = parts.join(" ");
    document.getElementById("outbox-stay").onclick = function () { dialog.close(); };
    document.getElementById("outbox-logout-anyway").onclick = function () { dialog.close(); leave(); };
    dialog.showModal();
    // Not an autofocus attribute: the page's own autofocus (the code box) must keep its turn.
    document.getElementById("outbox-stay").focus();
  }

  // --- Start ----------------------------------------------------------------------------------

  function readMeta(name) {
    var meta = document.querySelector('meta[name="' + name + '"]');
    if (!meta) { return null; }
    var value = { content: meta.getAttribute("content"), name: meta.getAttribute("data-name") };
    meta.setAttribute("content", ""); // the keys live on only inside the CryptoKeys
    return value;
  }

  function start() {
    if (!usable) { return; }
    var serverNow = document.querySelector('meta[name="server-now"]');
    if (serverNow) {
      var parsed = Date.parse(serverNow.content);
      if (!isNaN(parsed)) { skew = parsed - Date.now(); }
    }
    var key = readMeta("outbox-key"), directory = readMeta("outbox-directory");
    var owner = readMeta("outbox-owner");
    document.addEventListener("submit", onLogout);
    var dismiss = document.getElementById("outbox-dismiss");
    if (dismiss) {
      dismiss.addEventListener("click", function () {
        allEntries().then(function (entries) {
          return Promise.all(entries.filter(function (e) {
            return me && e.owner === me.owner && e.state === "refused";
          }).map(function (e) { return removeEntry(e.id); }));
        }).then(refresh);
      });
    }
    if (!key || !directory || !owner || !key.content) {
      // Not logged in: an outbox left empty is taken away; one with entries waits, sealed.
      allEntries().then(function (entries) {
        if (entries.length === 0) { return exists().then(function (yes) { return yes ? wipe() : null; }); }
        return null;
      }).catch(function () {});
      return;
    }
    Promise.all([importKey(key.content), importKey(directory.content)]).then(function (keys) {
      me = { owner: owner.content, name: owner.name || "", key: keys[0], directory: keys[1] };
      window.addEventListener("online", function () { sync(); });
      window.addEventListener("offline", render);
      window.setInterval(function () { if (counts.queued > 0 && !syncing) { sync(); } }, RETRY_MS);
      return refresh().then(sync);
    }).catch(function () { me = null; });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
