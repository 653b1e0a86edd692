/* Keeps the drug alerts banner (checking/_alerts_banner.html) current on desks and boards: every
   15 s it asks the server with the version it shows; 204 means unchanged. This is how an alert
   that expires drops off without any background job. Loaded by the banner itself, so it guards
   against running twice when the board swaps in a fresh banner. Plain fetch, not htmx: the
   board counts htmx requests as taps in progress. */
(function () {
  "use strict";
  if (window.saferoomAlerts) { return; }
  window.saferoomAlerts = true;
  var EVERY_MS = 15000;
  var inFlight = false;

  function refresh() {
    var el = document.getElementById("drug-alerts");
    if (!el || inFlight || document.hidden) { return; }
    inFlight = true;
    fetch(el.getAttribute("data-alerts-url"), {
      credentials: "same-origin",
      cache: "no-store",
      headers: {
        "X-Saferoom-Poll": "1",
        "If-None-Match": "\"" + el.getAttribute("data-alerts-version") + "\""
      }
    }).then(function (response) {
      if (response.status !== 200 || response.redirected) { return null; }
      return response.text();
    }).then(function (html) {
      var current = document.getElementById("drug-alerts");
      if (html && current && html.indexOf("id=\"drug-alerts\"") !== -1) { current.outerHTML = html; }
    }).catch(function () { /* the board and queue say when the server is unreachable */ })
      .then(function () { inFlight = false; });
  }

  window.setInterval(refresh, EVERY_MS);
})();
