/* Smartdesk alerts: an operator whose Smartdesk tab is in the background hears of
 * a customer message in one of their conversations, or of a conversation assigned to them:
 *  - a count in the tab title, "(3) Inbox · Smartdesk", while the tab is hidden; cleared when
 *    the operator comes back to it;
 *  - a desktop notification (the Notification API) while the tab is hidden: who wrote and the
 *    start of what they wrote; a click brings the tab forward and opens the conversation;
 *  - a short tone (WebAudio, no file) unless the operator is looking at this very tab, and
 *    only once they have used the tab (the browser's autoplay policy).
 *
 * What the operator switched on comes from the page (templates/accounts/_alerts.html: all off
 * under "reduced distraction"), and so do the texts, translated there. The events are the
 * operator socket's frames, re-dispatched by the page's socket owner (operator.js,
 * live-fragment.js) as `smartdesk:live`: `message.created` of kind "inbound" names the
 * conversation's assignee; `conversation.changed` carries the assignee and, rendered for this
 * user's view, the list row: the customer's name and the preview come from it, as the inbox
 * shows them. Nothing here talks to the server.
 *
 * Permission for notifications is asked only on the operator's click (the preferences page:
 * the "desktop notifications" box and the "Enable desktop notifications" button), never on load.
 */
(function () {
  "use strict";

  var script = document.getElementById("alerts-script");
  if (!script) return;
  var config = script.dataset;
  var me = Number(config.userId);
  var want = { sound: !!config.sound, desktop: !!config.desktop, title: !!config.title };

  // A change that gives the operator a conversation (taken by them elsewhere counts as well:
  // the event does not say who acted).
  var ASSIGNING = { assigned: true, transferred: true, reassigned: true };
  var ROW_WAIT_MS = 1500; // how long a message's notification waits for the row that follows
  var FRESH_MS = 5000; // a row older than this says nothing about the newest message
  var PREVIEW_CHARS = 80;
  var TONE_GAP_MS = 1500; // a burst (a replay after a reconnect) rings once
  var URL_PLACEHOLDER = "2147483647";

  function say(template, name) {
    return String(template || "").replace("{name}", function () { return name; });
  }

  function away() {
    return document.visibilityState === "hidden";
  }

  function attentive() {
    return !away() && document.hasFocus();
  }

  function supported() {
    return "Notification" in window;
  }

  function permission() {
    return supported() ? window.Notification.permission : "unsupported";
  }

  /* ---------------------------------------------------------------- permission --------- */

  function setUpPermission() {
    var button = document.getElementById("alerts-enable-desktop");
    if (!button) return;
    var box = document.getElementById("id_alert_desktop");
    var granted = document.getElementById("alerts-permission-granted");
    var denied = document.getElementById("alerts-permission-denied");

    function show() {
      var on = box ? box.checked : want.desktop;
      var state = permission();
      button.hidden = !(on && state === "default");
      if (granted) granted.hidden = !(on && state === "granted");
      if (denied) denied.hidden = !(on && state === "denied");
    }

    function ask() {
      if (permission() !== "default") return show();
      var answer = null;
      try {
        answer = window.Notification.requestPermission();
      } catch (e) { /* a browser without the promise form: the button stays */ }
      if (answer && typeof answer.then === "function") answer.then(show, show);
      else show();
    }

    button.addEventListener("click", ask);
    if (box) {
      box.addEventListener("change", function () {
        if (box.checked) ask(); // a click: the one moment the browser may ask
        else show();
      });
    }
    show();
  }

  /* ---------------------------------------------------------------- title count -------- */

  var unseen = 0;
  var COUNTED = /^\(\d+\) /;

  function renderTitle() {
    var base = document.title.replace(COUNTED, "");
    document.title = unseen ? "(" + unseen + ") " + base : base;
  }

  document.addEventListener("visibilitychange", function () {
    if (!away() && unseen) {
      unseen = 0;
      renderTitle();
    }
  });

  /* ---------------------------------------------------------------- tone --------------- */

  var audio = null;
  var lastTone = 0;

  function unlock() {
    // Created inside the operator's own gesture, so the browser lets it play later.
    if (!want.sound || audio) return;
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return;
    try {
      audio = new Context();
    } catch (e) {
      audio = null;
    }
  }

  ["pointerdown", "keydown"].forEach(function (type) {
    document.addEventListener(type, unlock, { capture: true, passive: true });
  });

  function tone() {
    if (!audio) return; // the operator has not used this tab yet: the browser would refuse
    var now = Date.now();
    if (now - lastTone < TONE_GAP_MS) return;
    lastTone = now;
    try {
      if (audio.state === "suspended" && audio.resume) audio.resume();
      var start = audio.currentTime;
      [[880, 0], [1318.5, 0.14]].forEach(function (note) {
        var at = start + note[1];
        var oscillator = audio.createOscillator();
        var gain = audio.createGain();
        oscillator.type = "sine";
        oscillator.frequency.value = note[0];
        gain.gain.setValueAtTime(0.0001, at);
        gain.gain.exponentialRampToValueAtTime(0.18, at + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.24);
        oscillator.connect(gain);
        gain.connect(audio.destination);
        oscillator.start(at);
        oscillator.stop(at + 0.26);
      });
    } catch (e) { /* no sound is better than a broken page */ }
  }

  /* ---------------------------------------------------------------- notifications ------ */

  var rows = new Map(); // conversation id -> {name, preview, at}: the newest row heard
  var waiting = new Map(); // conversation id -> {id, timer}: a message waiting for its row

  function readRow(html) {
    var template = document.createElement("template");
    template.innerHTML = html.trim(); // inert: nothing in a template runs or loads
    var row = template.content.firstElementChild;
    if (!row) return null;
    var link = row.querySelector(".row-link");
    var preview = row.querySelector(".row-preview");
    return {
      name: link ? link.textContent.trim() : "",
      preview: preview ? preview.textContent.trim() : "",
      at: Date.now(),
    };
  }

  function nameOnPage(cid) {
    var link = document.querySelector("#list li[data-conversation-id='" + cid + "'] .row-link");
    return link ? link.textContent.trim() : "";
  }

  function shorten(value) {
    var chars = Array.from(value || "");
    if (chars.length <= PREVIEW_CHARS) return chars.join("");
    return chars.slice(0, PREVIEW_CHARS - 1).join("").trimEnd() + "…";
  }

  function conversationUrl(cid) {
    return (config.conversationUrl || "").replace(URL_PLACEHOLDER, String(cid));
  }

  function open(cid) {
    var workspace = document.getElementById("workspace");
    if (workspace && Number(workspace.dataset.conversationId) === cid) return; // shown already
    var url = conversationUrl(cid);
    if (url) window.location.assign(url);
  }

  function notify(kind, eventId, cid, row) {
    if (!(want.desktop && away() && permission() === "granted")) return;
    var name = (row && row.name) || nameOnPage(cid) || config.textCustomer || "";
    var title = say(kind === "assigned" ? config.textAssigned : config.textMessage, name);
    var note;
    try {
      note = new window.Notification(title, {
        body: shorten(row && row.preview),
        // The same event heard in two tabs is one notification, not two.
        tag: "smartdesk-" + (Number.isInteger(eventId) ? eventId : kind + "-" + cid),
        lang: document.documentElement.lang || "",
      });
    } catch (e) {
      return; // e.g. a browser that shows notifications only through a service worker
    }
    note.onclick = function (event) {
      if (event && event.preventDefault) event.preventDefault();
      window.focus();
      if (note.close) note.close();
      open(cid);
    };
  }

  function awaitRow(eventId, cid) {
    var previous = waiting.get(cid);
    if (previous) clearTimeout(previous.timer);
    waiting.set(cid, {
      id: eventId,
      timer: setTimeout(function () {
        // No row followed (a snoozed conversation woke: its row came first): what we have.
        waiting.delete(cid);
        var row = rows.get(cid);
        var fresh = row && Date.now() - row.at < FRESH_MS;
        notify("message", eventId, cid, fresh ? row : { name: row ? row.name : "", preview: "" });
      }, ROW_WAIT_MS),
    });
  }

  function rowArrived(cid, row) {
    rows.set(cid, row);
    var pending = waiting.get(cid);
    if (!pending) return;
    clearTimeout(pending.timer);
    waiting.delete(cid);
    notify("message", pending.id, cid, row);
  }

  /* ---------------------------------------------------------------- events ------------- */

  function alertFor(kind, message, cid) {
    if (want.title && away()) {
      unseen += 1;
      renderTitle();
    }
    if (want.sound && !attentive()) tone();
    if (!(want.desktop && away())) return;
    if (kind === "assigned") notify(kind, message.id, cid, rows.get(cid));
    else awaitRow(message.id, cid); // the row with the preview follows this event
  }

  function handle(message) {
    if (!message || typeof message !== "object" || typeof message.type !== "string") return;
    var cid = Number(message.conversation_id);
    if (!Number.isInteger(cid) || cid <= 0) return;
    var html = message.html && typeof message.html === "object" ? message.html : null;
    if (html && typeof html.row === "string" && html.row) {
      var row = readRow(html.row);
      if (row) rowArrived(cid, row);
    }
    if (message.assignee_id !== me) return;
    if (message.type === "message.created" && message.kind === "inbound") {
      alertFor("message", message, cid);
    } else if (message.type === "conversation.changed" && ASSIGNING[message.change]) {
      alertFor("assigned", message, cid);
    }
  }

  document.addEventListener("smartdesk:live", function (event) {
    handle(event.detail);
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUpPermission);
  } else {
    setUpPermission();
  }
})();
