/* The dashboard's charts, drawn with the vendored Chart.js from the figures the page
 * already shows in its tables (json_script "stats-data"). Without JavaScript the tables
 * are the whole story. */
(function () {
  "use strict";
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
            { label: trend.dataset.volume || "Conversations", data: data.trend.map(function (r) { return r.volume; }), yAxisID: "y" },
            { label: "SL %", data: data.trend.map(function (r) { return r.service_level === null ? null : Math.round(r.service_level * 1000) / 10; }), yAxisID: "y1" },
          ],
        },
        options: { animation: false, scales: { y: { beginAtZero: true }, y1: { position: "right", min: 0, max: 100 } } },
      });
    }
    var staffing = document.getElementById("staffing-chart");
    if (staffing) {
      var labels = [];
      data.weekdays.forEach(function (d) { for (var h = 0; h < 24; h++) labels.push(d + " " + h); });
      new window.Chart(staffing, {
        type: "bar",
        data: {
          labels: labels,
          datasets: [
            { type: "bar", label: "needed", data: data.staffing.map(function (c) { return c.needed; }) },
            { type: "line", label: "online", data: data.staffing.map(function (c) { return c.online; }) },
          ],
        },
        options: { animation: false, scales: { y: { beginAtZero: true } } },
      });
    }
  });
})();
