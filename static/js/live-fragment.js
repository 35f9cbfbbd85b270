/* The operator socket's client side (protocol v2, docs/live.md), and a live fragment.
 *
 * `window.SmartdeskLive.connect(options)` holds one WebSocket to /ws/operator/ and keeps the
 * protocol's client rules, for this page and for operator.js (loaded after this file):
 *  - a confirmed watermark W: every event this user may see with an id <= W is on the page.
 *    It starts at the id the page was rendered at (`options.watermark`), and `heartbeat` /
 *    `resumed` frames advance it (so does `hello` when there is nothing to resume from);
 *  - the ids received above W, so that a duplicate (replayed, or heard through two groups) is
 *    dropped; trimmed whenever W advances;
 *  - on every (re)connect, `resume` with W and those ids: the server replays what is missing;
 *  - `hello` names the heartbeat period H: more than 2.5 × H without any frame means the
 *    connection is dead even if the browser has not noticed: drop it and reconnect, with
 *    backoff and jitter capped at 30 s. A server that says no `hello` gets no stale check,
 *    and a `ping` every 25 s instead (it kept presence before the heartbeat did).
 *
 * A live fragment: the element marked `data-live-fragment` (with `data-refresh-url` and
 * `data-tick-seconds`) is re-rendered (debounced) when the socket reports a change to
 * conversations or presence, and every tick so that waiting times move. The page is complete
 * without it: a reload shows the truth. Used by the queue view and the wallboard.
 */
