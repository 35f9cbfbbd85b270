/* Smartdesk operator workspace.
 *
 * The page is complete without this file: every action is a real form and a reload shows
 * the truth. This script makes it live and fast:
 *  - one WebSocket to /ws/operator/ (the protocol client is SmartdeskLive, live-fragment.js):
 *    an event carries its list row and message rendered once per view on the server, patched
 *    in place (coalesced per conversation); an event without them, or one that cannot be
 *    placed here, re-fetches the fragment through htmx, once per burst; resume after a
 *    reconnect from the confirmed watermark; reload when the server asks for a resync;
 *  - action errors (400/403/409) shown in the page; focus and scroll kept across refreshes;
 *  - the composer: reply / note, Ctrl+Enter sends, "/shortcut" opens the template picker;
 *  - the keyboard (shortcuts, Esc, focus after every action, the transfer picker) is in
 *    operator-keys.js.
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
  var pendingPanel = false;

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

  function busy(id) {
    // Do not wipe a form the operator is filling in: in the thread (snooze, transfer,
    // priority...) or in the card (goodwill points, the classifier's correction).
    var part = document.getElementById(id);
    if (!part) return false;
    if (part.querySelector("details[open]")) return true;
    var active = document.activeElement;
    return !!(active && part.contains(active) && active.matches("input, select, textarea"));
  }
  function threadBusy() { return busy("thread"); }

  function flush() {
    flushTimer = null;
    var parts = wanted;
    wanted = { list: false, thread: false, panel: false };
    var chain = Promise.resolve();
    if (parts.thread) {
      if (threadBusy() || threadPosts) {
        pendingThread = true;
      } else {
        // The thread first: opening it marks it read, which the list then shows.
        chain = chain.then(function () {
          if (!threadPosts) return ajax(threadUrl, "#thread");
          pendingThread = true; // an action answers with the thread: refresh after it
        });
      }
    }
    if (parts.panel) {
      if (busy("panel")) {
        pendingPanel = true; // refreshed when the form closes or loses focus
      } else {
        chain = chain.then(function () { return ajax(panelUrl, "#panel"); });
      }
    }
    if (parts.list) {
      chain = chain.then(function () {
        var list = document.getElementById("list");
        return ajax(list && list.dataset.refreshUrl, "#list");
      });
    }
    return chain;
  }

  function flushPending() {
    var parts = { thread: false, panel: false };
    if (pendingThread && !threadBusy() && !threadPosts) {
      pendingThread = false;
      parts.thread = parts.panel = true;
    }
    if (pendingPanel && !busy("panel")) {
      pendingPanel = false;
      parts.panel = true;
    }
    if (parts.thread || parts.panel) schedule(parts);
  }
  document.addEventListener("toggle", function (event) {
    if (event.target.closest && event.target.closest("#thread, #panel") && !event.target.open) {
      flushPending();
    }
  }, true);
  document.addEventListener("focusout", function () { setTimeout(flushPending, 0); });

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
    if (target && target.id === "thread" && config && config.verb === "get" && (threadBusy() || threadPosts)) {
      // A live refresh that was already on its way when the operator opened a menu or
      // started typing: keep their form, and refresh once they are done with it.
      detail.shouldSwap = false;
      pendingThread = true;
      return;
    }
    if (target && target.id === "panel" && config && config.verb === "get" && busy("panel")) {
      detail.shouldSwap = false; // the same for the card's forms
      pendingPanel = true;
      return;
    }
    if (target && target.id === "action-errors" && [400, 403, 409].indexOf(xhr.status) !== -1) {
      // A refused action: the server's explanation goes into the alert region.
      detail.shouldSwap = true;
      detail.isError = false;
      return;
    }
    if (target && target.id === "panel" && config && config.verb === "post" && [400, 409].indexOf(xhr.status) !== -1) {
      // A refused goodwill grant: the card comes back with the form open and the reason.
      detail.shouldSwap = true;
      detail.isError = false;
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

  // An action on the thread is on its way: its answer is the fresh thread. A live refresh
  // that lands first would replace the element the action's answer is aimed at (the answer,
  // and the focus placed after it, would be lost): it waits, and comes again after.
  var threadPosts = 0;

  document.body.addEventListener("htmx:beforeRequest", function (event) {
    var config = event.detail.requestConfig;
    if (config && config.verb === "post") {
      var errors = document.getElementById("action-errors");
      if (errors) errors.replaceChildren();
      var target = event.detail.target;
      if (target && target.id === "thread" && event.detail.xhr) {
        threadPosts += 1;
        event.detail.xhr.addEventListener("loadend", function () {
          threadPosts = Math.max(0, threadPosts - 1);
          setTimeout(flushPending, 0);
        });
      }
    }
  });

  // A reply on its way: what was sent, and what the operator typed in the box meanwhile. The
  // answer (the fresh thread, with an empty box) must not swallow words typed after Send.
  var sending = null;
  document.body.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    var body = document.getElementById("composer-body");
    if (elt && elt.id === "composer" && body) sending = { sent: body.value, typed: null };
  });
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    var body = document.getElementById("composer-body");
    if (sending && event.detail.target && event.detail.target.id === "thread" && body) {
      sending.typed = body.value;
    }
  });

  function typedAfterSend(record) {
    if (!record || record.typed === null || record.typed === record.sent) return "";
    // Typed on after the sent text (it stays in the box until the answer): keep the rest.
    if (record.typed.indexOf(record.sent) === 0) return record.typed.slice(record.sent.length).replace(/^\s+/, "");
    return record.typed; // the box was cleared and something new written
  }

  document.body.addEventListener("htmx:afterRequest", function (event) {
    var elt = event.detail.elt;
    if (elt && elt.id === "composer") {
      var record = sending;
      sending = null;
      if (event.detail.xhr.status < 300) {
        var body = document.getElementById("composer-body");
        if (body) body.value = typedAfterSend(record);
        closePicker();
      }
    }
  });

  // Our own successful actions: the thread came back in the response; list and panel follow
  // (the list through the socket when it is live and brings rows, as for anyone's action).
  var rowsComeLive = false;
  document.body.addEventListener("sd-changed", function () {
    schedule({ list: !(rowsComeLive && workspace.dataset.live === "live"), panel: true });
  });

  function scrollThreadToEnd() {
    var log = document.getElementById("thread-log");
    if (log) log.scrollTop = log.scrollHeight;
  }
  scrollThreadToEnd();

  /* ---------------------------------------------------------------- live patches ------- */

  /* A decorated event carries `html` rendered once per view on the server
   * (chats/live_render.py): the conversation's list row and, for the open thread, the
   * message. They are applied in place, coalesced per conversation over a short window, and
   * nothing is fetched. The list element says which conversations it shows (data-view,
   * data-user-id, data-team-ids...) and each row its status, team, assignee and sort keys, so
   * a pushed row is placed, moved or dropped without asking the server. Only when that cannot
   * be decided here (a paged list whose membership changes, an empty list) is the list
   * refetched, once per burst. */
  var PATCH_MS = 40;
  var rowPatches = new Map(); // conversation id -> row html ("" = no longer visible)
  var messagePatches = new Map(); // message id -> message html ("" = not shown to us)
  var deferredMessages = new Map(); // replacements held while the operator is inside one
  var patchTimer = null;
  var readUrl = workspace.dataset.readUrl || "";
  var readTimer = null;

  function decorated(message) {
    var html = message.html;
    if (!html || typeof html !== "object") return null;
    // A fragment rendered in another language than the page's: the page asks for its own.
    var page = (document.documentElement.lang || "").toLowerCase().split("-")[0];
    var lang = String(html.lang || page).toLowerCase().split("-")[0];
    return lang === page ? html : null;
  }

  // The id of the newest event whose fragment was taken, per row and per message: events
  // sent to different groups may arrive out of order, and an older fragment must not replace
  // a newer one.
  var newestIds = new Map();

  function isNewest(key, message) {
    var id = Number(message.id);
    if (!Number.isInteger(id)) return true;
    var seen = newestIds.get(key);
    if (seen !== undefined && id < seen) return false;
    if (newestIds.size > 5000) newestIds.clear();
    newestIds.set(key, id);
    return true;
  }

  function queuePatches(message, html) {
    rowsComeLive = true;
    var cid = Number(message.conversation_id);
    if (typeof html.row === "string" && isNewest("row-" + cid, message)) {
      rowPatches.set(cid, html.row);
    }
    if (typeof html.message === "string" && cid === conversationId && Number.isInteger(message.message_id) &&
        isNewest("message-" + message.message_id, message)) {
      messagePatches.set(message.message_id, html.message);
    }
    if (!patchTimer) patchTimer = setTimeout(applyPatches, PATCH_MS);
  }

  function applyPatches() {
    patchTimer = null;
    var rows = rowPatches;
    var messages = messagePatches;
    rowPatches = new Map();
    messagePatches = new Map();
    messages.forEach(function (html, id) { applyMessage(id, html); });
    rows.forEach(function (html, id) { applyRow(id, html); });
  }

  function fragmentOf(html) {
    var template = document.createElement("template");
    template.innerHTML = html.trim();
    var element = template.content.firstElementChild;
    return element && element.tagName === "LI" ? element : null;
  }

  function csrfInput() {
    return document.querySelector("input[name=csrfmiddlewaretoken]");
  }

  function withQuery(url, query) {
    return url && query && url.indexOf("?") === -1 ? url + query : url;
  }

  /* A shared fragment carries neither this page's list state nor its CSRF token: add them,
   * exactly as the page's own rendering would have. */
  function adopt(element, query) {
    element.querySelectorAll("a.row-link").forEach(function (link) {
      link.setAttribute("href", withQuery(link.getAttribute("href"), query));
    });
    element.querySelectorAll("form").forEach(function (form) {
      ["action", "hx-post"].forEach(function (name) {
        if (form.hasAttribute(name)) form.setAttribute(name, withQuery(form.getAttribute(name), query));
      });
      var token = csrfInput();
      if ((form.method || "").toLowerCase() === "post" && token && !form.querySelector("input[name=csrfmiddlewaretoken]")) {
        form.prepend(token.cloneNode(false));
      }
    });
  }

  /* ---- the list ---- */

  var listTimer = null;
  function refetchList() {
    // One refetch for a whole burst, never one per event.
    clearTimeout(listTimer);
    listTimer = setTimeout(function () { listTimer = null; schedule({ list: true }); }, DEBOUNCE_MS);
  }

  function teamsOf(list) {
    return (list.dataset.teamIds || "").split(" ").filter(Boolean);
  }

  /* Whether the list shown holds this row (chats.selectors.inbox, view by view); null when
   * the page cannot tell (a search, an unknown view). */
  function belongs(list, row) {
    var d = row.dataset;
    var deleted = d.deleted === "1";
    var open = !deleted && d.status === "open";
    var me = list.dataset.userId;
    switch (list.dataset.view) {
      case "mine": return open && d.assigneeId === me;
      case "queue":
        return open && !d.assigneeId && (list.dataset.scope === "all" || teamsOf(list).indexOf(d.teamId) !== -1);
      case "team": return open && !!d.teamId && teamsOf(list).indexOf(d.teamId) !== -1;
      case "all": return open;
      case "snoozed": return !deleted && d.status === "snoozed";
      case "closed": return !deleted && d.status === "closed";
      case "deleted": return deleted;
      default: return null;
    }
  }

  // Sort keys are "seconds.micros" strings of one width (or "" for none): they compare as text.
  function ascNullsLast(a, b) {
    if (a === b) return 0;
    if (!a) return 1;
    if (!b) return -1;
    return a < b ? -1 : 1;
  }

  function descNullsLast(a, b) {
    if (a === b) return 0;
    if (!a) return 1;
    if (!b) return -1;
    return a > b ? -1 : 1;
  }

  /* The list's own order (chats.selectors.inbox): negative when row `a` comes first. */
  function compare(view, a, b) {
    var x = a.dataset;
    var y = b.dataset;
    var byPk = Number(x.conversationId) - Number(y.conversationId);
    if (view === "closed" || view === "deleted") {
      return descNullsLast(x.closedAt, y.closedAt) || -byPk;
    }
    return (
      Number(y.priority) - Number(x.priority) ||
      ascNullsLast(x.waitingSince, y.waitingSince) ||
      descNullsLast(x.lastMessageAt, y.lastMessageAt) ||
      byPk
    );
  }

  function rowFocus(row) {
    var active = document.activeElement;
    return !!(row && active && row.contains(active));
  }

  function applyRow(cid, html) {
    var list = document.getElementById("list");
    if (!list) return;
    var existing = list.querySelector("li.row[data-conversation-id='" + cid + "']");
    var paged = list.dataset.paged === "1";
    if (html === "") {
      // No longer this user's to see (the server's gate said so).
      if (existing) {
        if (paged) refetchList();
        else removeRow(existing);
      }
      return;
    }
    var row = fragmentOf(html);
    if (!row) return refetchList();
    if (existing && (row.dataset.version || "") < (existing.dataset.version || "")) return; // older
    adopt(row, list.dataset.listQuery || "");
    var current = cid === Number(list.dataset.currentId || 0);
    if (current) {
      row.classList.add("is-current");
      var link = row.querySelector(".row-link");
      if (link) link.setAttribute("aria-current", "true");
      if (row.dataset.assigneeId && row.dataset.assigneeId === list.dataset.userId) {
        // The assignee has it open: what arrived is read (as the thread's reload marks it).
        row.classList.remove("is-unread");
        row.querySelectorAll(".badge-unread").forEach(function (badge) { badge.remove(); });
        markRead();
      }
    }
    var inList = belongs(list, row);
    if (inList === null) {
      // A search result: kept up to date in place; what newly matches shows on the next search.
      if (existing) replaceRow(existing, row);
      return;
    }
    if (!inList) {
      if (existing) {
        if (paged) refetchList();
        else removeRow(existing);
      }
      return;
    }
    var rows = list.querySelector("ul.rows");
    if (!rows) return refetchList(); // the list was empty: let the server build it
    var view = list.dataset.view;
    var before = null;
    var others = Array.prototype.filter.call(rows.children, function (li) { return li !== existing; });
    for (var i = 0; i < others.length; i += 1) {
      if (compare(view, row, others[i]) < 0) {
        before = others[i];
        break;
      }
    }
    if (paged) {
      // Entering or moving within one page of several: only the server knows the page.
      if (existing && before === nextRow(existing)) replaceRow(existing, row);
      else refetchList();
      return;
    }
    var focused = rowFocus(existing);
    if (existing) existing.remove();
    rows.insertBefore(row, before);
    if (focused) refocus(row);
    htmx.process(row);
  }

  function nextRow(li) {
    var next = li.nextElementSibling;
    return next && next.matches("li.row") ? next : null;
  }

  function refocus(row) {
    var link = row.querySelector(".row-link");
    if (link) link.focus({ preventScroll: true });
  }

  function replaceRow(existing, row) {
    var focused = rowFocus(existing);
    existing.replaceWith(row);
    if (focused) refocus(row);
    htmx.process(row);
  }

  function removeRow(existing) {
    var focused = rowFocus(existing);
    var neighbour = existing.nextElementSibling || existing.previousElementSibling;
    existing.remove();
    var rows = document.querySelector("#list ul.rows");
    if (rows && !rows.children.length) refetchList(); // "Nothing here." comes from the server
    if (focused) {
      var target = neighbour && neighbour.querySelector(".row-link");
      if (target) target.focus({ preventScroll: true });
      else {
        var fallback = document.querySelector(FALLBACK_FOCUS.list);
        if (fallback) fallback.focus({ preventScroll: true });
      }
    }
  }

  function markRead() {
    if (!readUrl || readTimer) return;
    readTimer = setTimeout(function () {
      readTimer = null;
      fetch(readUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": (csrfInput() || {}).value || "" },
      }).catch(function () { /* the next opening marks it read */ });
    }, DEBOUNCE_MS);
  }

  /* ---- the open thread ---- */

  function applyMessage(id, html) {
    var thread = document.getElementById("thread");
    if (!thread || Number(thread.dataset.conversationId) !== conversationId) return;
    var existing = document.getElementById("message-" + id);
    if (existing && existing.contains(document.activeElement)) {
      // The operator is on this message (its delete button): swap it once they leave it.
      deferredMessages.set(id, html);
      return;
    }
    if (html === "") {
      if (existing) existing.remove();
      return;
    }
    var element = fragmentOf(html);
    if (!element) return schedule({ thread: true });
    adopt(element, (document.getElementById("list") || workspace).dataset.listQuery || "");
    if (existing) {
      existing.replaceWith(element);
    } else {
      var timeline = thread.querySelector("ol.timeline");
      if (!timeline) return schedule({ thread: true });
      var log = document.getElementById("thread-log");
      var atBottom = !log || log.scrollHeight - log.scrollTop - log.clientHeight < 48;
      timeline.querySelectorAll("li.event-empty").forEach(function (li) { li.remove(); });
      timeline.appendChild(element);
      if (atBottom) scrollThreadToEnd();
    }
    htmx.process(element);
  }

  function flushDeferredMessages() {
    deferredMessages.forEach(function (html, id) {
      var existing = document.getElementById("message-" + id);
      if (existing && existing.contains(document.activeElement)) return;
      deferredMessages.delete(id);
      messagePatches.set(id, html);
      if (!patchTimer) patchTimer = setTimeout(applyPatches, PATCH_MS);
    });
  }
  document.addEventListener("focusout", function () { setTimeout(flushDeferredMessages, 0); });

  /* ---------------------------------------------------------------- live socket -------- */

  var awaiting = 0; // acknowledgements still due (resumed, subscribed) before we are live
  var live = null;

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

  function acknowledged() {
    awaiting = Math.max(0, awaiting - 1);
    if (awaiting === 0) {
      if (live) live.healthy();
      setStatus("live");
    }
  }

  function opened(state) {
    awaiting = state.resuming ? 1 : 0;
    if (!state.resuming && state.reconnecting) {
      // Nothing to resume from: whatever happened while we were away, fetch the truth.
      schedule({ list: true, thread: true, panel: true });
    }
    if (conversationId) {
      awaiting += 1;
      live.send({ type: "subscribe", conversation_id: conversationId });
    }
    if (awaiting === 0) {
      awaiting = 1;
      acknowledged();
    }
  }

  var STORE_LAST = "smartdesk.live.last";
  var newest = 0;

  function noteNewest(id) {
    // The newest event id this page has applied, for whoever inspects the page (the e2e
    // tests read it); resuming does not depend on it.
    if (!Number.isInteger(id) || id <= newest) return;
    newest = id;
    try { sessionStorage.setItem(STORE_LAST, String(id)); } catch (e) { /* storage off */ }
  }

  function handle(message) {
    noteNewest(message.id);
    // Other scripts of the page (the call pop-up) hear the same socket instead of opening one.
    document.dispatchEvent(new CustomEvent("smartdesk:live", { detail: message }));
    switch (message.type) {
      case "pong":
      case "hello":
      case "heartbeat":
        return;
      case "resumed":
      case "subscribed":
        acknowledged();
        return;
      case "error":
        if (message.conversation_id !== undefined) {
          acknowledged();
          if (Number(message.conversation_id) === conversationId) conversationGone();
        }
        return;
    }
    var mine = conversationId !== null && message.conversation_id === conversationId;
    var type = typeof message.type === "string" ? message.type : "";
    var isMessage = type.indexOf("message.") === 0;
    var html = decorated(message);
    if (type === "access.changed") {
      schedule({ list: true, thread: true, panel: true });
    } else if (html && (type.indexOf("conversation.") === 0 || isMessage)) {
      queuePatches(message, html);
      if (mine && html.row === "") {
        schedule({ thread: true }); // out of sight now: the thread's 404 says so
      } else if (mine && type === "conversation.changed" && message.change !== "message") {
        // A rare change to the open conversation (taken, snoozed, closed...): its header,
        // actions and card follow from the server.
        schedule({ thread: true, panel: true });
      } else if (mine && isMessage && typeof html.message !== "string") {
        schedule({ thread: true });
      }
    } else if (type === "conversation.changed") {
      schedule({ list: true, thread: mine, panel: mine });
    } else if (isMessage) {
      schedule({ list: true, thread: mine });
    }
    if (mine && type === "message.created" && message.kind === "inbound") {
      announce(t("newMessage", "New message in this conversation."));
    }
  }

  function start() {
    var after = workspace.dataset.liveAfter;
    live = window.SmartdeskLive.connect({
      path: workspace.dataset.wsPath,
      // The page shows everything up to the id it was rendered at: resume from there, so
      // events committed between rendering and connecting are not lost.
      watermark: after !== undefined && after !== "" ? Number(after) : null,
      onOpen: opened,
      onMessage: handle,
      onStatus: setStatus,
      onResync: function () { window.location.reload(); },
    });
  }

  window.addEventListener("pagehide", function () {
    if (live) live.stop();
  });
  window.addEventListener("pageshow", function (event) {
    if (event.persisted && live) live.start();
  });

  if ("WebSocket" in window && window.SmartdeskLive) start();

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

  // The keyboard shortcuts, Esc, focus after actions and the transfer picker:
  // static/js/operator-keys.js.
})();
