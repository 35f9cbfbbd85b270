/* Smartdesk screen-pop: the incoming call and the caller's card, before the operator answers.
 *
 * Listens on its own socket to /ws/operator/ (the server puts it in this user's group) and
 * reacts to call.* events only; operator.js ignores them. The dialog is non-modal so that an
 * operator typing a reply is not interrupted, but it is announced at once and reachable:
 * focus moves to it, Escape or "Close" dismisses it and gives focus back.
 * Also handles click-to-call buttons (.call-dial) in the customer card.
 */
(function () {
  "use strict";

  /* The texts come translated from the server, in the page's language: the inbox renders
   * them as JSON (#operator-strings, keys call*). English only if a page lacks them. */
  var t = {
    incoming: "Incoming call: %(name)s", outgoing: "Outgoing call",
    outgoingTo: "Outgoing call: %(name)s", unknown: "Unknown caller",
    withheld: "Number withheld", queue: "Queue", ringing: "Ringing…", answered: "Answered",
    ended: "Call ended: add a note if needed.", stopped: "Stopped ringing.",
    failed: "The call could not be placed", close: "Close", loading: "Loading the customer card…",
    dialFailed: "Could not start the call.",
  };
  try {
    var served = JSON.parse((document.getElementById("operator-strings") || {}).textContent || "{}");
    Object.keys(t).forEach(function (key) {
      var name = "call" + key.charAt(0).toUpperCase() + key.slice(1);
      if (typeof served[name] === "string") t[key] = served[name];
    });
  } catch (e) { /* keep the fallback */ }

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (e) {
      return "";
    }
  }

  /* ------------------------------------------------------------------ the dialog ---- */

  var dialog = null;
  var announcer = null;
  var current = null; // call id shown
  var returnFocus = null;

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text) node.textContent = text;
    return node;
  }

  function ensureDialog() {
    if (dialog) return dialog;
    announcer = el("div", { class: "visually-hidden", role: "alert", id: "callpop-announcer" });
    dialog = el("dialog", { id: "callpop", class: "callpop", "aria-labelledby": "callpop-title", tabindex: "-1" });
    var head = el("div", { class: "callpop-head" });
    head.appendChild(el("h2", { id: "callpop-title" }));
    var close = el("button", { type: "button", class: "callpop-close" }, t.close);
    close.addEventListener("click", hide);
    head.appendChild(close);
    dialog.appendChild(head);
    dialog.appendChild(el("p", { id: "callpop-status", role: "status" }));
    dialog.appendChild(el("div", { id: "callpop-body" }));
    dialog.addEventListener("keydown", function (event) {
      if (event.key === "Escape") {
        event.preventDefault();
        hide();
      }
    });
    document.body.appendChild(announcer);
    document.body.appendChild(dialog);
    return dialog;
  }

  function setStatus(text) {
    ensureDialog();
    document.getElementById("callpop-status").textContent = text;
  }

  function show(event) {
    ensureDialog();
    current = event.call_id;
    dialog.setAttribute("data-call-id", String(event.call_id));
    var who = event.customer_name || (event.caller ? event.caller : t.withheld);
    /* A replacer function: a name with "$&" in it is inserted as written. */
    var title = (event.direction === "outbound" ? t.outgoingTo : t.incoming)
      .replace("%(name)s", function () { return who; });
    document.getElementById("callpop-title").textContent = title;
    var status = t.ringing + (event.queue ? " · " + t.queue + " " + event.queue : "");
    if (!event.customer_id) status += " · " + t.unknown;
    setStatus(status);
    var body = document.getElementById("callpop-body");
    body.setAttribute("aria-busy", "true");
    body.textContent = t.loading;
    if (!dialog.open) {
      returnFocus = document.activeElement;
      dialog.show();
    }
    dialog.focus();
    announcer.textContent = title;
    fetch(event.card_url, { credentials: "same-origin", headers: { "HX-Request": "true" } })
      .then(function (response) { return response.ok ? response.text() : Promise.reject(response.status); })
      .then(function (html) {
        if (current !== event.call_id) return;
        body.innerHTML = html;
        body.removeAttribute("aria-busy");
        if (window.htmx) window.htmx.process(body);
      })
      .catch(function () { body.removeAttribute("aria-busy"); });
  }

  function hide() {
    if (!dialog || !dialog.open) return;
    dialog.close();
    current = null;
    if (returnFocus && typeof returnFocus.focus === "function") returnFocus.focus();
    returnFocus = null;
  }

  /* The card was rendered while the phone rang ("In the queue"): every later call.* event
   * names the call's state, shown on its card in the page's language (the card's
   * data-state-labels, translated by the server). */
  function showState(message) {
    if (!message.state || message.call_id === undefined) return;
    var cards = document.querySelectorAll('.call-card[data-call-id="' + String(message.call_id) + '"]');
    Array.prototype.forEach.call(cards, function (card) {
      var labels = {};
      try {
        labels = JSON.parse(card.getAttribute("data-state-labels") || "{}");
      } catch (e) { /* no labels: keep the state's name */ }
      card.setAttribute("data-call-state", message.state);
      var label = card.querySelector(".call-state");
      if (label) label.textContent = labels[message.state] || message.state;
    });
  }

  function handle(message) {
    if (!message || typeof message.type !== "string" || message.type.indexOf("call.") !== 0) return;
    if (message.type === "call.ringing") {
      show(message);
      return;
    }
    if (message.type === "call.failed") {
      failed(message);
      return;
    }
    showState(message);
    if (current === null || message.call_id !== current) return;
    if (message.type === "call.answered") setStatus(t.answered);
    else if (message.type === "call.ended") setStatus(t.ended);
    else if (message.type === "call.stopped") {
      announcer.textContent = t.stopped;
      hide();
    }
  }

  /* A click-to-call the PBX could not place. The words come from the button that started it
   * (data-failed-<reason>, translated by the server in the page's language); without that
   * button on the page any more, the dialog says it. */
  var dialing = 0; // click-to-call requests not answered yet
  var early = {}; // call id -> call.failed that beat the dial request's answer

  function failureText(button, reason) {
    var key = "data-failed-" + String(reason || "").replace(/_/g, "-");
    return button.getAttribute(key) || button.getAttribute("data-failed") || t.failed;
  }

  function failed(message) {
    var button = document.querySelector('.call-dial[data-call-id="' + String(message.call_id) + '"]');
    if (button) {
      var result = button.parentNode.querySelector(".call-dial-result");
      if (result) {
        result.textContent = failureText(button, message.reason);
        result.classList.add("call-dial-failed");
        return;
      }
    }
    if (dialing > 0) {
      early[message.call_id] = message;
      return;
    }
    ensureDialog();
    if (!dialog.open) {
      returnFocus = document.activeElement;
      dialog.show();
    }
    current = message.call_id;
    document.getElementById("callpop-title").textContent = t.outgoing;
    document.getElementById("callpop-body").textContent = "";
    setStatus(t.failed);
    announcer.textContent = t.failed;
    dialog.focus();
  }

  /* ------------------------------------------------------------------ the socket ---- */

  var attempt = 0;
  var stopped = false;
  var CLOSE_UNAUTHENTICATED = 4401;
  var CLOSE_DEACTIVATED = 4403;

  function connect() {
    if (stopped || !("WebSocket" in window)) return;
    var meta = document.querySelector('meta[name="live-socket-origin"]');
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var origin = meta && meta.content ? meta.content : scheme + window.location.host;
    var ws;
    try {
      ws = new WebSocket(origin + "/ws/operator/");
    } catch (e) {
      return retry();
    }
    var ping = null;
    ws.addEventListener("open", function () {
      attempt = 0;
      ping = setInterval(function () {
        if (ws.readyState === 1) ws.send(JSON.stringify({ type: "ping" }));
      }, 25000);
    });
    ws.addEventListener("message", function (event) {
      try {
        handle(JSON.parse(event.data));
      } catch (e) { /* not ours */ }
    });
    ws.addEventListener("close", function (event) {
      clearInterval(ping);
      if (event.code === CLOSE_UNAUTHENTICATED || event.code === CLOSE_DEACTIVATED) return;
      retry();
    });
  }

  function retry() {
    var delay = Math.min(30000, 1000 * Math.pow(2, attempt));
    attempt += 1;
    setTimeout(connect, delay / 2 + Math.random() * delay / 2);
  }

  window.addEventListener("pagehide", function () { stopped = true; });

  /* ------------------------------------------------------------- click-to-call ------- */

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest(".call-dial") : null;
    if (!button) return;
    event.preventDefault();
    var result = button.parentNode.querySelector(".call-dial-result");
    var form = new FormData();
    form.append("customer", button.getAttribute("data-customer-id"));
    button.disabled = true;
    button.removeAttribute("data-call-id");
    if (result) result.classList.remove("call-dial-failed");
    dialing += 1;
    fetch(button.getAttribute("data-dial-url"), {
      method: "POST",
      body: form,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken() },
    })
      .then(function (response) { return response.json().catch(function () { return {}; }); })
      .then(function (data) {
        if (result) result.textContent = data.detail || "";
        if (data.call_id) button.setAttribute("data-call-id", String(data.call_id));
      })
      .catch(function () { if (result) result.textContent = t.dialFailed; })
      .finally(function () {
        button.disabled = false;
        dialing -= 1;
        Object.keys(early).forEach(function (id) {
          var message = early[id];
          delete early[id];
          failed(message);
        });
      });
  });

  /* A refused call-card action (400/403/409) still shows the server's explanation. */
  document.addEventListener("htmx:beforeSwap", function (event) {
    var detail = event.detail;
    var target = detail.target;
    if (!target || [400, 403, 409].indexOf(detail.xhr.status) === -1) return;
    if (target.classList.contains("call-card") || target.id.indexOf("call-followup-result-") === 0) {
      detail.shouldSwap = true;
      detail.isError = false;
    }
  });

  window.SmartdeskCallPop = { handle: handle };
  if (document.getElementById("workspace")) {
    // The operator page already holds the socket (operator.js): listen to it, one socket a page.
    document.addEventListener("smartdesk:live", function (event) { handle(event.detail); });
  } else {
    connect();
  }
})();
