/* Smartdesk website widget. Plain JavaScript, no framework, no dependencies.
 *
 * Served by /widget/<inbox key>.js, which prepends `var SMARTDESK_CONFIG = {...}` (the API
 * base, the inbox key, the translated strings). It draws a launcher and a chat panel inside
 * a shadow root (the host page's CSS cannot break it, ours cannot leak), keeps the visitor's
 * token in localStorage so the history survives a reload, hears replies on a WebSocket and
 * falls back to polling the REST API when the socket is down.
 *
 * The host page may identify the visitor (so the history follows them across devices and
 * channels) with a signature computed on its server with the inbox secret:
 *   window.Smartdesk.identify({user_id, email, phone, name, signature}) -> Promise
 * or by setting window.SmartdeskSettings = {identity: {...}} before loading the script.
 * When the visitor signs out of the host site, call window.Smartdesk.reset(): the widget
 * forgets the token and the history on this browser.
 */
(function () {
  "use strict";
  var C = typeof SMARTDESK_CONFIG === "object" ? SMARTDESK_CONFIG : null;
  if (!C || window.Smartdesk && window.Smartdesk.__loaded) return;

  var API = C.api; // ".../api/v1/client/<key>/"
  var STORE = "smartdesk:" + C.key + ":token";
  var STORE_IDENTITY = "smartdesk:" + C.key + ":identity";
  // Only a plain colour reaches the style sheet (the server checks it too).
  var COLOR = /^#[0-9a-fA-F]{3,8}$/.test(C.color || "") ? C.color : "#2457c5";
  var POLL_MS = 5000;
  var t = function (k) { return (C.strings && C.strings[k]) || k; };
  // The visitor's language, told to the server so replies and surveys come in it (the host
  // page may name it: SmartdeskSettings.language, set on purpose; else the browser's, a
  // guess that never replaces a language the customer or the business chose).
  function language() {
    var s = window.SmartdeskSettings || {};
    return String(s.language || (navigator.languages && navigator.languages[0]) || navigator.language || "").slice(0, 35);
  }
  function withLanguage(body) {
    var s = window.SmartdeskSettings || {};
    body.language = language();
    body.language_source = s.language ? "page" : "browser";
    return body;
  }
  var languageSaid = false;

  var token = null;
  try { token = localStorage.getItem(STORE); } catch (e) { /* private mode: memory only */ }
  var seen = {};
  var lastId = 0;
  var socket = null;
  var pollTimer = null;
  var retry = 0;
  var opened = false;
  var survey = null; // the rating request shown (one at a time)
  var surveyTries = {}; // conversation id -> empty survey look-ups (the task may lag the close)

  /* ------------------------------------------------------------------- DOM --------- */

  var host = document.createElement("div");
  host.id = "smartdesk-widget";
  var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
  // The style sheet is adopted, not an inline <style>: a page with a strict
  // Content-Security-Policy (ours: issue 12) blocks inline styles but not adopted sheets.
  var css =
    ":host{all:initial}" +
    ".sd{font:15px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1d2330;position:fixed;right:20px;bottom:20px;z-index:2147483000}" +
    ".sd *{box-sizing:border-box}" +
    ".launch{border:0;border-radius:28px;background:" + COLOR + ";color:#fff;padding:14px 20px;font:inherit;font-weight:600;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25)}" +
    ".launch:focus-visible,.panel button:focus-visible,.panel textarea:focus-visible{outline:3px solid #ffbf47;outline-offset:2px}" +
    ".panel{width:min(360px,calc(100vw - 40px));height:min(520px,calc(100vh - 100px));background:#fff;border-radius:12px;box-shadow:0 8px 30px rgba(0,0,0,.3);display:flex;flex-direction:column;overflow:hidden;margin-bottom:12px}" +
    ".panel[hidden]{display:none}" +
    "header{background:" + COLOR + ";color:#fff;padding:12px 14px;display:flex;justify-content:space-between;align-items:center}" +
    "header h2{font-size:16px;margin:0}" +
    ".x{background:transparent;border:0;color:#fff;font-size:22px;cursor:pointer;line-height:1}" +
    ".log{flex:1;overflow-y:auto;padding:12px;margin:0;list-style:none;background:#f5f7fb}" +
    ".log li{max-width:85%;margin:0 0 8px;padding:8px 11px;border-radius:10px;white-space:pre-wrap;word-wrap:break-word}" +
    ".log .customer{margin-left:auto;background:" + COLOR + ";color:#fff}" +
    ".log .operator{background:#fff;border:1px solid #d5dbe6}" +
    ".log .who{display:block;font-size:12px;opacity:.75}" +
    ".log a{color:inherit}" +
    ".status{font-size:13px;color:#4a5466;padding:4px 12px;min-height:1.4em}" +
    ".status.err{color:#a4000f}" +
    "form{display:flex;gap:6px;padding:10px;border-top:1px solid #d5dbe6}" +
    "textarea{flex:1;resize:none;font:inherit;padding:8px;border:1px solid #8a94a6;border-radius:8px;min-height:42px}" +
    ".send{border:0;border-radius:8px;background:" + COLOR + ";color:#fff;padding:0 14px;font:inherit;font-weight:600;cursor:pointer}" +
    ".csat{padding:10px 12px;border-top:1px solid #d5dbe6}" +
    ".csat p{margin:0 0 6px}" +
    ".stars{display:flex;gap:6px;margin-bottom:6px}" +
    ".stars button,.rate{border:1px solid #8a94a6;border-radius:8px;background:#fff;color:#1d2330;min-width:36px;padding:6px 10px;font:inherit;cursor:pointer}" +
    ".stars button[aria-pressed=true]{background:" + COLOR + ";border-color:" + COLOR + ";color:#fff}" +
    ".csat textarea{width:100%;margin-bottom:6px}" +
    ".vh{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}";
  var sheetAdopted = false;
  try {
    if (host.attachShadow && "adoptedStyleSheets" in root && typeof CSSStyleSheet === "function") {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(css);
      root.adoptedStyleSheets = [sheet];
      sheetAdopted = true;
    }
  } catch (e) { /* an older browser: the inline sheet below */ }
  root.innerHTML =
    (sheetAdopted ? "" : "<style>" + css + "</style>") +
    "<div class='sd'>" +
    "<section class='panel' role='dialog' aria-labelledby='sd-title' hidden>" +
    "<header><h2 id='sd-title'></h2><button type='button' class='x'></button></header>" +
    "<ol class='log' role='log' aria-live='polite'></ol>" +
    "<p class='status' role='status'></p>" +
    "<div class='csat' role='group' aria-labelledby='sd-q' hidden></div>" +
    "<form><label class='vh' for='sd-text'></label>" +
    "<textarea id='sd-text' rows='2' maxlength='10000'></textarea>" +
    "<button type='submit' class='send'></button></form>" +
    "</section>" +
    "<button type='button' class='launch' aria-expanded='false'></button>" +
    "</div>";

  function $(sel) { return root.querySelector(sel); }
  var panel = $(".panel"), log = $(".log"), statusLine = $(".status");
  var launcher = $(".launch"), textarea = $("textarea"), form = $("form"), csatBox = $(".csat");
  // Screen readers read the widget in its own language, whatever the host page's is.
  if (/^[a-z]{2,3}(-[A-Za-z0-9]+)*$/.test(C.lang || "")) $(".sd").setAttribute("lang", C.lang);
  $("#sd-title").textContent = C.title || t("Chat with us");
  $(".x").setAttribute("aria-label", t("Close the chat"));
  $(".x").textContent = "×";
  $("label").textContent = t("Your message");
  $(".send").textContent = t("Send");
  launcher.textContent = t("Chat with us");
  textarea.placeholder = t("Write a message…");

  function say(text, isError) {
    statusLine.textContent = text || "";
    statusLine.className = "status" + (isError ? " err" : "");
  }

  function render(m) {
    if (!m || seen[m.id]) return;
    seen[m.id] = true;
    if (m.id > lastId) lastId = m.id;
    var li = document.createElement("li");
    li.className = m.from === "customer" ? "customer" : "operator";
    li.setAttribute("data-message-id", m.id);
    if (m.from !== "customer") {
      var who = document.createElement("span");
      who.className = "who";
      who.textContent = m.author || t("Support");
      li.appendChild(who);
    }
    li.appendChild(document.createTextNode(m.text || ""));
    (m.attachments || []).forEach(function (a) {
      var link = document.createElement("a");
      if (/^(https?:)?\//.test(a.url || "")) link.href = absolute(a.url);
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      link.textContent = "\n📎 " + (a.name || t("attachment"));
      li.appendChild(link);
    });
    // Keep the log in id order even when the socket and the REST answer cross.
    var after = null;
    Array.prototype.forEach.call(log.children, function (el) {
      if (!after && Number(el.getAttribute("data-message-id")) > m.id) after = el;
    });
    log.insertBefore(li, after);
    log.scrollTop = log.scrollHeight;
  }

  function absolute(url) {
    return /^https?:/.test(url) ? url : C.origin + url;
  }

  /* ------------------------------------------------------------------- API --------- */

  function call(method, path, body) {
    var headers = { "Content-Type": "application/json" };
    if (token) headers.Authorization = "Bearer " + token;
    return fetch(API + path, {
      method: method,
      headers: headers,
      body: body ? JSON.stringify(body) : undefined,
      credentials: "omit",
      mode: "cors"
    }).catch(function () {
      // The network, not the server: the browser's own words ("Failed to fetch") are English.
      var err = new Error(t("offline"));
      err.status = 0;
      throw err;
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) {
          var err = new Error(data.detail || t("Something went wrong; try again."));
          err.status = r.status;
          throw err;
        }
        return data;
      });
    });
  }

  function keep(newToken, identity) {
    var changed = token !== newToken;
    token = newToken;
    // A socket authenticated with another token hears another visitor: follow the new one.
    if (changed && socket) reconnect();
    try {
      localStorage.setItem(STORE, token);
      if (identity) localStorage.setItem(STORE_IDENTITY, identity);
      else localStorage.removeItem(STORE_IDENTITY);
    } catch (e) { /* memory only */ }
  }

  function forget() {
    token = null;
    try { localStorage.removeItem(STORE); localStorage.removeItem(STORE_IDENTITY); } catch (e) { /* */ }
  }

  var pendingToken = null;
  function ensureToken() {
    if (token) return Promise.resolve(token);
    // One session for concurrent callers (opening the panel and sending at once): two would
    // leave the socket on one visitor and the messages on another.
    if (!pendingToken) {
      pendingToken = call("POST", "session/", withLanguage({})).then(function (d) {
        languageSaid = true;
        pendingToken = null;
        keep(d.token);
        return token;
      }, function (err) {
        pendingToken = null;
        throw err;
      });
    }
    return pendingToken;
  }

  function load() {
    return call("GET", "messages/?after=" + lastId).then(function (d) {
      (d.messages || []).forEach(render);
      var q = d.conversation && d.conversation.queue;
      if (q && q.position) {
        var line = t("You are number %s in the queue.").replace("%s", q.position);
        if (q.estimated_wait_seconds) {
          line += " " + t("About %s min.").replace("%s", Math.max(1, Math.round(q.estimated_wait_seconds / 60)));
        }
        say(line);
      } else if (!q && /queue/.test(statusLine.textContent)) {
        say("");
      }
      var c = d.conversation;
      // Closed and not rated here yet: a survey may wait (e.g. the visitor reloaded the page).
      if (c && c.status === "closed" && !survey && (surveyTries[c.id] || 0) < 3) {
        return call("GET", "csat/").then(function (r) {
          var s = (r.surveys || [])[0];
          if (s) showSurvey(s); else surveyTries[c.id] = (surveyTries[c.id] || 0) + 1;
        }, function () { /* the survey can wait for the next look */ });
      }
    }, function (err) {
      if (err.status === 401 || err.status === 403) { forget(); }
      throw err;
    });
  }

  /* --------------------------------------------------------------- live ------------ */

  function connect() {
    if (!token || !window.WebSocket) return startPolling();
    if (socket) return;
    var ws;
    try {
      ws = new WebSocket(C.ws); // the token goes in the first message, never in the URL
    } catch (e) { return startPolling(); }
    socket = ws;
    ws.onopen = function () {
      ws.send(JSON.stringify({ type: "auth", token: token }));
    };
    ws.onmessage = function (e) {
      var data;
      try { data = JSON.parse(e.data); } catch (err) { return; }
      if (data.type === "ready") {
        retry = 0;
        stopPolling();
        host.setAttribute("data-live", "live");
        load().catch(function () {}); // anything missed while away
      } else if (data.type === "message") {
        render(data.message);
      } else if (data.type === "csat.request" && data.survey) {
        showSurvey(data.survey);
      }
    };
    ws.onclose = function () {
      socket = null;
      host.setAttribute("data-live", "polling");
      startPolling();
      retry = Math.min(retry + 1, 6);
      setTimeout(connect, 1000 * Math.pow(2, retry));
    };
  }

  function startPolling() {
    if (pollTimer) return;
    pollTimer = setInterval(function () { if (token) load().catch(function () {}); }, POLL_MS);
  }

  function stopPolling() {
    if (pollTimer) { clearInterval(pollTimer); pollTimer = null; }
  }

  function reconnect() {
    if (socket) { socket.onclose = null; socket.close(); socket = null; }
    connect();
  }

  /* ---------------------------------------------------------------- CSAT ----------- */

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text) e.textContent = text; // never HTML
    return e;
  }

  function hideSurvey() {
    survey = null;
    csatBox.hidden = true;
    csatBox.textContent = "";
  }

  // A 1–5 rating (buttons, keyboard usable) and an optional comment, posted to csat/<id>/.
  function showSurvey(s) {
    if (!s || s.rating != null || (survey && survey.id === s.id)) return;
    survey = s;
    var chosen = 0;
    csatBox.textContent = "";
    var q = el("p", "", s.question || t("How did we do?"));
    q.id = "sd-q";
    var stars = el("div", "stars"), buttons = [];
    [1, 2, 3, 4, 5].forEach(function (n) {
      var b = el("button", "", String(n));
      b.type = "button";
      b.setAttribute("aria-label", t("Rate %s of 5").replace("%s", n));
      b.setAttribute("aria-pressed", "false");
      b.addEventListener("click", function () {
        chosen = n;
        buttons.forEach(function (x, i) { x.setAttribute("aria-pressed", String(i + 1 === n)); });
      });
      buttons.push(b);
      stars.appendChild(b);
    });
    var label = el("label", "vh", t("Comment (optional)"));
    label.htmlFor = "sd-comment";
    var comment = el("textarea");
    comment.id = "sd-comment";
    comment.rows = 2;
    comment.maxLength = 2000;
    comment.placeholder = t("Comment (optional)");
    var submit = el("button", "rate", t("Send rating"));
    submit.type = "button";
    submit.addEventListener("click", function () {
      if (!chosen) { say(t("Choose a rating from 1 to 5."), true); buttons[0].focus(); return; }
      submit.disabled = true;
      call("POST", "csat/" + s.id + "/", { rating: chosen, comment: comment.value.trim() }).then(function () {
        hideSurvey();
        say(t("Thank you for your rating!"));
      }, function (err) {
        submit.disabled = false;
        if (err.status === 404 || err.status === 409) hideSurvey();
        say(err.message, true);
      });
    });
    [q, stars, label, comment, submit].forEach(function (e) { csatBox.appendChild(e); });
    csatBox.hidden = false;
  }

  /* ------------------------------------------------------------- actions ----------- */

  function open() {
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    textarea.focus();
    if (opened) return;
    opened = true;
    ensureToken().then(load).then(connect, function (err) { say(err.message, true); });
  }

  function close() {
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    launcher.focus();
  }

  function randomId() {
    var a = new Uint8Array(12);
    (window.crypto || window.msCrypto).getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function send(text) {
    var clientId = randomId();
    say(t("Sending…"));
    return ensureToken().then(function () {
      var body = { client_id: clientId, text: text };
      // Once a page view (a token from an earlier visit never said it).
      if (!languageSaid) withLanguage(body);
      return call("POST", "messages/", body);
    }).then(function (d) {
      languageSaid = true;
      render(d.message);
      say("");
      if (!socket) connect();
    });
  }

  launcher.addEventListener("click", function () { panel.hidden ? open() : close(); });
  $(".x").addEventListener("click", close);
  root.addEventListener("keydown", function (e) { if (e.key === "Escape") close(); });
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = textarea.value.trim();
    if (!text) return;
    send(text).then(function () { textarea.value = ""; }, function (err) {
      say(err.message, true); // the text stays in the box: nothing typed is lost
    });
  });
  textarea.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.requestSubmit ? form.requestSubmit() : form.submit(); }
  });

  function clearLog() {
    log.textContent = "";
    seen = {};
    lastId = 0;
  }

  function identify(identity) {
    var body = withLanguage({});
    ["user_id", "email", "phone", "name", "signature"].forEach(function (k) {
      if (identity && identity[k]) body[k] = String(identity[k]);
    });
    var known = null;
    try { known = localStorage.getItem(STORE_IDENTITY); } catch (e) { /* */ }
    // The stored token already speaks for this signed identity: nothing to ask.
    if (token && body.signature && known === body.signature) return Promise.resolve({ token: token });
    return call("POST", "identify/", body).catch(function (err) {
      // A visitor token retired by an earlier sign-in: identify afresh without it.
      if (err.status !== 401 || !token) throw err;
      forget();
      return call("POST", "identify/", body);
    }).then(function (d) {
      keep(d.token, body.signature);
      clearLog();
      hideSurvey();
      if (opened) { reconnect(); return load().then(function () { return d; }); }
      return d;
    });
  }

  // The host site's visitor signed out: forget them on this browser (token, history shown,
  // live socket); the next message starts an anonymous session.
  function reset() {
    if (socket) { socket.onclose = null; socket.close(); socket = null; }
    stopPolling();
    forget();
    clearLog();
    hideSurvey();
    surveyTries = {};
    opened = false;
    host.removeAttribute("data-live");
    say("");
  }

  window.Smartdesk = { __loaded: true, open: open, close: close, identify: identify, reset: reset };

  function mount() {
    document.body.appendChild(host);
    var settings = window.SmartdeskSettings || {};
    if (settings.identity) identify(settings.identity).catch(function (err) { say(err.message, true); });
    if (token) { opened = false; } // history loads when the panel opens
    if (settings.open) open();
  }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();
