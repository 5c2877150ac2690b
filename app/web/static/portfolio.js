/* The portfolio pages' charts and heat map. Data comes from <script type="application/json"> blocks
   beside each chart (the numbers are also in the table below it); nothing here is needed to read
   the page. */
(function () {
  "use strict";
  var PALETTE = ["#1f5fa8", "#d97706", "#15803d", "#7c3aed", "#b91c1c", "#0e7490"];
  var RAG = { "Red": "#c62828", "Amber": "#f59e0b", "Green": "#2e7d32", "No current report": "#9e9e9e" };

  function readJson(id) {
    var block = document.getElementById(id);
    if (!block) { return null; }
    try { return JSON.parse(block.textContent); } catch (e) { return null; }
  }

  function drawCharts() {
    if (!window.Chart) { return; }
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var data = readJson(canvas.getAttribute("data-chart"));
      if (!data || !data.labels.length) { return; }
      var doughnut = data.type === "doughnut";
      var datasets = data.series.map(function (series, i) {
        return {
          label: series.label,
          data: series.values,
          backgroundColor: doughnut ? data.labels.map(function (l, j) { return RAG[l] || PALETTE[j % PALETTE.length]; })
                                    : PALETTE[i % PALETTE.length]
        };
      });
      new window.Chart(canvas, {
        type: doughnut ? "doughnut" : "bar",
        data: { labels: data.labels, datasets: datasets },
        options: { responsive: true, maintainAspectRatio: false, animation: false,
                   plugins: { legend: { display: doughnut || datasets.length > 1 } } }
      });
    });
  }

  function drawHeatMap() {
    var box = document.getElementById("heat-map");
    var data = readJson("heat-data");
    if (!box || !data || !window.BpmnJS) { return; }
    var viewer = new window.BpmnJS({ container: box });
    viewer.importXML(data.xml).then(function () {
      var canvas = viewer.get("canvas");
      var overlays = viewer.get("overlays");
      var registry = viewer.get("elementRegistry");
      canvas.zoom("fit-viewport");
      Object.keys(data.marks).forEach(function (id) {
        var mark = data.marks[id];
        if (!registry.get(id)) { return; }
        canvas.addMarker(id, "heat-" + mark.level);
        var badge = document.createElement("div");
        badge.className = "heat-badge heat-" + mark.level;
        badge.textContent = mark.waiting + " waiting · " + (mark.median === null ? "—" : mark.median + " h");
        badge.title = mark.label;
        badge.setAttribute("data-testid", "heat-badge");
        overlays.add(id, { position: { bottom: -4, left: 0 }, html: badge });
      });
      box.setAttribute("data-ready", "true");
    }).catch(function () { box.setAttribute("data-ready", "error"); });
  }

  document.addEventListener("DOMContentLoaded", function () { drawCharts(); drawHeatMap(); });
})();
