/* A live fragment: the element marked `data-live-fragment` (with `data-refresh-url` and
 * `data-tick-seconds`) is re-rendered (debounced) when the operator socket reports a change
 * to conversations or presence, and every tick so that waiting times move. The socket
 * reconnects with backoff. The page is complete without it: a reload shows the truth.
 * Used by the queue view and the wallboard. */
(function () {
  "use strict";
  var REFRESH_EVENTS = {
    "conversation.changed": true,
    "conversation.reassigned": true,
    "presence.changed": true,
    "message.created": true,
  };
  var timer = null;
  var attempt = 0;
  var pingTimer = null;

  function fragment() {
    return document.querySelector("[data-live-fragment]");
  }

  function refresh() {
    timer = null;
    var target = fragment();
    if (!target || !window.htmx) return;
    window.htmx.ajax("GET", target.dataset.refreshUrl, { source: target, target: target, swap: "outerHTML" });
  }

  function soon() {
    if (!timer) timer = setTimeout(refresh, 300);
  }

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    var ws = new WebSocket(scheme + "//" + window.location.host + "/ws/operator/");
    ws.addEventListener("open", function () {
      if (attempt > 0) soon(); // whatever happened while we were away
      attempt = 0;
      clearInterval(pingTimer);
      pingTimer = setInterval(function () {
        if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "ping" }));
      }, 25000);
    });
    ws.addEventListener("message", function (event) {
      var message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      if (message && REFRESH_EVENTS[message.type]) soon();
    });
    ws.addEventListener("close", function (event) {
      clearInterval(pingTimer);
      if (event.code === 4401 || event.code === 4403) return;
      attempt += 1;
      setTimeout(connect, Math.min(30000, 500 * Math.pow(2, attempt)));
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var target = fragment();
    if (!target) return;
    connect();
    setInterval(soon, 1000 * (Number(target.dataset.tickSeconds) || 30));
  });
})();
