// Coverage map: every county as a point on a longitude/latitude grid, coloured by whether the best qualified
// engineer arrives within the target; customers' sites with a gap on top. A customer's map has its own sites
// instead (within target or not) over the faint county seats of their provinces. Data comes from JSON blocks in
// the page (the CSP forbids inline scripts); labels from the container's data attributes (translated
// server-side). Each series has an id (met, missed, none, context, site, gap); empty ones are left out.
(function () {
  "use strict";

  function readJson(id) {
    var node = document.getElementById(id);
    if (!node) return [];
    try { return JSON.parse(node.textContent || "[]"); } catch (e) { return []; }
  }

  function escapeHtml(text) {
    return String(text == null ? "" : text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  // Widen one axis so that a kilometre east-west looks as long as one north-south (at the middle latitude).
  function fitAspect(b, width, height) {
    if (width <= 0 || height <= 0) return;
    var cos = Math.cos(((b.y0 + b.y1) / 2) * Math.PI / 180);
    var xPerPx = (b.x1 - b.x0) / width, yPerPx = (b.y1 - b.y0) / height;
    if (xPerPx * cos < yPerPx) {
      var dx = (yPerPx / cos * width - (b.x1 - b.x0)) / 2;
      b.x0 = Math.floor(b.x0 - dx); b.x1 = Math.ceil(b.x1 + dx);
    } else {
      var dy = (xPerPx * cos * height - (b.y1 - b.y0)) / 2;
      b.y0 = Math.floor(b.y0 - dy); b.y1 = Math.ceil(b.y1 + dy);
    }
  }

  function draw() {
    var box = document.getElementById("coverage-map");
    if (!box || typeof echarts === "undefined") return;
    var label = function (name) { return box.getAttribute("data-label-" + name) || name; };
    var points = readJson("coverage-points");
    var gaps = readJson("coverage-gap-points");
    var sites = readJson("coverage-site-points");
    var context = readJson("coverage-context-points");
    var met = [], missed = [], none = [];
    points.forEach(function (p) {
      (p[2] === null ? none : p[3] ? met : missed).push(p);
    });
    var all = points.concat(gaps, sites, context);
    var lons = all.map(function (p) { return p[0]; });
    var lats = all.map(function (p) { return p[1]; });
    var pad = 0.5;
    var bounds = lons.length ? {
      x0: Math.floor(Math.min.apply(null, lons) - pad), x1: Math.ceil(Math.max.apply(null, lons) + pad),
      y0: Math.floor(Math.min.apply(null, lats) - pad), y1: Math.ceil(Math.max.apply(null, lats) + pad)
    } : { x0: 73, x1: 136, y0: 17, y1: 54 };
    fitAspect(bounds, box.clientWidth - 64, box.clientHeight - 76);
    var county = function (p) {
      return "<strong>" + escapeHtml(p.data[4]) + "</strong><br>" + escapeHtml(label("minutes")) + ": " +
        (p.data[2] === null ? "—" : escapeHtml(p.data[2])) +
        (p.data[5] ? "<br>" + escapeHtml(label("engineer")) + ": " + escapeHtml(p.data[5]) +
          " (" + escapeHtml(p.data[6]) + ")" : "");
    };
    var site = function (p) {
      return "<strong>" + escapeHtml(p.data[3]) + "</strong><br>" + escapeHtml(p.data[4]) + "<br>" +
        escapeHtml(label("minutes")) + ": " + (p.data[2] === null ? "—" : escapeHtml(p.data[2]));
    };
    var chart = echarts.init(box);
    chart.setOption({
      animation: false,
      legend: { top: 0 },
      grid: { left: 48, right: 16, top: 36, bottom: 40 },
      tooltip: { trigger: "item" },
      xAxis: { type: "value", name: label("longitude"), min: bounds.x0, max: bounds.x1, splitLine: { show: false } },
      yAxis: { type: "value", name: label("latitude"), min: bounds.y0, max: bounds.y1, splitLine: { show: false } },
      dataZoom: [{ type: "inside", xAxisIndex: 0 }, { type: "inside", yAxisIndex: 0 }],
      series: [
        { id: "context", name: label("context"), type: "scatter", data: context, symbolSize: 4,
          itemStyle: { color: "#cbd5e1" }, tooltip: { formatter: function (p) { return escapeHtml(p.data[2]); } } },
        { id: "met", name: label("met"), type: "scatter", data: met, symbolSize: 5, itemStyle: { color: "#059669" },
          tooltip: { formatter: county } },
        { id: "missed", name: label("missed"), type: "scatter", data: missed, symbolSize: 5,
          itemStyle: { color: "#d97706" }, tooltip: { formatter: county } },
        { id: "none", name: label("none"), type: "scatter", data: none, symbolSize: 5, itemStyle: { color: "#dc2626" },
          tooltip: { formatter: county } },
        { id: "site", name: label("site"), type: "scatter", data: sites, symbolSize: 10,
          itemStyle: { color: "#059669", borderColor: "#fff", borderWidth: 1 }, tooltip: { formatter: site } },
        { id: "gap", name: label("gap"), type: "scatter", data: gaps, symbol: "diamond", symbolSize: 12,
          itemStyle: { color: "#7c3aed", borderColor: "#fff", borderWidth: 1 }, tooltip: { formatter: site } }
      ].filter(function (s) { return s.data.length > 0; })
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
