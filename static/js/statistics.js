/* The dashboard's charts, drawn with the vendored Chart.js from the figures the page
 * already shows in its tables (json_script "stats-data"). Without JavaScript the tables
 * are the whole story.
 *
 * Every legend and label comes translated from the template (data-* attributes of each
 * canvas); numbers are written with the page's locale (<html lang>) through
 * Intl.NumberFormat, as the server writes them in the tables ("42,9 %" in Russian). */
(function () {
  "use strict";

  var lang = document.documentElement.getAttribute("lang") || "en";

  function formatter(options) {
    try {
      return new Intl.NumberFormat(lang, options);
    } catch (e) {
      return new Intl.NumberFormat("en", options);
    }
  }

  var decimal = formatter({ maximumFractionDigits: 2 });
  var percent = formatter({ style: "percent", maximumFractionDigits: 1 });

  function number(value) {
    return value === null || value === undefined ? "—" : decimal.format(value);
  }

  function share(value) {
    // a percentage in 0–100 (the service-level axis), written as the locale writes percent
    return value === null || value === undefined ? "—" : percent.format(value / 100);
  }

  function tooltip(format) {
    return {
      callbacks: {
        label: function (item) {
          var f = item.dataset.yAxisID === "y1" ? share : format;
          return item.dataset.label + ": " + f(item.parsed.y);
        },
      },
    };
  }

  function interpolate(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_all, key) {
      return values[key] === undefined ? "" : String(values[key]);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var source = document.getElementById("stats-data");
    if (!source || !window.Chart) return;
    var data = JSON.parse(source.textContent);
    var trend = document.getElementById("trend-chart");
    if (trend && data.trend.length) {
      new window.Chart(trend, {
        type: "line",
        data: {
          labels: data.trend.map(function (r) { return r.label; }),
          datasets: [
            {
              label: trend.dataset.volume || "",
              data: data.trend.map(function (r) { return r.volume; }),
              yAxisID: "y",
            },
            {
              label: trend.dataset.serviceLevel || "",
              data: data.trend.map(function (r) {
                return r.service_level === null ? null : Math.round(r.service_level * 1000) / 10;
              }),
              yAxisID: "y1",
            },
          ],
        },
        options: {
          animation: false,
          locale: lang,
          plugins: { tooltip: tooltip(number) },
          scales: {
            y: { beginAtZero: true, ticks: { callback: number } },
            y1: { position: "right", min: 0, max: 100, ticks: { callback: share } },
          },
        },
      });
    }
    var staffing = document.getElementById("staffing-chart");
    if (staffing) {
      var hourLabel = staffing.dataset.hour || "%(day)s %(hour)s:00";
      var labels = [];
      data.weekdays.forEach(function (d) {
        for (var h = 0; h < 24; h++) labels.push(interpolate(hourLabel, { day: d, hour: h }));
      });
      new window.Chart(staffing, {
        type: "bar",
        data: {
          labels: labels,
          datasets: [
            {
              type: "bar",
              label: staffing.dataset.needed || "",
              data: data.staffing.map(function (c) { return c.needed; }),
            },
            {
              type: "line",
              label: staffing.dataset.online || "",
              data: data.staffing.map(function (c) { return c.online; }),
            },
          ],
        },
        options: {
          animation: false,
          locale: lang,
          plugins: { tooltip: tooltip(number) },
          scales: { y: { beginAtZero: true, ticks: { callback: number } } },
        },
      });
    }
  });
})();
