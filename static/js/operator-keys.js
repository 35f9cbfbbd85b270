/* Smartdesk operator workspace: the keyboard and focus.
 *
 *  - single-key shortcuts (j k r n / a t s e u ?), never while typing in a field, and not at
 *    all when the operator switched them off (WCAG 2.1.4: `data-keyboard-shortcuts="off"` on
 *    #workspace); Ctrl+Z (undo the close, outside text fields) and Esc always work;
 *  - Esc leaves the message box for the conversation's actions, and closes an open menu;
 *  - focus on the first useful element when a page opens from within the workspace (the
 *    first conversation, or the message box of the one just opened), and somewhere sensible
 *    after every action, never on the page body;
 *  - "Conversation closed. Undo": the undo button goes when the server's window ends;
 *  - the transfer picker (templates/chats/_transfer.html): type to filter, arrows, Enter.
 *
 * Everything here is an enhancement: without JavaScript the same forms and buttons work.
 */
(function () {
  "use strict";

  var workspace = document.getElementById("workspace");
  if (!workspace || !window.htmx) return;

  var help = document.getElementById("shortcuts-help");
  var setting = workspace.dataset.keyboardShortcuts || (help && help.dataset.keyboardShortcuts);
  var singleKeys = setting !== "off";
  var FOCUS_KEY = "smartdesk-focus";

  function byId(id) { return document.getElementById(id); }

  function visible(element) {
    return !!(element && !element.hidden && element.getClientRects().length);
  }

  function focusFirst(selectors) {
    for (var i = 0; i < selectors.length; i++) {
      var found = typeof selectors[i] === "string" ? document.querySelector(selectors[i]) : selectors[i];
      if (visible(found)) {
        found.focus();
        if (document.activeElement === found) return found;
      }
    }
    return null;
  }

  function typing(target) {
    return !!(target && (target.isContentEditable || (target.closest && target.closest("input, textarea, select"))));
  }

  function announce(text) {
    var region = byId("live-announcer");
    if (!region || !text) return;
    region.textContent = "";
    setTimeout(function () { region.textContent = text; }, 30);
  }

  function remember(where) {
    try { sessionStorage.setItem(FOCUS_KEY, where); } catch (e) { /* private mode: no hint */ }
  }

  function recall() {
    try {
      var where = sessionStorage.getItem(FOCUS_KEY);
      sessionStorage.removeItem(FOCUS_KEY);
      return where;
    } catch (e) {
      return null;
    }
  }

  /* ---------------------------------------------------------------- where focus goes ---- */

  var ACTION_BAR = "#thread .actions button:not([disabled]), #thread .actions summary";

  function focusActions() {
    var controls = Array.prototype.filter.call(document.querySelectorAll(ACTION_BAR), visible);
    return focusFirst(controls.concat(["#thread-heading"]));
  }

  function focusComposer() {
    var composer = byId("composer");
    if (composer && composer.hidden) return null;
    return focusFirst(["#composer-body"]);
  }

  function currentRow() {
    return document.querySelector("#list .row-link[aria-current=true]");
  }

  // A page opened from within the workspace lands on its first useful element; one loaded
  // directly (a bookmark, a reload) starts at the top, where the skip link is.
  function focusOnLoad() {
    var active = document.activeElement;
    if (active && active !== document.body && active !== document.documentElement) return;
    if (window.location.hash) return;
    var hint = recall();
    var inside = false;
    try {
      inside = !!document.referrer && new URL(document.referrer).origin === window.location.origin;
    } catch (e) { /* no referrer */ }
    if (!hint && !inside) return;
    if (workspace.dataset.conversationId) {
      if (hint === "row") focusFirst([currentRow(), "#thread-heading"]);
      else if (!focusComposer()) focusFirst(["#thread-heading"]);
    } else {
      focusFirst(["#list .row-link"]);
    }
  }

  document.addEventListener("click", function (event) {
    // Opening a conversation from the list (a click or Enter on its link): to its message box.
    if (event.target.closest && event.target.closest("#list a.row-link")) remember("composer");
  });

  // After one of our actions, focus follows what the operator most likely does next.
  var pendingAction = null;

  function actionOf(elt) {
    if (!elt) return null;
    if (elt.id === "composer") return "send";
    var form = elt.closest ? elt.closest("form") : null;
    var url = (form && (form.getAttribute("hx-post") || form.getAttribute("action"))) || "";
    var match = /\/inbox\/c\/\d+\/([a-z-]+)\//.exec(url);
    return match ? match[1] : null;
  }

  document.body.addEventListener("htmx:beforeRequest", function (event) {
    var config = event.detail.requestConfig;
    if (config && config.verb === "post") pendingAction = actionOf(event.detail.elt);
  });

  // A swap under way places the focus itself when it settles (below, and operator.js).
  var lastSwapAt = 0;

  document.body.addEventListener("htmx:beforeSwap", function () {
    lastSwapAt = Date.now();
  });

  document.body.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail.target;
    if (target && target.id === "thread") watchUndo();
    if (target && target.id === "transfer-picker") pickerArrived();
    if (target && target.id === "transfer-results") optionsArrived();
    if (!pendingAction) {
      if (document.activeElement === document.body && target && target.id === "thread") focusActions();
      return;
    }
    if (!target || (target.id !== "thread" && target.id !== "action-errors")) return;
    var action = pendingAction;
    pendingAction = null;
    if (target.id === "action-errors") return; // refused: stay to correct it
    if (action === "close") {
      var undo = focusFirst(["#action-undo-close"]);
      if (undo) announce(byId("close-undo-text").textContent);
      else focusActions();
    } else if (action === "undo-close") {
      if (!focusComposer()) focusActions();
    } else if (action === "send") {
      // Usually still there; if the operator moved on meanwhile (Esc), leave them there.
      if (document.activeElement === document.body) focusComposer();
    } else if (action === "snooze" || action === "transfer") {
      if (!focusFirst(["#action-" + action])) focusActions();
    } else if (!byId("thread").contains(document.activeElement)) {
      focusActions();
    }
  });

  // A swap that took the focused element away (a live refresh, a closed menu) never leaves
  // the focus on the body.
  document.addEventListener("focusout", function (event) {
    var from = event.target;
    setTimeout(function () {
      var active = document.activeElement;
      if (active && active !== document.body) return;
      if (!from || from.isConnected) return; // the operator moved on (a click outside)
      if (!from.closest || !from.closest("#thread, #transfer-picker")) return;
      if (!pendingAction && Date.now() - lastSwapAt > 500) focusActions();
    }, 0);
  });

  /* ---------------------------------------------------------------- undo the close ------ */

  var undoTimer = null;

  function watchUndo() {
    clearTimeout(undoTimer);
    var box = byId("close-undo");
    if (!box) return;
    var until = Date.parse(box.dataset.undoUntil || "");
    if (isNaN(until)) return;
    undoTimer = setTimeout(function () {
      var had = box.contains(document.activeElement);
      box.remove();
      if (had) focusActions();
    }, Math.max(0, until - Date.now()));
  }

  /* ---------------------------------------------------------------- transfer picker ----- */

  function pickerOptions() {
    return Array.prototype.slice.call(document.querySelectorAll("#transfer-options [role=option]"));
  }

  function activeOption() {
    return document.querySelector("#transfer-options [role=option][aria-selected=true]");
  }

  function activate(option) {
    var search = byId("transfer-search");
    pickerOptions().forEach(function (o) { o.setAttribute("aria-selected", o === option ? "true" : "false"); });
    if (!search) return;
    if (option) {
      search.setAttribute("aria-activedescendant", option.id);
      option.scrollIntoView({ block: "nearest" });
    } else {
      search.removeAttribute("aria-activedescendant");
    }
  }

  function moveOption(step) {
    var all = pickerOptions();
    if (!all.length) return;
    var index = all.indexOf(activeOption());
    index = index === -1 ? (step > 0 ? 0 : all.length - 1) : (index + step + all.length) % all.length;
    activate(all[index]);
  }

  function choose(option) {
    var picker = byId("transfer-picker");
    if (!option || !picker) return;
    byId("transfer-team").value = option.dataset.team || "";
    byId("transfer-operator").value = option.dataset.operator || "";
    pickerOptions().forEach(function (o) { o.classList.toggle("is-chosen", o === option); });
    var status = byId("transfer-choice");
    if (status) {
      status.textContent = (picker.dataset.chosenText || "%(name)s").replace("%(name)s", option.dataset.name || "");
    }
    picker.dataset.chosen = option.id;
    focusFirst(["#transfer-reason"]);
  }

  function optionsArrived() {
    var picker = byId("transfer-picker");
    var chosen = picker && picker.dataset.chosen ? byId(picker.dataset.chosen) : null;
    if (chosen) chosen.classList.add("is-chosen");
    activate(chosen || pickerOptions()[0] || null);
  }

  function pickerArrived() {
    var details = byId("transfer-details");
    optionsArrived();
    var active = document.activeElement;
    if (details && details.open && (!active || active === document.body || details.contains(active))) {
      focusFirst(["#transfer-search"]);
    }
  }

  function openTransfer() {
    var details = byId("transfer-details");
    if (!details) return false;
    details.open = true;
    // The picker replaces the plain lists when it arrives (see pickerArrived).
    focusFirst(["#transfer-search", "#transfer-team", "#transfer-reason"]);
    return true;
  }

  document.addEventListener("keydown", function (event) {
    if (event.target.id !== "transfer-search") return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      moveOption(event.key === "ArrowDown" ? 1 : -1);
    } else if (event.key === "Enter") {
      event.preventDefault(); // Enter chooses; the transfer is sent from the reason
      choose(activeOption());
    }
  });

  document.addEventListener("click", function (event) {
    var option = event.target.closest && event.target.closest("#transfer-options [role=option]");
    if (option) choose(option);
  });

  /* ---------------------------------------------------------------- shortcuts ---------- */

  var helpButton = byId("shortcuts-button");
  function openHelp() {
    if (help && !help.open && help.showModal) help.showModal();
  }
  if (helpButton && help && help.showModal) {
    helpButton.hidden = false;
    helpButton.addEventListener("click", openHelp);
  }

  function compose(kind) {
    var composer = byId("composer");
    var radio = composer && !composer.hidden && composer.querySelector("input[name=kind][value=" + kind + "]");
    if (!radio) return;
    radio.checked = true;
    radio.dispatchEvent(new Event("change", { bubbles: true })); // operator.js sets the mode
    focusComposer();
  }

  function openConversation(step) {
    var links = Array.prototype.slice.call(document.querySelectorAll("#list .row-link"));
    if (!links.length) return;
    var from = links.indexOf(document.activeElement);
    if (from === -1) from = links.indexOf(currentRow());
    var next = from === -1 ? (step > 0 ? links[0] : links[links.length - 1]) : links[from + step];
    if (!next) return;
    remember("row"); // j / k again on the next page
    window.location.assign(next.href);
  }

  function press(id) {
    var button = byId(id);
    if (!button || button.disabled) return false;
    button.focus();
    button.click();
    return true;
  }

  function openSnooze() {
    var details = byId("snooze-details");
    if (!details) return;
    details.open = true;
    focusFirst([details.querySelector("input[name=preset]:checked"), details.querySelector("input, select")]);
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || document.querySelector("dialog[open]")) return;
    if (event.key === "Escape") {
      if (event.target.id === "composer-body") {
        // The template picker, when open, took this Esc already (defaultPrevented).
        event.preventDefault();
        focusActions();
        return;
      }
      var menu = event.target.closest && event.target.closest("#thread details[open]");
      if (menu) {
        event.preventDefault();
        menu.open = false;
        focusFirst([menu.querySelector("summary")]);
      }
      return;
    }
    var modified = event.ctrlKey || event.metaKey;
    if (modified && !event.altKey && !event.shiftKey && (event.key === "z" || event.key === "Z")) {
      // Ctrl+Z outside a text field: undo the close. In a field it stays the field's undo.
      if (!typing(event.target) && press("action-undo-close")) event.preventDefault();
      return;
    }
    if (modified || event.altKey || !singleKeys || typing(event.target)) return;
    switch (event.key) {
      case "j": openConversation(1); break;
      case "k": openConversation(-1); break;
      case "r": compose("reply"); break;
      case "n": compose("note"); break;
      case "/": {
        var search = byId("search-q");
        if (!search) return;
        search.focus();
        search.select();
        break;
      }
      case "a": press("action-take"); break;
      case "t": if (!openTransfer()) return; break;
      case "s": openSnooze(); break;
      case "e": press("action-close"); break;
      case "u": press("action-undo-close"); break;
      case "?": openHelp(); break;
      default: return;
    }
    event.preventDefault();
  });

  watchUndo();
  focusOnLoad();
})();
