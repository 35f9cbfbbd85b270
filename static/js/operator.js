/* Smartdesk operator workspace.
 *
 * The page is complete without this file: every action is a real form and a reload shows
 * the truth. This script makes it live and fast:
 *  - one WebSocket to /ws/operator/: on an event, re-fetch the list (and the open thread /
 *    panel) as server-rendered fragments through htmx; resume after a reconnect from the
 *    last event id kept in sessionStorage; reload when the server asks for a resync;
 *  - action errors (400/403/409) shown in the page; focus and scroll kept across refreshes;
 *  - the composer: reply / note, Ctrl+Enter sends, "/shortcut" opens the template picker;
 *  - keyboard shortcuts (j k r n / t s e ?), never while typing in a field.
 */
(function () {
  "use strict";

  var workspace = document.getElementById("workspace");
  if (!workspace || !window.htmx) return;

  var strings = {};
  try {
    strings = JSON.parse(document.getElementById("operator-strings").textContent);
  } catch (e) { /* untranslated fallbacks below */ }
  function t(key, fallback) { return strings[key] || fallback || key; }

  var conversationId = Number(workspace.dataset.conversationId) || null;
  var threadUrl = workspace.dataset.threadUrl || null;
  var panelUrl = workspace.dataset.panelUrl || null;
  var templatesUrl = workspace.dataset.templatesUrl || null;

  /* ---------------------------------------------------------------- fragments ---------- */

  var DEBOUNCE_MS = 150;
  var wanted = { list: false, thread: false, panel: false };
  var flushTimer = null;
  var pendingThread = false;

  function schedule(parts) {
    if (parts.list) wanted.list = true;
    if (parts.thread && conversationId) wanted.thread = true;
    if (parts.panel && conversationId) wanted.panel = true;
    // Coalesce a burst of events into one refresh of each fragment.
    if (!flushTimer) flushTimer = setTimeout(flush, DEBOUNCE_MS);
  }

  function ajax(url, selector, swap) {
    var target = document.querySelector(selector);
    if (!url || !target) return Promise.resolve();
    return Promise.resolve(
      htmx.ajax("GET", url, { source: target, target: target, swap: swap || "outerHTML" })
    ).catch(function () { /* network error: the next event or a reload catches up */ });
  }

  function threadBusy() {
    // Do not wipe a form the operator is filling in (snooze, transfer, priority...).
    var thread = document.getElementById("thread");
    if (!thread) return false;
    if (thread.querySelector("details[open]")) return true;
    var active = document.activeElement;
    return !!(active && thread.contains(active) && active.matches("input, select, textarea"));
  }

  function flush() {
    flushTimer = null;
    var parts = wanted;
    wanted = { list: false, thread: false, panel: false };
    var chain = Promise.resolve();
    if (parts.thread) {
      if (threadBusy()) {
        pendingThread = true;
      } else {
        // The thread first: opening it marks it read, which the list then shows.
        chain = chain.then(function () { return ajax(threadUrl, "#thread"); });
      }
    }
    if (parts.panel) chain = chain.then(function () { return ajax(panelUrl, "#panel"); });
    if (parts.list) {
      chain = chain.then(function () {
        var list = document.getElementById("list");
        return ajax(list && list.dataset.refreshUrl, "#list");
      });
    }
    return chain;
  }

  function flushPendingThread() {
    if (pendingThread && !threadBusy()) {
      pendingThread = false;
      schedule({ thread: true, panel: true });
    }
  }
  document.addEventListener("toggle", function (event) {
    if (event.target.closest && event.target.closest("#thread") && !event.target.open) {
      flushPendingThread();
    }
  }, true);
  document.addEventListener("focusout", function () { setTimeout(flushPendingThread, 0); });

  function announce(text) {
    var region = document.getElementById("live-announcer");
    if (!region) return;
    region.textContent = "";
    setTimeout(function () { region.textContent = text; }, 30);
  }

  function conversationGone() {
    var thread = document.getElementById("thread");
    if (thread) {
      var notice = document.createElement("p");
      notice.className = "notice notice-gone";
      notice.tabIndex = -1;
      notice.textContent = t("gone", "This conversation is no longer available to you.");
      var hadFocus = thread.contains(document.activeElement);
      thread.replaceChildren(notice);
      if (hadFocus) notice.focus();
    }
    var composer = document.getElementById("composer");
    if (composer) composer.hidden = true;
    conversationId = null;
    schedule({ list: true });
  }

  /* Focus and scroll survive a swap of the list, the thread or the panel. */
  var swapping = {};
  var FALLBACK_FOCUS = { thread: "#thread-heading", list: "#list .row-link", panel: "#panel-heading" };

  document.body.addEventListener("htmx:beforeSwap", function (event) {
    var detail = event.detail;
    var xhr = detail.xhr;
    if (xhr.responseURL && xhr.responseURL.indexOf("/accounts/login/") !== -1) {
      detail.shouldSwap = false;
      window.location.reload(); // the session ended: let the login page take over
      return;
    }
    var target = detail.target;
    var config = detail.requestConfig;
    if (target && target.id === "thread" && config && config.verb === "get" && threadBusy()) {
      // A live refresh that was already on its way when the operator opened a menu or
      // started typing: keep their form, and refresh once they are done with it.
      detail.shouldSwap = false;
      pendingThread = true;
      return;
    }
    if (target && target.id === "action-errors" && [400, 403, 409].indexOf(xhr.status) !== -1) {
      // A refused action: the server's explanation goes into the alert region.
      detail.shouldSwap = true;
      detail.isError = false;
      return;
    }
    if (target && FALLBACK_FOCUS[target.id] && detail.shouldSwap) {
      var active = document.activeElement;
      var log = document.getElementById("thread-log");
      swapping[target.id] = {
        inside: !!(active && target.contains(active)),
        focusId: active && target.contains(active) ? active.id : "",
        atBottom: !log || log.scrollHeight - log.scrollTop - log.clientHeight < 48,
      };
    }
  });

  document.body.addEventListener("htmx:afterSettle", function () {
    Object.keys(swapping).forEach(function (id) {
      var record = swapping[id];
      delete swapping[id];
      if (record.inside) {
        var again = record.focusId && document.getElementById(record.focusId);
        var fallback = again || document.querySelector(FALLBACK_FOCUS[id]);
        if (fallback && document.activeElement !== fallback) fallback.focus({ preventScroll: !!again });
      }
      if (id === "thread" && record.atBottom) scrollThreadToEnd();
    });
  });

  document.body.addEventListener("htmx:responseError", function (event) {
    var target = event.detail.target;
    if (event.detail.xhr.status === 404 && target && target.id === "thread") conversationGone();
  });

  document.body.addEventListener("htmx:beforeRequest", function (event) {
    var config = event.detail.requestConfig;
    if (config && config.verb === "post") {
      var errors = document.getElementById("action-errors");
      if (errors) errors.replaceChildren();
    }
  });

  document.body.addEventListener("htmx:afterRequest", function (event) {
    var elt = event.detail.elt;
    if (elt && elt.id === "composer" && event.detail.xhr.status < 300) {
      var body = document.getElementById("composer-body");
      if (body) body.value = "";
      closePicker();
    }
  });

  // Our own successful actions: the thread came back in the response; list and panel follow.
  document.body.addEventListener("sd-changed", function () {
    schedule({ list: true, panel: true });
  });

  function scrollThreadToEnd() {
    var log = document.getElementById("thread-log");
    if (log) log.scrollTop = log.scrollHeight;
  }
  scrollThreadToEnd();

  /* ---------------------------------------------------------------- live socket -------- */

  var STORE_LAST = "smartdesk.live.last";
  var STORE_SEEN = "smartdesk.live.seen";
  var MAX_SEEN = 500;
  var PING_MS = 25000;
  var MAX_BACKOFF_MS = 30000;
  var CLOSE_UNAUTHENTICATED = 4401;
  var CLOSE_DEACTIVATED = 4403;

  function readSeen() {
    try {
      var stored = JSON.parse(sessionStorage.getItem(STORE_SEEN) || "[]");
      return Array.isArray(stored) ? stored.filter(Number.isInteger).slice(-MAX_SEEN) : [];
    } catch (e) {
      return [];
    }
  }
  var seen = readSeen();
  var seenSet = new Set(seen);
  var lastId = Number(sessionStorage.getItem(STORE_LAST)) || null;
  // The page shows everything up to the id it was rendered at: resume from there, so events
  // committed between rendering and connecting are not lost (and older ones not replayed).
  if (workspace.dataset.liveAfter !== undefined && workspace.dataset.liveAfter !== "") {
    lastId = Number(workspace.dataset.liveAfter);
  }

  function persist() {
    try {
      sessionStorage.setItem(STORE_SEEN, JSON.stringify(seen));
      if (lastId !== null) sessionStorage.setItem(STORE_LAST, String(lastId));
      else sessionStorage.removeItem(STORE_LAST);
    } catch (e) { /* storage full or disabled: live still works, resume does not */ }
  }

  function remember(id) {
    seenSet.add(id);
    seen.push(id);
    while (seen.length > MAX_SEEN) seenSet.delete(seen.shift());
    if (lastId === null || id > lastId) lastId = id;
    persist();
  }

  function forgetAll() {
    seen = [];
    seenSet = new Set();
    lastId = null;
    persist();
  }

  var socket = null;
  var attempt = 0;
  var stopped = false;
  var pingTimer = null;
  var reconnectTimer = null;
  var awaiting = 0; // acknowledgements still due (resumed, subscribed) before we are live

  var STATUS_TEXT = {
    connecting: function () { return t("connecting", "Connecting…"); },
    reconnecting: function () { return t("reconnecting", "Offline, reconnecting…"); },
    live: function () { return t("live", "Live"); },
    stopped: function () { return t("stopped", "Live updates stopped: reload the page."); },
  };

  function setStatus(state) {
    workspace.dataset.live = state;
    var el = document.getElementById("live-status");
    if (el) {
      el.dataset.state = state;
      el.textContent = STATUS_TEXT[state] ? STATUS_TEXT[state]() : "";
    }
  }

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  }

  function acknowledged() {
    awaiting = Math.max(0, awaiting - 1);
    if (awaiting === 0) {
      attempt = 0;
      setStatus("live");
    }
  }

  function connect() {
    if (stopped) return;
    reconnectTimer = null;
    var reconnecting = attempt > 0;
    setStatus(reconnecting ? "reconnecting" : "connecting");
    var scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    var ws;
    try {
      ws = new WebSocket(scheme + "//" + window.location.host + workspace.dataset.wsPath);
    } catch (e) {
      scheduleReconnect();
      return;
    }
    socket = ws;
    ws.addEventListener("open", function () {
      awaiting = 0;
      if (lastId !== null) {
        awaiting += 1;
        send({ type: "resume", last_id: lastId, seen: seen.slice(-MAX_SEEN) });
      } else if (reconnecting) {
        // Nothing to resume from: whatever happened while we were away, fetch the truth.
        schedule({ list: true, thread: true, panel: true });
      }
      if (conversationId) {
        awaiting += 1;
        send({ type: "subscribe", conversation_id: conversationId });
      }
      if (awaiting === 0) acknowledged();
      clearInterval(pingTimer);
      pingTimer = setInterval(function () { send({ type: "ping" }); }, PING_MS);
    });
    ws.addEventListener("message", function (event) {
      var message;
      try {
        message = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      if (message && typeof message === "object") handle(message);
    });
    ws.addEventListener("close", function (event) {
      clearInterval(pingTimer);
      if (socket === ws) socket = null;
      if (event.code === CLOSE_UNAUTHENTICATED || event.code === CLOSE_DEACTIVATED) {
        stopped = true;
        setStatus("stopped");
        return;
      }
      scheduleReconnect();
    });
  }

  function scheduleReconnect() {
    if (stopped || reconnectTimer) return;
    var delay = Math.min(MAX_BACKOFF_MS, 1000 * Math.pow(2, attempt));
    delay = delay / 2 + Math.random() * (delay / 2); // jitter: a restarted server is not stampeded
    attempt += 1;
    setStatus("reconnecting");
    reconnectTimer = setTimeout(connect, delay);
  }

  function handle(message) {
    // Other scripts of the page (the call pop-up) hear the same socket instead of opening one.
    document.dispatchEvent(new CustomEvent("smartdesk:live", { detail: message }));
    switch (message.type) {
      case "pong":
        return;
      case "resumed":
      case "subscribed":
        acknowledged();
        return;
      case "resync":
        forgetAll(); // never loop: after the reload we start from the page itself
        stopped = true;
        window.location.reload();
        return;
      case "error":
        if (message.conversation_id !== undefined) {
          acknowledged();
          if (Number(message.conversation_id) === conversationId) conversationGone();
        }
        return;
    }
    if (Number.isInteger(message.id)) {
      if (seenSet.has(message.id)) return; // replayed or heard through two groups
      remember(message.id);
    }
    var mine = conversationId !== null && message.conversation_id === conversationId;
    if (message.type === "access.changed") {
      schedule({ list: true, thread: true, panel: true });
    } else if (message.type === "conversation.changed") {
      schedule({ list: true, thread: mine, panel: mine });
    } else if (typeof message.type === "string" && message.type.indexOf("message.") === 0) {
      schedule({ list: true, thread: mine });
      if (mine && message.type === "message.created" && message.kind === "inbound") {
        announce(t("newMessage", "New message in this conversation."));
      }
    }
  }

  window.addEventListener("pagehide", function () {
    stopped = true;
    if (socket) socket.close();
  });
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) {
      stopped = false;
      attempt = 0;
      connect();
    }
  });

  if ("WebSocket" in window) connect();

  /* ---------------------------------------------------------------- composer ----------- */

  var composer = document.getElementById("composer");
  var body = document.getElementById("composer-body");
  var picker = document.getElementById("template-picker");
  var pickerStatus = document.getElementById("picker-status");
  var pickerQuery = null;
  var pickerTimer = null;
  // "/" at the start or after a space, then the letters of a shortcut, right before the caret.
  var TOKEN = /(^|\s)\/([\p{L}\p{N}_-]*)$/u;

  function isNote() {
    var note = composer && composer.querySelector("input[name=kind][value=note]");
    return !!(note && note.checked);
  }

  function updateMode() {
    if (!composer) return;
    var note = isNote();
    composer.classList.toggle("is-note", note);
    var label = document.getElementById("composer-label");
    if (label) label.textContent = note ? t("noteLabel") : t("replyLabel");
    var button = document.getElementById("composer-send");
    if (button) button.textContent = note ? t("note") : t("reply");
  }

  function compose(kind) {
    if (!composer || composer.hidden) return;
    var radio = composer.querySelector("input[name=kind][value=" + kind + "]");
    if (radio) radio.checked = true;
    updateMode();
    body.focus();
  }

  function currentToken() {
    if (!body || body.selectionStart !== body.selectionEnd) return null;
    var caret = body.selectionStart;
    var match = TOKEN.exec(body.value.slice(0, caret));
    if (!match) return null;
    return { start: caret - match[2].length - 1, end: caret, query: match[2] };
  }

  function options() {
    return picker ? Array.prototype.slice.call(picker.querySelectorAll("[role=option]")) : [];
  }

  function usable(option) { return option.getAttribute("aria-disabled") !== "true"; }

  function activate(option) {
    options().forEach(function (o) { o.setAttribute("aria-selected", o === option ? "true" : "false"); });
    if (option) {
      body.setAttribute("aria-activedescendant", option.id);
      option.scrollIntoView({ block: "nearest" });
    } else {
      body.removeAttribute("aria-activedescendant");
    }
  }

  function activeOption() {
    return picker ? picker.querySelector("[role=option][aria-selected=true]") : null;
  }

  function move(step) {
    var usableOptions = options().filter(usable);
    if (!usableOptions.length) return;
    var index = usableOptions.indexOf(activeOption());
    index = index === -1 ? 0 : (index + step + usableOptions.length) % usableOptions.length;
    activate(usableOptions[index]);
  }

  function closePicker() {
    if (!picker) return;
    clearTimeout(pickerTimer);
    pickerQuery = null;
    picker.hidden = true;
    picker.replaceChildren();
    if (body) {
      body.removeAttribute("aria-activedescendant");
      body.removeAttribute("aria-controls");
      body.removeAttribute("aria-autocomplete");
    }
    if (pickerStatus) pickerStatus.textContent = "";
  }

  function openPickerFor(query) {
    if (query === pickerQuery) return;
    pickerQuery = query;
    clearTimeout(pickerTimer);
    pickerTimer = setTimeout(function () {
      htmx.ajax("GET", templatesUrl + "?q=" + encodeURIComponent(query), {
        source: picker, target: picker, swap: "innerHTML",
      });
    }, 60);
  }

  function insert(option) {
    var token = currentToken();
    if (!option || !usable(option) || !token) return;
    body.setRangeText(option.dataset.text || "", token.start, token.end, "end");
    closePicker();
    body.focus();
    // A template may name an ingredient: warn now, not only when sending.
    if (!isNote()) checkAllergies(body.value).then(showAllergyWarning);
  }

  if (composer && body) {
    updateMode();
    composer.addEventListener("change", function (event) {
      if (event.target.name === "kind") updateMode();
    });
    body.addEventListener("input", function () {
      var token = templatesUrl ? currentToken() : null;
      if (token) openPickerFor(token.query);
      else closePicker();
    });
    body.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        closePicker();
        composer.requestSubmit();
        return;
      }
      if (!picker || picker.hidden) return;
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        move(event.key === "ArrowDown" ? 1 : -1);
      } else if ((event.key === "Enter" || event.key === "Tab") && !event.shiftKey && activeOption()) {
        event.preventDefault();
        insert(activeOption());
      } else if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        closePicker();
      }
    });
    body.addEventListener("blur", function () {
      setTimeout(function () { if (document.activeElement !== body) closePicker(); }, 150);
    });
  }

  /* Allergy safety: before a reply goes out, ask the server whether it names one of the
   * customer's allergies (an ingredient, or a product that contains one). A conflict shows
   * a warning with "Send anyway"; the reply is sent only after that. A failed check never
   * blocks sending. Notes are for colleagues and are not checked. */
  var allergyUrl = composer ? composer.dataset.allergyCheckUrl : null;
  var allergyBox = document.getElementById("allergy-warning");
  var allergyText = document.getElementById("allergy-warning-text");
  var allergyConfirmed = null; // the exact text the operator chose to send anyway

  function csrfToken() {
    var input = composer && composer.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function hideAllergyWarning() {
    if (allergyBox) allergyBox.hidden = true;
  }

  function checkAllergies(text) {
    if (!allergyUrl || !text.trim()) return Promise.resolve(null);
    var data = new URLSearchParams();
    data.set("body", text);
    return fetch(allergyUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), "Content-Type": "application/x-www-form-urlencoded" },
      body: data.toString(),
    }).then(function (response) {
      return response.ok ? response.json() : null;
    }).catch(function () { return null; });
  }

  function showAllergyWarning(result) {
    if (!allergyBox || !result || !result.conflicts || !result.conflicts.length) {
      hideAllergyWarning();
      return false;
    }
    allergyText.textContent = result.message;
    allergyBox.hidden = false;
    return true;
  }

  if (composer && body && allergyUrl) {
    composer.addEventListener("htmx:confirm", function (event) {
      // Only the send itself (the template picker's requests bubble up here too).
      if (event.target !== composer) return;
      if (isNote() || !body.value.trim() || body.value === allergyConfirmed) return;
      event.preventDefault();
      var text = body.value;
      checkAllergies(text).then(function (result) {
        if (body.value !== text) return; // edited meanwhile: the next send checks again
        if (showAllergyWarning(result)) {
          var anyway = document.getElementById("allergy-send-anyway");
          if (anyway) anyway.focus();
          return;
        }
        event.detail.issueRequest(true);
      });
    });
    body.addEventListener("input", function () {
      if (allergyBox && !allergyBox.hidden) hideAllergyWarning();
    });
    document.getElementById("allergy-send-anyway").addEventListener("click", function () {
      allergyConfirmed = body.value;
      hideAllergyWarning();
      composer.requestSubmit();
    });
    document.getElementById("allergy-edit").addEventListener("click", function () {
      hideAllergyWarning();
      body.focus();
    });
    composer.addEventListener("htmx:afterRequest", function (event) {
      if (event.target === composer) allergyConfirmed = null;
    });
  }

  // An offer from the customer card goes into the reply at the caret (then checked, too).
  document.body.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-insert-text]");
    if (!button || !body || !composer || composer.hidden) return;
    compose("reply");
    body.setRangeText(button.dataset.insertText, body.selectionStart, body.selectionEnd, "end");
    body.focus();
    checkAllergies(body.value).then(showAllergyWarning);
  });

  if (picker) {
    picker.addEventListener("mousedown", function (event) { event.preventDefault(); });
    picker.addEventListener("click", function (event) {
      var option = event.target.closest("[role=option]");
      if (option) insert(option);
    });
    picker.addEventListener("htmx:afterSwap", function () {
      if (!currentToken() || pickerQuery === null) {
        closePicker();
        return;
      }
      picker.hidden = false;
      var list = picker.querySelector("[data-count]");
      var count = list ? Number(list.dataset.count) : 0;
      if (count) {
        body.setAttribute("aria-controls", "template-options");
        body.setAttribute("aria-autocomplete", "list");
      }
      activate(options().filter(usable)[0] || null);
      if (pickerStatus) {
        pickerStatus.textContent = count
          ? t("templates", "%(n)s templates.").replace("%(n)s", String(count))
          : t("noTemplates", "No template starts with this shortcut.");
      }
    });
  }

  /* ---------------------------------------------------------------- shortcuts ---------- */

  var help = document.getElementById("shortcuts-help");
  var helpButton = document.getElementById("shortcuts-button");
  function openHelp() {
    if (help && !help.open && help.showModal) help.showModal();
  }
  if (helpButton && help && help.showModal) {
    helpButton.hidden = false;
    helpButton.addEventListener("click", openHelp);
  }

  function typing(target) {
    return !!(target && (target.isContentEditable || (target.closest && target.closest("input, textarea, select"))));
  }

  function openConversation(step) {
    var links = Array.prototype.slice.call(document.querySelectorAll("#list .row-link"));
    if (!links.length) return;
    var from = links.indexOf(document.activeElement);
    if (from === -1) from = links.findIndex(function (a) { return a.getAttribute("aria-current") === "true"; });
    var next = from === -1 ? (step > 0 ? links[0] : links[links.length - 1]) : links[from + step];
    if (next) window.location.assign(next.href);
  }

  function press(id) {
    var button = document.getElementById(id);
    if (button && !button.disabled) {
      button.focus();
      button.click();
    }
  }

  function openSnooze() {
    var details = document.getElementById("snooze-details");
    if (!details) return;
    details.open = true;
    var first = details.querySelector("input[name=preset]:checked") || details.querySelector("input, select");
    if (first) first.focus();
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target)) return;
    if (document.querySelector("dialog[open]")) return;
    switch (event.key) {
      case "j": openConversation(1); break;
      case "k": openConversation(-1); break;
      case "r": compose("reply"); break;
      case "n": compose("note"); break;
      case "/": {
        var search = document.getElementById("search-q");
        if (!search) return;
        search.focus();
        search.select();
        break;
      }
      case "t": press("action-take"); break;
      case "s": openSnooze(); break;
      case "e": press("action-close"); break;
      case "?": openHelp(); break;
      default: return;
    }
    event.preventDefault();
  });
})();
