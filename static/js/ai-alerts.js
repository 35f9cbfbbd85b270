/* Smartdesk: anomaly alerts shown live to admins on the inbox page.
 *
 * operator.js re-dispatches every frame of the operator socket as a `smartdesk:live` event;
 * this script reacts to `anomaly.alert` only (the server sends it to the admins' group: roles
 * that see all teams; a team's supervisor finds their team's alerts on the statistics page). Each alert is a dismissable line in a polite live region,
 * linking to the statistics page where the alerts are listed. Nothing here talks to the server.
 */
(function () {
  "use strict";

  var lang = (document.documentElement.getAttribute("lang") || "en").slice(0, 2);
  var TEXT = {
    en: {
      spike: "Spike in contacts",
      line: "{segment}: {observed} contacts in the hour from {hour}, {expected} expected.",
      all: "all contacts", details: "Statistics", dismiss: "Dismiss",
    },
    ru: {
      spike: "Всплеск обращений",
      line: "{segment}: {observed} обращений за час с {hour}, ожидалось {expected}.",
      all: "все обращения", details: "Статистика", dismiss: "Скрыть",
    },
  };
  var t = TEXT[lang] || TEXT.en;
  var MAX_SHOWN = 5;
  // Figures as the statistics page writes them: the page's locale ("2,5" in Russian).
  var numbers = new Intl.NumberFormat(document.documentElement.getAttribute("lang") || "en", {
    maximumFractionDigits: 1,
  });

  function figure(value) {
    var n = Number(value);
    return isFinite(n) ? numbers.format(n) : String(value);
  }

  function region() {
    var box = document.getElementById("ai-alerts");
    if (!box) {
      box = document.createElement("div");
      box.id = "ai-alerts";
      box.className = "ai-alerts";
      box.setAttribute("role", "status");
      box.setAttribute("aria-live", "polite");
      document.body.appendChild(box);
    }
    return box;
  }

  function hourText(iso) {
    var when = new Date(iso);
    if (isNaN(when.getTime())) return iso;
    return when.toLocaleString(lang, { weekday: "short", hour: "2-digit", minute: "2-digit" });
  }

  function show(alert) {
    var box = region();
    if (box.querySelector('[data-alert-id="' + Number(alert.alert_id) + '"]')) return;
    var item = document.createElement("p");
    item.className = "ai-alert notice";
    item.dataset.alertId = String(Number(alert.alert_id));
    var title = document.createElement("strong");
    title.textContent = t.spike + ". ";
    var body = document.createElement("span");
    body.textContent = t.line
      .replace("{segment}", alert.dimension === "all" ? t.all : String(alert.segment || alert.value))
      .replace("{observed}", figure(alert.observed))
      .replace("{hour}", hourText(alert.hour))
      .replace("{expected}", figure(alert.expected));
    var link = document.createElement("a");
    link.href = "/statistics/#anomalies";
    link.textContent = t.details;
    var close = document.createElement("button");
    close.type = "button";
    close.className = "ai-alert-dismiss";
    close.textContent = t.dismiss;
    close.addEventListener("click", function () { item.remove(); });
    item.append(title, body, " ", link, " ", close);
    box.prepend(item);
    while (box.children.length > MAX_SHOWN) box.lastElementChild.remove();
  }

  document.addEventListener("smartdesk:live", function (event) {
    var message = event.detail;
    if (message && message.type === "anomaly.alert") show(message);
  });
})();
