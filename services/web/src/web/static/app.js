// Jumelage pages: charts from the JSON each page embeds, and the live feed.
(function () {
  "use strict";

  function data(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  var charts = {};
  function chart(canvasId, config) {
    var canvas = document.getElementById(canvasId);
    if (!canvas || typeof Chart === "undefined") return;
    if (charts[canvasId]) charts[canvasId].destroy();
    charts[canvasId] = new Chart(canvas, config);
  }

  // Right to left, time and categories run from the right, and the values' axis stands on the right.
  function axes(rtl) {
    return { x: { reverse: rtl }, y: { position: rtl ? "right" : "left", beginAtZero: true } };
  }

  function drawCharts() {
    var rtl = document.documentElement.dir === "rtl";
    var objectives = data("objectives-data");
    if (objectives) {
      chart("objectives-chart", {
        type: "bar",
        data: { labels: objectives.labels, datasets: [
          { label: objectives.done_label, data: objectives.done, backgroundColor: "#2f6f9f" },
          { label: objectives.target_label, data: objectives.target, backgroundColor: "#c9d6e2" }] },
        options: { animation: false, locale: document.documentElement.lang,
                   plugins: { legend: { rtl: rtl } }, scales: axes(rtl) }
      });
    }
    var periods = data("periods-data");
    if (periods) {
      // Each line is a running total (the service's "cumulative"), so it climbs towards the objective.
      var keys = Object.keys(periods.labels), colours = ["#2f6f9f", "#9f5f2f", "#3f8f4f", "#7f3f8f"];
      chart("periods-chart", {
        type: "line",
        data: { labels: periods.periods.map(function (p) { return p.period; }),
                datasets: keys.map(function (k, i) {
                  return { label: periods.labels[k], borderColor: colours[i], backgroundColor: colours[i],
                           data: periods.periods.map(function (p) { return p.cumulative[k]; }) }; }) },
        options: { animation: false, locale: document.documentElement.lang,
                   plugins: { legend: { rtl: rtl } }, scales: axes(rtl) }
      });
    }
  }

  function liveLine(ev) {
    var feed = document.getElementById("live-feed");
    if (!feed) return;
    var event = JSON.parse(ev.data), li = document.createElement("li");
    var when = new Date(event.time);
    li.textContent = event.type + " — " + (isNaN(when) ? event.time : when.toLocaleTimeString(document.documentElement.lang));
    li.dataset.eventType = event.type;
    feed.insertBefore(li, feed.firstChild);
  }

  document.addEventListener("DOMContentLoaded", drawCharts);
  document.addEventListener("htmx:afterSettle", drawCharts);
  document.addEventListener("htmx:sseOpen", function (e) {
    var source = e.detail && e.detail.source;
    if (!source || source._jumelage) return;
    source._jumelage = true;
    document.body.dataset.live = "open";
    source.addEventListener("changed", liveLine);
    source.addEventListener("reload", function () { window.location.reload(); });
  });
})();
