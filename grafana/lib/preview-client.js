// Draws the CoffeETL dashboards preview in the browser. Inlined into the page by render.ts, after
// echarts; reads the JSON in <script id="preview-data">. Each panel element ends with
// data-panel-status = ok (drew its data) | placeholder (CloudWatch) | empty (no rows) | error.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("preview-data").textContent);
  var charts = [];
  // Grafana's classic palette (50 colours): 18+ branches get distinct colours.
  var COLORS = ["#7EB26D", "#EAB839", "#6ED0E0", "#EF843C", "#E24D42", "#1F78C1", "#BA43A9", "#705DA0", "#508642", "#CCA300",
    "#447EBC", "#C15C17", "#890F02", "#0A437C", "#6D1F62", "#584477", "#B7DBAB", "#F4D598", "#70DBED", "#F9BA8F",
    "#F29191", "#82B5D8", "#E5A8E2", "#AEA2E0", "#629E51", "#E5AC0E", "#64B0C8", "#E0752D", "#BF1B00", "#0A50A1",
    "#962D82", "#614D93", "#9AC48A", "#F2C96D", "#65C5DB", "#F9934E", "#EA6460", "#5195CE", "#D683CE", "#806EB7",
    "#3F6833", "#967302", "#2F575E", "#99440A", "#58140C", "#052B51", "#511749", "#3F2B5B", "#E0F9D7", "#FCEACA"];
  /** Grafana's default when a panel sets no thresholds: green, then red from 80. */
  var DEFAULT_THRESHOLDS = { mode: "absolute", steps: [{ color: "green", value: null }, { color: "red", value: 80 }] };
  var zone = "utc";

  function pad(n) { return (n < 10 ? "0" : "") + n; }
  /** Milliseconds to add to a UTC instant for the wall clock in the dashboard's time zone. */
  function offset(ms) {
    if (!zone || zone === "utc") return 0;
    var parts = new Intl.DateTimeFormat("en-GB", { timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" }).formatToParts(new Date(ms));
    var n = function (t) { return Number(parts.filter(function (p) { return p.type === t; })[0].value); };
    return Date.UTC(n("year"), n("month") - 1, n("day"), n("hour"), n("minute"), n("second")) - Math.floor(ms / 1000) * 1000;
  }
  function wall(ms) { return ms + offset(ms); }
  function iso(ms) {
    var d = new Date(wall(ms));
    return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) + " " + pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + ":" + pad(d.getUTCSeconds());
  }
  function fromNow(ms) {
    var s = (Date.now() - ms) / 1000, a = Math.abs(s), units = [[31536000, "year"], [2592000, "month"], [86400, "day"], [3600, "hour"], [60, "minute"]];
    for (var i = 0; i < units.length; i++) {
      if (a >= units[i][0]) { var n = Math.floor(a / units[i][0]); var t = n + " " + units[i][1] + (n === 1 ? "" : "s"); return s >= 0 ? t + " ago" : "in " + t; }
    }
    return "just now";
  }
  function num(v, decimals, min) {
    return v.toLocaleString("en-GB", { minimumFractionDigits: min == null ? 0 : min, maximumFractionDigits: decimals == null ? 2 : decimals });
  }
  /** A subset of Grafana's value formats: the units the CoffeETL dashboards use. */
  function format(v, unit, decimals, type) {
    if (v === null || v === undefined) return "–";
    if (type === "time" && (!unit || unit === "short" || unit === "none" || unit === "string")) unit = "dateTimeAsIso";
    if (typeof v !== "number") return String(v);
    switch (unit) {
      case "currencyGBP": return (v < 0 ? "-£" : "£") + num(Math.abs(v), decimals == null ? 2 : decimals, decimals == null ? 2 : decimals);
      case "percent": return num(v, decimals == null ? 1 : decimals) + "%";
      case "ms": return num(v, decimals == null ? 0 : decimals) + " ms";
      case "dateTimeAsIso": return iso(v);
      case "dateTimeFromNow": return fromNow(v);
      case "string": return String(v);
      default: return num(v, decimals);
    }
  }
  function fieldConfig(panel, name) {
    var d = panel.fieldConfig.defaults || {}, cfg = { unit: d.unit, decimals: d.decimals, cell: (d.custom || {}).cellOptions, thresholds: d.thresholds || DEFAULT_THRESHOLDS };
    (panel.fieldConfig.overrides || []).forEach(function (o) {
      if (o.matcher && o.matcher.id === "byName" && o.matcher.options === name) {
        o.properties.forEach(function (p) {
          if (p.id === "unit") cfg.unit = p.value;
          if (p.id === "decimals") cfg.decimals = p.value;
          if (p.id === "custom.cellOptions") cfg.cell = p.value;
          if (p.id === "thresholds") cfg.thresholds = p.value;
        });
      }
    });
    return cfg;
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function fields(frame, type) { return frame.fields.filter(function (f) { return f.type === type; }); }

  function drawStat(body, panel) {
    var frame = panel.frames[0], f = fields(frame, "number")[0] || fields(frame, "time")[0];
    var cfg = fieldConfig(panel, f.name), v = f.values[0];
    var value = el("div", "stat-value", format(v, cfg.unit, cfg.decimals, f.type));
    var steps = (cfg.thresholds || {}).steps || [];
    for (var i = steps.length - 1; i >= 0; i--) if (steps[i].value === null || v >= steps[i].value) { value.dataset.color = steps[i].color; break; }
    body.appendChild(value);
    if (cfg.unit === "dateTimeFromNow" && typeof v === "number") body.appendChild(el("div", "stat-sub", iso(v)));
    return true;
  }

  function chart(body) {
    var c = echarts.init(body, null, { renderer: "canvas" });
    charts.push(c);
    return c;
  }
  function axisFormatter(cfg) { return function (v) { return format(v, cfg.unit, cfg.unit === "currencyGBP" ? 0 : cfg.decimals); }; }

  function drawTimeseries(body, panel) {
    var series = [], custom = (panel.fieldConfig.defaults || {}).custom || {}, cfg = fieldConfig(panel, "");
    var type = custom.drawStyle === "bars" ? "bar" : "line";
    panel.frames.forEach(function (frame) {
      var time = frame.fields.filter(function (f) { return f.name === "time"; })[0];
      var labels = fields(frame, "string"), values = fields(frame, "number"), byKey = {};
      values.forEach(function (vf) {
        for (var r = 0; r < frame.length; r++) {
          var key = labels.map(function (l) { return l.values[r]; }).join(" ");
          var fixed = panel.fieldConfig.defaults.displayName;
          var name = key ? (values.length === 1 ? key : key + " " + vf.name) : (fixed && fixed.indexOf("${") < 0 && values.length === 1 ? fixed : vf.name);
          if (!byKey[name]) { byKey[name] = { name: name, type: type, data: [], showSymbol: true, barMaxWidth: 24 }; series.push(byKey[name]); }
          byKey[name].data.push([wall(time.values[r]), vf.values[r]]);
        }
      });
    });
    chart(body).setOption({
      animation: false, color: COLORS, grid: { left: 70, right: (panel.options.legend || {}).placement === "right" ? 170 : 16, top: 16, bottom: (panel.options.legend || {}).placement === "right" ? 28 : 48 },
      tooltip: { trigger: "axis", valueFormatter: function (v) { return format(v, cfg.unit, cfg.decimals); } },
      legend: (panel.options.legend || {}).placement === "right"
        ? { orient: "vertical", right: 0, top: 0, bottom: 0, type: "scroll", textStyle: { color: "#ccccdc" } }
        : { bottom: 0, type: "scroll", textStyle: { color: "#ccccdc" } },
      useUTC: true, // x values are wall-clock times in the dashboard's time zone (see wall())
      xAxis: { type: "time", axisLabel: { color: "#ccccdc", hideOverlap: true } },
      yAxis: { type: "value", axisLabel: { color: "#ccccdc", formatter: axisFormatter(cfg) }, splitLine: { lineStyle: { color: "#2c3235" } } },
      series: series,
    });
    return series.length > 0;
  }

  function nameValue(panel) {
    var frame = panel.frames[0], name = fields(frame, "string")[0], value = fields(frame, "number")[0];
    return { frame: frame, name: name, value: value, cfg: fieldConfig(panel, value.name) };
  }
  function drawPie(body, panel) {
    var nv = nameValue(panel), items = nv.name.values.map(function (n, i) { return { name: String(n), value: nv.value.values[i] }; });
    chart(body).setOption({
      animation: false, color: COLORS,
      tooltip: { trigger: "item", valueFormatter: function (v) { return format(v, nv.cfg.unit, nv.cfg.decimals); } },
      legend: { orient: "vertical", right: 8, top: "middle", type: "scroll", textStyle: { color: "#ccccdc" } },
      series: [{ type: "pie", radius: panel.options.pieType === "donut" ? ["40%", "70%"] : "70%", center: ["38%", "50%"], data: items,
        label: { color: "#ccccdc", formatter: "{d}%" } }],
    });
    return items.length > 0;
  }
  function drawBar(body, panel) {
    var nv = nameValue(panel), horizontal = panel.options.orientation !== "vertical";
    var names = nv.name.values.map(String), values = nv.value.values.slice();
    if (horizontal) { names.reverse(); values.reverse(); }
    var cat = { type: "category", data: names, axisLabel: { color: "#ccccdc", width: 170, overflow: "truncate" } };
    var val = { type: "value", axisLabel: { color: "#ccccdc", formatter: axisFormatter(nv.cfg) }, splitLine: { lineStyle: { color: "#2c3235" } } };
    chart(body).setOption({
      animation: false, color: COLORS, grid: { left: horizontal ? 180 : 60, right: 24, top: 12, bottom: 28 },
      tooltip: { trigger: "axis", valueFormatter: function (v) { return format(v, nv.cfg.unit, nv.cfg.decimals); } },
      xAxis: horizontal ? val : cat, yAxis: horizontal ? cat : val,
      series: [{ type: "bar", data: values, barMaxWidth: 22, itemStyle: { color: ((panel.fieldConfig.defaults || {}).color || {}).fixedColor === "blue" ? "#5794f2" : COLORS[0] }, label: { show: true, position: horizontal ? "right" : "top", color: "#ccccdc",
        formatter: function (p) { return format(p.value, nv.cfg.unit, nv.cfg.decimals); } } }],
    });
    return values.length > 0;
  }

  /** Grafana's continuous-GrYlRd scheme, for color-background cells. */
  function heat(t) {
    var stops = [[115, 191, 105], [250, 222, 42], [242, 73, 92]], s = t < 0.5 ? 0 : 1, u = t < 0.5 ? t * 2 : (t - 0.5) * 2;
    var a = stops[s], b = stops[s + 1];
    return "rgb(" + a.map(function (x, i) { return Math.round(x + (b[i] - x) * u); }).join(",") + ")";
  }
  function drawTable(body, panel) {
    var frame = panel.frames[0], table = el("table", "grid-table"), head = el("tr");
    var cfgs = frame.fields.map(function (f) { return fieldConfig(panel, f.name); });
    var heatFields = frame.fields.map(function (f, i) { return f.type === "number" && cfgs[i].cell && cfgs[i].cell.type === "color-background"; });
    var lo = Infinity, hi = -Infinity;
    frame.fields.forEach(function (f, i) { if (heatFields[i]) f.values.forEach(function (v) { if (v !== null) { lo = Math.min(lo, v); hi = Math.max(hi, v); } }); });
    frame.fields.forEach(function (f) { head.appendChild(el("th", f.type === "number" ? "num" : "", f.name)); });
    var thead = el("thead"); thead.appendChild(head); table.appendChild(thead);
    var tbody = el("tbody");
    for (var r = 0; r < frame.length; r++) {
      var tr = el("tr");
      frame.fields.forEach(function (f, i) {
        var v = f.values[r], td = el("td", f.type === "number" ? "num" : "", format(v, cfgs[i].unit, cfgs[i].decimals, f.type));
        if (heatFields[i] && v !== null) { td.style.background = heat(hi > lo ? (v - lo) / (hi - lo) : 0); td.style.color = "#111217"; td.style.textAlign = "center"; }
        if (cfgs[i].cell && cfgs[i].cell.type === "color-text" && cfgs[i].thresholds && v !== null) {
          var steps = cfgs[i].thresholds.steps || [];
          for (var k = steps.length - 1; k >= 0; k--) if (steps[k].value === null || v >= steps[k].value) { td.dataset.color = steps[k].color; break; }
        }
        tr.appendChild(td);
      });
      tbody.appendChild(tr);
    }
    table.appendChild(tbody);
    body.appendChild(table);
    return frame.length > 0;
  }

  var DRAW = { stat: drawStat, timeseries: drawTimeseries, piechart: drawPie, barchart: drawBar, table: drawTable };

  data.dashboards.forEach(function (dash) {
    zone = dash.timeZone || "utc";
    dash.panels.forEach(function (panel) {
      var node = document.getElementById(panel.domId), body = node.querySelector(".panel-body");
      try {
        if (panel.kind === "cloudwatch") {
          node.dataset.panelStatus = "placeholder";
          body.appendChild(el("div", "placeholder-title", "CloudWatch: shown in Grafana only"));
          var ul = el("ul", "placeholder-list");
          panel.metrics.forEach(function (m) { ul.appendChild(el("li", "", m)); });
          body.appendChild(ul);
          return;
        }
        if (panel.errors.length) throw new Error(panel.errors.join("\n"));
        if (panel.empty || !panel.frames.length || panel.frames.every(function (f) { return f.length === 0; })) {
          node.dataset.panelStatus = "empty";
          body.appendChild(el("div", "no-data", "No data"));
          return;
        }
        var draw = DRAW[panel.type];
        if (!draw) throw new Error("panel type " + panel.type + " is not drawn by the preview");
        node.dataset.panelStatus = draw(body, panel) ? "ok" : "empty";
      } catch (e) {
        node.dataset.panelStatus = "error";
        body.textContent = "";
        body.appendChild(el("pre", "panel-error", String(e && e.message ? e.message : e)));
      }
    });
  });
  // The controls: Grafana's URL parameters (from, to, var-<name>). Live (--serve) they reload the page
  // with the new range; on a static page they show the command that renders it.
  var form = document.getElementById("controls");
  if (form) {
    Array.prototype.forEach.call(form.querySelectorAll(".presets button"), function (b) {
      b.addEventListener("click", function () {
        form.elements.from.value = b.getAttribute("data-from");
        form.elements.to.value = b.getAttribute("data-to");
        form.requestSubmit();
      });
    });
    form.addEventListener("submit", function (e) {
      var from = form.elements.from.value.trim(), to = form.elements.to.value.trim();
      if (form.getAttribute("data-live") === "true") {
        // Empty fields mean "the default" (the data's whole history): leave them out of the URL.
        if (!from) form.elements.from.disabled = true;
        if (!to) form.elements.to.disabled = true;
        return;
      }
      e.preventDefault();
      var q = function (s) { return /^[\w.:\/+=,-]+$/.test(s) ? s : "'" + s.replace(/'/g, "'\\''") + "'"; };
      var args = ["coffeetl dashboards"];
      if (from) args.push("--from " + q(from));
      if (to) args.push("--to " + q(to));
      Array.prototype.forEach.call(form.querySelectorAll("select[data-variable]"), function (sel) {
        // The command takes a branch by name (as Grafana's URL takes value or text).
        var chosen = Array.prototype.filter.call(sel.options, function (o) { return o.selected; }).map(function (o) { return o.value === "$__all" ? o.value : o.getAttribute("data-text") || o.value; });
        if (chosen.length && chosen.indexOf("$__all") < 0) chosen.forEach(function (v) { args.push("--var " + q(sel.getAttribute("data-variable") + "=" + v)); });
      });
      var pre = document.getElementById("command");
      pre.textContent = args.join(" ");
      pre.hidden = false;
    });
  }
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  document.body.dataset.previewReady = "true";
})();
