/* The wallboard, live: conversation, presence and message events on the operator socket
 * re-render the fragment (debounced); waits tick every 15 s; the socket reconnects with
 * backoff. The page is complete without it: a reload shows the truth. */
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

  function refresh() {
    timer = null;
    var board = document.getElementById("wallboard");
    if (!board || !window.htmx) return;
    window.htmx.ajax("GET", board.dataset.refreshUrl, { source: board, target: board, swap: "outerHTML" });
  }

  function soon() {
    if (!timer) timer = setTimeout(refresh, 300);
  }

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    var ws = new WebSocket(scheme + "//" + window.location.host + "/ws/operator/");
    ws.addEventListener("open", function () {
      if (attempt > 0) soon();
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
    if (!document.getElementById("wallboard")) return;
    connect();
    setInterval(soon, 15000);
  });
})();