(function () {
  "use strict";

  var MAX_BACKOFF_MS = 30000;
  var PING_MS = 25000;
  var STALE_FACTOR = 2.5;
  var MAX_SEEN = 1000;
  var CLOSE_UNAUTHENTICATED = 4401;
  var CLOSE_DEACTIVATED = 4403;

  function isId(value) {
    return typeof value === "number" && Number.isInteger(value) && value >= 0;
  }

  /* options: path, watermark (int or null), onMessage(message) for every frame that is not a
   * duplicate, onOpen({reconnecting, resuming}), onStatus(state: connecting | reconnecting |
   * stopped), onResync(reason). Returns {send, stop, start, healthy, watermark, seen}. */
  function connect(options) {
    var path = options.path || "/ws/operator/";
    var watermark = isId(options.watermark) ? options.watermark : null;
    var seen = new Set();
    var socket = null;
    var attempt = 0;
    var stopped = false;
    var reconnectTimer = null;
    var pingTimer = null;
    var staleTimer = null;
    var heartbeatMs = null;

    function status(state) {
      if (options.onStatus) options.onStatus(state);
    }

    function advance(lastId) {
      if (!isId(lastId) || (watermark !== null && lastId <= watermark)) return;
      watermark = lastId;
      seen.forEach(function (id) { if (id <= watermark) seen.delete(id); });
    }

    function remember(id) {
      seen.add(id);
      if (seen.size > MAX_SEEN) {
        // Only reachable without heartbeats (a server before protocol v2): the oldest id
        // becomes the watermark rather than letting the set grow for ever.
        var oldest = Math.min.apply(null, Array.from(seen));
        seen.delete(oldest);
        advance(oldest);
      }
    }

    function send(message) {
      if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
    }

    function watchStale() {
      clearTimeout(staleTimer);
      if (heartbeatMs === null || !socket) return;
      var ws = socket;
      staleTimer = setTimeout(function () {
        if (socket !== ws) return;
        // No frame for 2.5 heartbeats: the connection is dead. Do not wait for the browser's
        // own close handshake (it can take minutes on a dead link): reconnect now.
        abandon(ws);
        scheduleReconnect();
      }, STALE_FACTOR * heartbeatMs);
    }

    function abandon(ws) {
      if (socket === ws) socket = null;
      clearInterval(pingTimer);
      clearTimeout(staleTimer);
      try { ws.close(); } catch (e) { /* already closing */ }
    }

    function socketOrigin() {
      // The `ws` process, when it is not behind the pages' own origin (LIVE_SOCKET_ORIGIN).
      var meta = document.querySelector('meta[name="live-socket-origin"]');
      if (meta && meta.content) return meta.content;
      var scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
      return scheme + "//" + window.location.host;
    }

    function open() {
      if (stopped) return;
      reconnectTimer = null;
      var reconnecting = attempt > 0;
      status(reconnecting ? "reconnecting" : "connecting");
      var ws;
      try {
        ws = new WebSocket(socketOrigin() + path);
      } catch (e) {
        scheduleReconnect();
        return;
      }
      socket = ws;
      heartbeatMs = null;
      ws.addEventListener("open", function () {
        if (socket !== ws) return;
        var resuming = watermark !== null;
        if (resuming) {
          var held = Array.from(seen).sort(function (a, b) { return a - b; });
          send({ type: "resume", last_id: watermark, seen: held });
        }
        clearInterval(pingTimer);
        pingTimer = setInterval(function () {
          if (heartbeatMs === null) send({ type: "ping" });
        }, PING_MS);
        if (options.onOpen) options.onOpen({ reconnecting: reconnecting, resuming: resuming });
      });
      ws.addEventListener("message", function (event) {
        if (socket !== ws) return;
        var message;
        try {
          message = JSON.parse(event.data);
        } catch (e) {
          return;
        }
        if (message && typeof message === "object") receive(message, ws);
      });
      ws.addEventListener("close", function (event) {
        if (socket !== ws) return; // abandoned as stale: already reconnecting
        socket = null;
        clearInterval(pingTimer);
        clearTimeout(staleTimer);
        if (event.code === CLOSE_UNAUTHENTICATED || event.code === CLOSE_DEACTIVATED) {
          stopped = true;
          status("stopped");
          return;
        }
        scheduleReconnect();
      });
    }

    function receive(message, ws) {
      switch (message.type) {
        case "hello":
          if (typeof message.heartbeat === "number" && message.heartbeat > 0) {
            heartbeatMs = message.heartbeat * 1000;
          }
          // With a resume on its way, the resume answers up to where we are covered; the
          // hello's id would skip what is being replayed. Without one, start from here.
          if (watermark === null) advance(message.last_id);
          attempt = 0;
          break;
        case "heartbeat":
        case "resumed":
          advance(message.last_id);
          break;
        case "resync":
          stopped = true;
          abandon(ws);
          if (options.onResync) options.onResync(message.reason);
          return;
      }
      watchStale();
      if (isId(message.id)) {
        if ((watermark !== null && message.id <= watermark) || seen.has(message.id)) return;
        remember(message.id);
      }
      if (options.onMessage) options.onMessage(message);
    }

    function scheduleReconnect() {
      if (stopped || reconnectTimer) return;
      var delay = Math.min(MAX_BACKOFF_MS, 1000 * Math.pow(2, attempt));
      delay = delay / 2 + Math.random() * (delay / 2); // jitter: a restarted server is not stampeded
      attempt += 1;
      status("reconnecting");
      reconnectTimer = setTimeout(open, delay);
    }

    var client = {
      send: send,
      stop: function () {
        stopped = true;
        clearTimeout(reconnectTimer);
        reconnectTimer = null;
        if (socket) abandon(socket);
      },
      start: function () {
        if (socket || reconnectTimer) return;
        stopped = false;
        attempt = 0;
        open();
      },
      healthy: function () { attempt = 0; },
      watermark: function () { return watermark; },
      seen: function () { return Array.from(seen).sort(function (a, b) { return a - b; }); },
    };
    open();
    return client;
  }

  window.SmartdeskLive = { connect: connect };

  /* ---------------------------------------------------------------- live fragment ------ */

  var REFRESH_EVENTS = {
    "conversation.changed": true,
    "conversation.reassigned": true,
    "presence.changed": true,
    "message.created": true,
  };
  var timer = null;

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

  document.addEventListener("DOMContentLoaded", function () {
    var target = fragment();
    if (!target || !("WebSocket" in window)) return;
    var after = target.dataset.liveAfter;
    var client = connect({
      watermark: after !== undefined && after !== "" ? Number(after) : null,
      onOpen: function (state) {
        if (state.reconnecting) soon(); // whatever happened while we were away
      },
      onMessage: function (message) {
        // Other scripts of the page (alerts.js) hear the same socket, as on the inbox.
        document.dispatchEvent(new CustomEvent("smartdesk:live", { detail: message }));
        if (REFRESH_EVENTS[message.type]) soon();
      },
      onResync: function () { window.location.reload(); }, // too far behind: start afresh
    });
    window.addEventListener("pagehide", function () { client.stop(); });
    window.addEventListener("pageshow", function (event) { if (event.persisted) client.start(); });
    setInterval(soon, 1000 * (Number(target.dataset.tickSeconds) || 30));
  });
})();
