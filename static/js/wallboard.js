/* The wallboard's TV mode, on top of live-fragment.js (which re-renders the board
 * on every change reported by the operator socket, and every tick).
 *
 *  - Agents that do not fit in their tile are shown a page at a time, turning every
 *    `data-rotate-seconds`; the page of each team survives the board's re-renders.
 *  - More teams than one screen holds: the board turns to the next page of teams
 *    (`data-next-url`) at the same pace.
 *  - Esc leaves TV mode; the controls (exit, full screen) appear on focus or when the pointer
 *    moves, and hide again when it rests.
 *
 * Strings come from the page (data-* attributes rendered by Django, translated there).
 */
(function () {
  "use strict";

  var agentPage = {}; // team id -> page shown
  var turns = 0;

  function board() {
    return document.getElementById("wallboard-tv");
  }

  function fits(list, item) {
    return item.offsetTop + item.offsetHeight <= list.clientHeight + 1;
  }

  function pageAgents(tile, label) {
    var list = tile.querySelector(".wb-agents");
    var more = tile.querySelector("[data-wb-more]");
    if (!list || !more) return;
    var items = Array.prototype.slice.call(list.children);
    items.forEach(function (item) { item.hidden = false; });
    more.textContent = "";
    if (list.scrollHeight <= list.clientHeight) return;
    var perPage = 0;
    while (perPage < items.length && fits(list, items[perPage])) perPage += 1;
    perPage = Math.max(1, perPage);
    var pages = Math.ceil(items.length / perPage);
    var team = tile.dataset.teamId;
    var page = (agentPage[team] || 0) % pages;
    agentPage[team] = page;
    items.forEach(function (item, i) {
      item.hidden = i < page * perPage || i >= (page + 1) * perPage;
    });
    more.textContent = label.replace("{page}", page + 1).replace("{pages}", pages);
  }

  function layout() {
    var target = board();
    if (!target) return;
    var label = target.dataset.pageLabel || "{page}/{pages}";
    target.querySelectorAll(".wb-tile").forEach(function (tile) { pageAgents(tile, label); });
  }

  function turn() {
    var target = board();
    if (!target) return;
    Object.keys(agentPage).forEach(function (team) { agentPage[team] += 1; });
    target.querySelectorAll(".wb-tile").forEach(function (tile) {
      var team = tile.dataset.teamId;
      if (!(team in agentPage)) agentPage[team] = 1;
    });
    turns += 1;
    if (Number(target.dataset.pages) > 1 && target.dataset.nextUrl && window.htmx) {
      window.htmx.ajax("GET", target.dataset.nextUrl, { source: target, target: target, swap: "outerHTML" });
    } else {
      layout();
    }
  }

  function controls() {
    var box = document.querySelector("[data-wb-controls]");
    if (!box) return;
    var exit = box.querySelector("[data-wb-exit]");
    var full = box.querySelector("[data-wb-fullscreen]");
    var hideTimer = null;
    if (full && document.documentElement.requestFullscreen) {
      full.hidden = false;
      full.addEventListener("click", function () {
        if (document.fullscreenElement) document.exitFullscreen();
        else document.documentElement.requestFullscreen().catch(function () { /* refused */ });
      });
    }
    document.addEventListener("mousemove", function () {
      box.classList.add("wb-shown");
      clearTimeout(hideTimer);
      hideTimer = setTimeout(function () { box.classList.remove("wb-shown"); }, 3000);
    });
    document.addEventListener("keydown", function (event) {
      // In full screen the browser takes the first Esc to leave it; the next one leaves TV mode.
      if (event.key === "Escape" && exit && !document.fullscreenElement) {
        window.location.assign(exit.href);
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var target = board();
    if (!target) return;
    controls();
    layout();
    document.body.addEventListener("htmx:afterSettle", layout);
    var resizeTimer = null;
    window.addEventListener("resize", function () {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(layout, 150);
    });
    setInterval(turn, 1000 * (Number(target.dataset.rotateSeconds) || 20));
  });
})();
