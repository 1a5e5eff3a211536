// Draws the CoffeETL dashboards preview in the browser. Inlined into the page by render.ts, after
// echarts; reads the JSON in <script id="preview-data">. Each panel element ends with
// data-panel-status = ok (drew its data) | placeholder (CloudWatch) | empty (no rows) | error.
// Served to the browser as it is (no build step), so it is plain JavaScript type-checked through
// JSDoc as browser code by `tsc -p grafana/lib/tsconfig.preview-client.json` (run by
// tests/grafana-preview-client.test.ts): the data it reads is render.ts's PreviewData.
// @ts-check
/** @typedef {import("./run.js").Frame} Frame */
/** @typedef {import("./run.js").Field} Field */
/** A number or time field: its values are numbers (epoch milliseconds for times) or null. */
/** @typedef {Omit<Field, "values"> & { values: (number | null)[] }} NumberField */
/**
 * A time series as echarts draws it, with its total for the legend.
 * @typedef {{ name: string; type: string; data: [number, number | null][]; showSymbol: boolean; symbolSize: number; barMaxWidth: number; total: number;
 *   color?: string; itemStyle?: object; lineStyle?: object; areaStyle?: object }} Series
 */
/** @typedef {{ color: string; value: number | null }} ThresholdStep */
/** @typedef {{ mode?: string; steps?: ThresholdStep[] }} Thresholds */
/** @typedef {{ type?: string }} CellOptions */
/**
 * The Grafana field defaults the preview reads.
 * @typedef {{ unit?: string; decimals?: number; thresholds?: Thresholds; displayName?: string;
 *   color?: { mode?: string; fixedColor?: string };
 *   custom?: { cellOptions?: CellOptions; drawStyle?: string; lineWidth?: number; fillOpacity?: number } }} Defaults
 */
/**
 * The Grafana panel options the preview reads.
 * @typedef {{ legend?: { displayMode?: string; placement?: string; showLegend?: boolean; calcs?: string[]; sortBy?: string; sortDesc?: boolean; values?: string[] };
 *   displayLabels?: string[]; pieType?: string; orientation?: string; showValue?: string }} Options
 */
/** @typedef {import("./render.js").PreviewData["dashboards"][number]} RenderedDashboard */
/**
 * A panel as render.ts writes it, its Grafana options and field defaults read as the preview reads them.
 * @typedef {Omit<RenderedDashboard["panels"][number], "fieldConfig" | "options"> &
 *   { fieldConfig: { defaults: Defaults; overrides: import("./model.js").FieldOverride[] }; options: Options }} PreviewPanel
 */
/** @typedef {{ dashboards: (Omit<RenderedDashboard, "panels"> & { panels: PreviewPanel[] })[] }} PreviewData */
/** @typedef {{ unit: string | undefined; decimals: number | undefined; cell: CellOptions | undefined; thresholds: Thresholds }} FieldSettings */
/** @typedef {{ setOption(option: object): void; resize(): void }} Chart */
/** echarts, inlined before this script: the part of its API the preview uses. */
/** @typedef {{ init(dom: HTMLElement, theme: null, opts: { renderer: "canvas" }): Chart }} ECharts */
/** @typedef {{ name: string; color: string; values: string[] }} LegendRow */
/** @typedef {HTMLFormElement & { elements: HTMLFormControlsCollection & { from: HTMLInputElement; to: HTMLInputElement } }} ControlsForm */
(function () {
  "use strict";
  /** @type {PreviewData} */
  var data = JSON.parse(/** @type {string} */ (/** @type {HTMLElement} */ (document.getElementById("preview-data")).textContent));
  /** @type {Chart[]} */
  var charts = [];
  // Grafana's classic palette (createVisualizationColors' getClassicPalette), named colours resolved
  // in the dark theme's hues. `palette-classic` takes them in series order; `palette-classic-by-name`
  // keeps those with a contrast of 3 or more against the panel background (#181b1f) and picks one by
  // the npm string-hash of the series name, so a branch has its colour in every panel and selection.
  /** @type {Record<string, string>} */
  var HUES = {
    green: "#73BF69",
    yellow: "#FADE2A",
    blue: "#5794F2",
    orange: "#FF9830",
    red: "#F2495C",
    purple: "#B877D9",
    "dark-green": "#37872D",
    "dark-yellow": "#E0B400",
    "dark-blue": "#1F60C4",
    "dark-orange": "#FA6400",
    "dark-red": "#C4162A",
    "dark-purple": "#8F3BB8",
    "super-light-green": "#C8F2C2",
    "super-light-yellow": "#FFF899",
    "super-light-blue": "#C0D8FF",
    "super-light-orange": "#FFCB7D",
    "super-light-red": "#FFA6B0",
    "super-light-purple": "#DEB6F2",
  };
  var COLORS = Object.keys(HUES)
    .map(function (k) {
      return /** @type {string} */ (HUES[k]);
    })
    .concat([
      "#447EBC",
      "#C15C17",
      "#890F02",
      "#0A437C",
      "#6D1F62",
      "#584477",
      "#B7DBAB",
      "#F4D598",
      "#70DBED",
      "#F9BA8F",
      "#F29191",
      "#82B5D8",
      "#E5A8E2",
      "#AEA2E0",
      "#629E51",
      "#E5AC0E",
      "#64B0C8",
      "#E0752D",
      "#BF1B00",
      "#0A50A1",
      "#962D82",
      "#614D93",
      "#9AC48A",
      "#F2C96D",
      "#65C5DB",
      "#F9934E",
      "#EA6460",
      "#5195CE",
      "#D683CE",
      "#806EB7",
      "#3F6833",
      "#967302",
      "#2F575E",
      "#99440A",
      "#58140C",
      "#052B51",
      "#511749",
      "#3F2B5B",
      "#E0F9D7",
      "#FCEACA",
      "#CFFAFF",
      "#F9E2D2",
      "#FCE2DE",
      "#BADFF4",
      "#F9D9F9",
      "#DEDAF7",
    ]);
  /** @param {string} hex */
  function luminance(hex) {
    var c = [1, 3, 5].map(function (i) {
      var v = parseInt(hex.slice(i, i + 2), 16) / 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return Number((0.2126 * /** @type {number} */ (c[0]) + 0.7152 * /** @type {number} */ (c[1]) + 0.0722 * /** @type {number} */ (c[2])).toFixed(3));
  }
  var BG = luminance("#181B1F");
  var BY_NAME = COLORS.filter(function (c) {
    var l = luminance(c);
    return (Math.max(l, BG) + 0.05) / (Math.min(l, BG) + 0.05) >= 3;
  });
  /** npm string-hash (djb2 from the end, unsigned), as Grafana's getColorByStringHash uses it. @param {string} s */
  function stringHash(s) {
    var h = 5381,
      i = s.length;
    while (i) h = (h * 33) ^ s.charCodeAt(--i);
    return h >>> 0;
  }
  /** @param {string} name @returns {string} */
  function colorByName(name) {
    return /** @type {string} */ (BY_NAME[stringHash(name) % BY_NAME.length]);
  }
  /** @param {PreviewPanel} panel @param {string} name @param {number} index @returns {string} */
  function seriesColor(panel, name, index) {
    var mode = ((panel.fieldConfig.defaults || {}).color || {}).mode;
    return mode === "palette-classic-by-name" ? colorByName(name) : /** @type {string} */ (COLORS[index % COLORS.length]);
  }
  /** @type {any} */ (window).coffeetlPreview = { colorByName: colorByName, byNamePalette: BY_NAME };
  /** Grafana's default when a panel sets no thresholds: green, then red from 80. @type {Thresholds} */
  var DEFAULT_THRESHOLDS = {
    mode: "absolute",
    steps: [
      { color: "green", value: null },
      { color: "red", value: 80 },
    ],
  };
  var zone = "utc";

  /** @param {number} n */
  function pad(n) {
    return (n < 10 ? "0" : "") + n;
  }
  /** Milliseconds to add to a UTC instant for the wall clock in the dashboard's time zone. @param {number} ms */
  function offset(ms) {
    if (!zone || zone === "utc") return 0;
    var parts = new Intl.DateTimeFormat("en-GB", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    }).formatToParts(new Date(ms));
    var n = /** @param {Intl.DateTimeFormatPartTypes} t */ function (t) {
      return Number(
        /** @type {Intl.DateTimeFormatPart} */ (
          parts.filter(function (p) {
            return p.type === t;
          })[0]
        ).value,
      );
    };
    return Date.UTC(n("year"), n("month") - 1, n("day"), n("hour"), n("minute"), n("second")) - Math.floor(ms / 1000) * 1000;
  }
  /** @param {number} ms */
  function wall(ms) {
    return ms + offset(ms);
  }
  /** @param {number} ms */
  function iso(ms) {
    var d = new Date(wall(ms));
    return (
      d.getUTCFullYear() +
      "-" +
      pad(d.getUTCMonth() + 1) +
      "-" +
      pad(d.getUTCDate()) +
      " " +
      pad(d.getUTCHours()) +
      ":" +
      pad(d.getUTCMinutes()) +
      ":" +
      pad(d.getUTCSeconds())
    );
  }
  /** @param {number} ms */
  function fromNow(ms) {
    /** @type {[number, string][]} */
    var units = [
      [31536000, "year"],
      [2592000, "month"],
      [86400, "day"],
      [3600, "hour"],
      [60, "minute"],
    ];
    var s = (Date.now() - ms) / 1000,
      a = Math.abs(s);
    for (var i = 0; i < units.length; i++) {
      var u = /** @type {[number, string]} */ (units[i]);
      if (a >= u[0]) {
        var n = Math.floor(a / u[0]);
        var t = n + " " + u[1] + (n === 1 ? "" : "s");
        return s >= 0 ? t + " ago" : "in " + t;
      }
    }
    return "just now";
  }
  /** @param {number} v @param {number | undefined | null} [decimals] @param {number | undefined | null} [min] */
  function num(v, decimals, min) {
    return v.toLocaleString("en-GB", { minimumFractionDigits: min == null ? 0 : min, maximumFractionDigits: decimals == null ? 2 : decimals });
  }
  /**
   * A subset of Grafana's value formats: the units the CoffeETL dashboards use.
   * @param {Field["values"][number] | undefined} v @param {string | undefined} unit @param {number | undefined} decimals @param {string} [type]
   */
  function format(v, unit, decimals, type) {
    if (v === null || v === undefined) return "–";
    if (type === "time" && (!unit || unit === "short" || unit === "none" || unit === "string")) unit = "dateTimeAsIso";
    if (typeof v !== "number") return String(v);
    switch (unit) {
      case "currencyGBP":
        return (v < 0 ? "-£" : "£") + num(Math.abs(v), decimals == null ? 2 : decimals, decimals == null ? 2 : decimals);
      case "percent":
        return num(v, decimals == null ? 1 : decimals) + "%";
      case "ms":
        return num(v, decimals == null ? 0 : decimals) + " ms";
      case "dateTimeAsIso":
        return iso(v);
      case "dateTimeFromNow":
        return fromNow(v);
      case "string":
        return String(v);
      default:
        return num(v, decimals);
    }
  }
  /** @param {PreviewPanel} panel @param {string} name @returns {FieldSettings} */
  function fieldConfig(panel, name) {
    var d = panel.fieldConfig.defaults || {},
      cfg = { unit: d.unit, decimals: d.decimals, cell: (d.custom || {}).cellOptions, thresholds: d.thresholds || DEFAULT_THRESHOLDS };
    (panel.fieldConfig.overrides || []).forEach(function (o) {
      if (o.matcher && o.matcher.id === "byName" && o.matcher.options === name) {
        o.properties.forEach(function (p) {
          if (p.id === "unit") cfg.unit = /** @type {string} */ (p.value);
          if (p.id === "decimals") cfg.decimals = /** @type {number} */ (p.value);
          if (p.id === "custom.cellOptions") cfg.cell = /** @type {CellOptions} */ (p.value);
          if (p.id === "thresholds") cfg.thresholds = /** @type {Thresholds} */ (p.value);
        });
      }
    });
    return cfg;
  }
  /** @param {string} tag @param {string} [cls] @param {string} [text] @returns {HTMLElement} */
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  /** @param {Frame} frame @param {Field["type"]} type */
  function fields(frame, type) {
    return frame.fields.filter(function (f) {
      return f.type === type;
    });
  }

  /** @param {HTMLElement} body @param {PreviewPanel} panel */
  function drawStat(body, panel) {
    var frame = /** @type {Frame} */ (panel.frames[0]),
      f = /** @type {Field} */ (fields(frame, "number")[0] || fields(frame, "time")[0]);
    var cfg = fieldConfig(panel, f.name),
      v = /** @type {number} */ (f.values[0]);
    var value = el("div", "stat-value", format(v, cfg.unit, cfg.decimals, f.type));
    var steps = (cfg.thresholds || {}).steps || [];
    for (var i = steps.length - 1; i >= 0; i--) {
      var step = /** @type {ThresholdStep} */ (steps[i]);
      if (step.value === null || v >= step.value) {
        value.dataset.color = step.color;
        break;
      }
    }
    body.appendChild(value);
    if (cfg.unit === "dateTimeFromNow" && typeof v === "number") body.appendChild(el("div", "stat-sub", iso(v)));
    fitText(value, 32, 12);
    return true;
  }
  /** Grafana's stat shrinks its text to the panel: the whole value stays visible at any width. @param {HTMLElement} node @param {number} max @param {number} min */
  function fitText(node, max, min) {
    var size = max;
    node.style.fontSize = size + "px";
    while (size > min && node.scrollWidth > node.clientWidth) {
      size -= 1;
      node.style.fontSize = size + "px";
    }
  }

  /** @param {HTMLElement} body */
  function chart(body) {
    var c = /** @type {ECharts} */ (/** @type {any} */ (window).echarts).init(body, null, { renderer: "canvas" });
    charts.push(c);
    return c;
  }
  var measure = /** @type {CanvasRenderingContext2D} */ (document.createElement("canvas").getContext("2d"));
  /** Width in pixels of a label in echarts' default 12px font. @param {string} text */
  function textWidth(text) {
    measure.font = "12px sans-serif";
    return Math.ceil(measure.measureText(text).width);
  }
  /** Axis labels: short forms (Grafana writes £12K on an axis), so they never run together. @param {number} v @param {FieldSettings} cfg */
  function compact(v, cfg) {
    var a = Math.abs(v),
      unit = cfg.unit,
      suffix = "",
      n = v;
    if (a >= 1e6) {
      n = v / 1e6;
      suffix = "M";
    } else if (a >= 1e4) {
      n = v / 1e3;
      suffix = "K";
    }
    if (!suffix) return format(v, unit, unit === "currencyGBP" ? 0 : cfg.decimals);
    var t = num(n, n >= 100 ? 0 : 1) + suffix;
    return unit === "currencyGBP" ? (v < 0 ? "-£" : "£") + t.replace("-", "") : unit === "percent" ? t + "%" : t;
  }
  /** @param {FieldSettings} cfg */
  function axisFormatter(cfg) {
    return /** @param {number} v */ function (v) {
      return compact(v, cfg);
    };
  }

  /**
   * A legend as Grafana's table mode draws it: colour, name and the asked calculations; click to show one alone.
   * @param {HTMLElement} container @param {LegendRow[]} rows @param {string[]} columns @param {(name: string, row: HTMLElement) => void} [onClick]
   */
  function legendTable(container, rows, columns, onClick) {
    var table = el("table", "grid-table legend-table"),
      head = el("tr");
    head.appendChild(el("th", "", "Name"));
    columns.forEach(function (c) {
      head.appendChild(el("th", "num", c));
    });
    var thead = el("thead");
    thead.appendChild(head);
    table.appendChild(thead);
    var tbody = el("tbody");
    rows.forEach(function (r) {
      var tr = el("tr"),
        name = el("td", "legend-name"),
        swatch = el("span", "swatch");
      swatch.style.background = r.color;
      name.appendChild(swatch);
      name.appendChild(document.createTextNode(r.name));
      name.title = r.name;
      tr.appendChild(name);
      r.values.forEach(function (v) {
        tr.appendChild(el("td", "num", v));
      });
      if (onClick)
        tr.addEventListener("click", function () {
          onClick(r.name, tr);
        });
      tbody.appendChild(tr);
    });
    table.appendChild(tbody);
    container.appendChild(table);
  }
  /** Splits a panel body into the chart and a legend beside it (Grafana's placement "right"). @param {HTMLElement} body @param {number} legendWidth */
  function withLegend(body, legendWidth) {
    body.classList.add("with-legend");
    var plot = el("div", "plot"),
      legend = el("div", "legend");
    legend.style.flexBasis = legendWidth + "px";
    body.appendChild(plot);
    body.appendChild(legend);
    return { plot: plot, legend: legend };
  }

  /** @param {HTMLElement} body @param {PreviewPanel} panel */
  function drawTimeseries(body, panel) {
    /** @type {Series[]} */
    var series = [];
    var custom = (panel.fieldConfig.defaults || {}).custom || {},
      cfg = fieldConfig(panel, "");
    /** @type {number[]} */
    var times = [];
    var type = custom.drawStyle === "bars" ? "bar" : "line";
    panel.frames.forEach(function (frame) {
      var time = /** @type {NumberField} */ (
        frame.fields.filter(function (f) {
          return f.name === "time";
        })[0]
      );
      /** @type {Record<string, Series>} */
      var byKey = {};
      var labels = fields(frame, "string"),
        values = /** @type {NumberField[]} */ (fields(frame, "number"));
      values.forEach(function (vf) {
        for (var r = 0; r < frame.length; r++) {
          var key = labels
            .map(function (l) {
              return l.values[r];
            })
            .join(" ");
          var fixed = panel.fieldConfig.defaults.displayName;
          var name = key ? (values.length === 1 ? key : key + " " + vf.name) : fixed && fixed.indexOf("${") < 0 && values.length === 1 ? fixed : vf.name;
          if (!byKey[name]) {
            byKey[name] = { name: name, type: type, data: [], showSymbol: true, symbolSize: 5, barMaxWidth: 24, total: 0 };
            series.push(/** @type {Series} */ (byKey[name]));
          }
          var at = /** @type {number} */ (time.values[r]),
            value = /** @type {number | null} */ (vf.values[r]),
            line = /** @type {Series} */ (byKey[name]);
          line.data.push([wall(at), value]);
          line.total += value || 0;
          times.push(at);
        }
      });
    });
    series.forEach(function (s, i) {
      s.color = seriesColor(panel, s.name, i);
      s.itemStyle = { color: s.color };
      s.lineStyle = { color: s.color, width: custom.lineWidth || 1 };
    });
    // Day series (one point per day): ticks on days, never "12:00".
    times = times
      .filter(function (t, i, a) {
        return a.indexOf(t) === i;
      })
      .sort(function (a, b) {
        return a - b;
      });
    var step = Infinity;
    for (var i = 1; i < times.length; i++) step = Math.min(step, /** @type {number} */ (times[i]) - /** @type {number} */ (times[i - 1]));
    var daily = step >= 86400000 - 3600000; // a summer-time day is an hour short
    var legendOpts = panel.options.legend || {},
      table = legendOpts.displayMode === "table" && legendOpts.placement === "right" && legendOpts.showLegend !== false;
    var width = body.clientWidth,
      target = body;
    if (table) {
      var longest = series.reduce(function (m, s) {
        return Math.max(m, textWidth(s.name));
      }, 0);
      var parts = withLegend(body, Math.min(Math.round(width * 0.42), Math.max(150, longest + 110)));
      target = parts.plot;
      var calcs = legendOpts.calcs || [];
      var rows = series.map(function (s) {
        return {
          name: s.name,
          color: /** @type {string} */ (s.color),
          total: s.total,
          values: calcs.indexOf("sum") >= 0 ? [format(s.total, cfg.unit, cfg.decimals)] : [],
        };
      });
      if (legendOpts.sortBy === "Total")
        rows.sort(function (a, b) {
          return legendOpts.sortDesc ? b.total - a.total : a.total - b.total;
        });
      /** @type {string | null} */
      var isolated = null;
      legendTable(parts.legend, rows, calcs.indexOf("sum") >= 0 ? ["Total"] : [], function (name, tr) {
        isolated = isolated === name ? null : name;
        c.setOption({
          series: series.map(function (s) {
            return {
              name: s.name,
              lineStyle: { opacity: !isolated || s.name === isolated ? 1 : 0 },
              itemStyle: { opacity: !isolated || s.name === isolated ? 1 : 0 },
              areaStyle: custom.fillOpacity ? { opacity: !isolated || s.name === isolated ? custom.fillOpacity / 100 : 0 } : undefined,
            };
          }),
        });
        Array.prototype.forEach.call(
          /** @type {ParentNode} */ (tr.parentNode).children,
          /** @param {HTMLElement} row */ function (row) {
            row.classList.toggle("dimmed", !!isolated && row !== tr && /** @type {HTMLElement} */ (row.firstChild).title !== isolated);
          },
        );
      });
    }
    if (custom.fillOpacity)
      series.forEach(function (s) {
        s.areaStyle = { opacity: /** @type {number} */ (custom.fillOpacity) / 100 };
      });
    var c = chart(target),
      plotWidth = target.clientWidth;
    c.setOption({
      animation: false,
      grid: { left: 56, right: 16, top: 12, bottom: table || !legendOpts.showLegend ? 26 : 48 },
      tooltip: {
        trigger: "axis",
        valueFormatter: /** @param {number} v */ function (v) {
          return format(v, cfg.unit, cfg.decimals);
        },
      },
      legend: { show: !table && legendOpts.showLegend !== false, bottom: 0, type: "scroll", textStyle: { color: "#ccccdc" } },
      useUTC: true, // x values are wall-clock times in the dashboard's time zone (see wall())
      // The chosen range, not just the data's, as Grafana's time axis.
      xAxis: {
        type: "time",
        min: range ? wall(range.from) : undefined,
        max: range ? wall(range.to) : undefined,
        minInterval: daily ? 86400000 : undefined,
        splitNumber: Math.max(2, Math.floor(plotWidth / 90)),
        axisLabel: { color: "#ccccdc", hideOverlap: true, formatter: daily ? dayTick : { day: "{d} {MMM}", hour: "{HH}:{mm}", minute: "{HH}:{mm}" } },
      },
      yAxis: {
        type: "value",
        splitNumber: 4,
        axisLabel: { color: "#ccccdc", hideOverlap: true, formatter: axisFormatter(cfg) },
        splitLine: { lineStyle: { color: "#2c3235" } },
      },
      series: series,
    });
    return series.length > 0;
  }

  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  /** A day series' tick: the date at a day's start, nothing elsewhere (the range's own ends). @param {number} v */
  function dayTick(v) {
    var d = new Date(v);
    if (d.getUTCHours() || d.getUTCMinutes()) return "";
    // Over half a year the ticks fall on months: say which year.
    if (range && range.to - range.from > 183 * 86400000) return d.getUTCDate() === 1 ? MONTHS[d.getUTCMonth()] + " " + d.getUTCFullYear() : "";
    return d.getUTCDate() + " " + MONTHS[d.getUTCMonth()];
  }

  /** @param {PreviewPanel} panel */
  function nameValue(panel) {
    var frame = /** @type {Frame} */ (panel.frames[0]),
      name = /** @type {Field} */ (fields(frame, "string")[0]),
      value = /** @type {NumberField} */ (fields(frame, "number")[0]);
    return { frame: frame, name: name, value: value, cfg: fieldConfig(panel, value.name) };
  }
  /** @param {HTMLElement} body @param {PreviewPanel} panel */
  function drawPie(body, panel) {
    var nv = nameValue(panel),
      total = 0;
    var items = nv.name.values.map(function (n, i) {
      total += nv.value.values[i] || 0;
      return { name: String(n), value: nv.value.values[i], itemStyle: { color: seriesColor(panel, String(n), i) } };
    });
    var legendOpts = panel.options.legend || {},
      target = body;
    var pct = /** @param {number | null | undefined} v */ function (v) {
      return total ? num((Number(v) / total) * 100, 0) + "%" : "–";
    };
    if (legendOpts.displayMode === "table" && legendOpts.showLegend !== false) {
      var parts = withLegend(body, Math.min(Math.round(body.clientWidth * 0.5), 220));
      target = parts.plot;
      var cols = (legendOpts.values || []).map(
        /** @param {string} v */ function (v) {
          return v === "percent" ? "Percent" : "Value";
        },
      );
      legendTable(
        parts.legend,
        items.map(function (it) {
          return {
            name: it.name,
            color: it.itemStyle.color,
            values: (legendOpts.values || []).map(
              /** @param {string} v */ function (v) {
                return v === "percent" ? pct(it.value) : format(it.value, nv.cfg.unit, nv.cfg.decimals);
              },
            ),
          };
        }),
        cols,
      );
    }
    var shown = panel.options.displayLabels || [];
    // Labels inside the slices: nothing to cut at the panel's edge, whatever its width.
    chart(target).setOption({
      animation: false,
      tooltip: {
        trigger: "item",
        valueFormatter: /** @param {number} v */ function (v) {
          return format(v, nv.cfg.unit, nv.cfg.decimals);
        },
      },
      series: [
        {
          type: "pie",
          radius: panel.options.pieType === "donut" ? ["40%", "78%"] : "78%",
          center: ["50%", "50%"],
          data: items,
          label: {
            show: shown.length > 0,
            position: "inside",
            color: "#111217",
            fontWeight: 600,
            lineHeight: 15,
            formatter: /** @param {{ percent: number; name: string; value: number }} p */ function (p) {
              return p.percent < 6
                ? ""
                : shown
                    .map(function (k) {
                      return k === "percent" ? Math.round(p.percent) + "%" : k === "name" ? p.name : format(p.value, nv.cfg.unit, nv.cfg.decimals);
                    })
                    .join("\n");
            },
          },
        },
      ],
    });
    return items.length > 0;
  }
  /** @param {HTMLElement} body @param {PreviewPanel} panel */
  function drawBar(body, panel) {
    var nv = nameValue(panel),
      horizontal = panel.options.orientation !== "vertical";
    var names = nv.name.values.map(String),
      values = nv.value.values.slice();
    if (horizontal) {
      names.reverse();
      values.reverse();
    }
    var label = /** @param {number | null} v */ function (v) {
      return format(v, nv.cfg.unit, nv.cfg.decimals);
    };
    // Room for the longest value label beyond the longest bar, and for the names (truncated past 40%).
    var valueRoom =
      values.reduce(
        /** @param {number} m @param {number | null} v */ function (m, v) {
          return Math.max(m, textWidth(label(v)));
        },
        0,
      ) + 14;
    var nameRoom = Math.min(
      Math.round(body.clientWidth * 0.4),
      names.reduce(function (m, n) {
        return Math.max(m, textWidth(n));
      }, 0) + 24,
    );
    var cat = { type: "category", data: names, axisLabel: { color: "#ccccdc", width: nameRoom - 10, overflow: "truncate" } };
    var val = {
      type: "value",
      min: 0,
      splitNumber: Math.max(2, Math.floor((body.clientWidth - nameRoom - valueRoom) / 70)),
      axisLabel: { color: "#ccccdc", hideOverlap: true, formatter: axisFormatter(nv.cfg) },
      splitLine: { lineStyle: { color: "#2c3235" } },
    };
    var color = ((panel.fieldConfig.defaults || {}).color || {}).fixedColor;
    chart(body).setOption({
      animation: false,
      grid: { left: horizontal ? nameRoom : 56, right: horizontal ? valueRoom : 16, top: horizontal ? 8 : 22, bottom: 24 },
      tooltip: { trigger: "axis", valueFormatter: label },
      xAxis: horizontal ? val : cat,
      yAxis: horizontal ? cat : val,
      series: [
        {
          type: "bar",
          data: values,
          barMaxWidth: 22,
          itemStyle: { color: color ? HUES[color] || color : COLORS[0] },
          label: {
            show: panel.options.showValue !== "never",
            position: horizontal ? "right" : "top",
            color: "#ccccdc",
            formatter: /** @param {{ value: number }} p */ function (p) {
              return label(p.value);
            },
          },
        },
      ],
    });
    return values.length > 0;
  }

  /** Grafana's continuous-GrYlRd scheme, for color-background cells. @param {number} t */
  function heat(t) {
    var stops = [
        [115, 191, 105],
        [250, 222, 42],
        [242, 73, 92],
      ],
      s = t < 0.5 ? 0 : 1,
      u = t < 0.5 ? t * 2 : (t - 0.5) * 2;
    var a = /** @type {number[]} */ (stops[s]),
      b = /** @type {number[]} */ (stops[s + 1]);
    return (
      "rgb(" +
      a
        .map(function (x, i) {
          return Math.round(x + (Number(b[i]) - x) * u);
        })
        .join(",") +
      ")"
    );
  }
  /** @param {HTMLElement} body @param {PreviewPanel} panel */
  function drawTable(body, panel) {
    var frame = /** @type {Frame} */ (panel.frames[0]),
      table = el("table", "grid-table"),
      head = el("tr");
    var cfgs = frame.fields.map(function (f) {
      return fieldConfig(panel, f.name);
    });
    var heatFields = frame.fields.map(function (f, i) {
      var cfg = /** @type {FieldSettings} */ (cfgs[i]);
      return f.type === "number" && cfg.cell && cfg.cell.type === "color-background";
    });
    var lo = Infinity,
      hi = -Infinity;
    frame.fields.forEach(function (f, i) {
      if (heatFields[i])
        /** @type {NumberField} */ (f).values.forEach(function (v) {
          if (v !== null) {
            lo = Math.min(lo, v);
            hi = Math.max(hi, v);
          }
        });
    });
    frame.fields.forEach(function (f) {
      head.appendChild(el("th", f.type === "number" ? "num" : "", f.name));
    });
    var thead = el("thead");
    thead.appendChild(head);
    table.appendChild(thead);
    var tbody = el("tbody");
    for (var r = 0; r < frame.length; r++) {
      var tr = el("tr");
      frame.fields.forEach(function (f, i) {
        var cfg = /** @type {FieldSettings} */ (cfgs[i]);
        var v = f.values[r],
          td = el("td", f.type === "number" ? "num" : "", format(v, cfg.unit, cfg.decimals, f.type));
        if (heatFields[i] && v !== null) {
          td.style.background = heat(hi > lo ? (Number(v) - lo) / (hi - lo) : 0);
          td.style.color = "#111217";
          td.style.textAlign = "center";
        }
        if (cfg.cell && cfg.cell.type === "color-text" && cfg.thresholds && v !== null) {
          var steps = cfg.thresholds.steps || [];
          for (var k = steps.length - 1; k >= 0; k--) {
            var step = /** @type {ThresholdStep} */ (steps[k]);
            if (step.value === null || /** @type {number} */ (v) >= step.value) {
              td.dataset.color = step.color;
              break;
            }
          }
        }
        tr.appendChild(td);
      });
      tbody.appendChild(tr);
    }
    table.appendChild(tbody);
    body.appendChild(table);
    return frame.length > 0;
  }

  /** @type {Record<string, (body: HTMLElement, panel: PreviewPanel) => boolean>} */
  var DRAW = { stat: drawStat, timeseries: drawTimeseries, piechart: drawPie, barchart: drawBar, table: drawTable };

  /** @type {{ from: number; to: number } | null} */
  var range = null;
  data.dashboards.forEach(function (dash) {
    zone = dash.timeZone || "utc";
    range = dash.range || null;
    dash.panels.forEach(function (panel) {
      var node = /** @type {HTMLElement} */ (document.getElementById(panel.domId)),
        body = /** @type {HTMLElement} */ (node.querySelector(".panel-body"));
      try {
        if (panel.kind === "cloudwatch") {
          node.dataset.panelStatus = "placeholder";
          body.appendChild(el("div", "placeholder-title", "CloudWatch: shown in Grafana only"));
          var ul = el("ul", "placeholder-list");
          panel.metrics.forEach(function (m) {
            ul.appendChild(el("li", "", m));
          });
          body.appendChild(ul);
          return;
        }
        if (panel.errors.length) throw new Error(panel.errors.join("\n"));
        if (
          panel.empty ||
          !panel.frames.length ||
          panel.frames.every(function (f) {
            return f.length === 0;
          })
        ) {
          node.dataset.panelStatus = "empty";
          body.appendChild(el("div", "no-data", "No data"));
          return;
        }
        var draw = DRAW[/** @type {string} */ (panel.type)];
        if (!draw) throw new Error("panel type " + panel.type + " is not drawn by the preview");
        node.dataset.panelStatus = draw(body, panel) ? "ok" : "empty";
      } catch (e) {
        node.dataset.panelStatus = "error";
        body.textContent = "";
        body.appendChild(el("pre", "panel-error", String(e && /** @type {Error} */ (e).message ? /** @type {Error} */ (e).message : e)));
      }
    });
  });
  // The controls: Grafana's URL parameters (from, to, var-<name>). Live (--serve) they reload the page
  // with the new range; on a static page they show the command that renders it.
  // Typed as present: the check below is what handles a page without controls.
  var form = /** @type {ControlsForm} */ (document.getElementById("controls"));
  if (form) {
    Array.prototype.forEach.call(
      form.querySelectorAll(".presets button"),
      /** @param {HTMLButtonElement} b */ function (b) {
        b.addEventListener("click", function () {
          form.elements.from.value = /** @type {string} */ (b.getAttribute("data-from"));
          form.elements.to.value = /** @type {string} */ (b.getAttribute("data-to"));
          form.requestSubmit();
        });
      },
    );
    form.addEventListener("submit", function (e) {
      var from = form.elements.from.value.trim(),
        to = form.elements.to.value.trim();
      if (form.getAttribute("data-live") === "true") {
        // Empty fields mean "the default" (the data's whole history): leave them out of the URL.
        if (!from) form.elements.from.disabled = true;
        if (!to) form.elements.to.disabled = true;
        return;
      }
      e.preventDefault();
      var q = /** @param {string} s */ function (s) {
        return /^[\w.:/+=,-]+$/.test(s) ? s : "'" + s.replace(/'/g, "'\\''") + "'";
      };
      var args = ["coffeetl dashboards"];
      if (from) args.push("--from " + q(from));
      if (to) args.push("--to " + q(to));
      Array.prototype.forEach.call(
        form.querySelectorAll("select[data-variable]"),
        /** @param {HTMLSelectElement} sel */ function (sel) {
          // The command takes a branch by name (as Grafana's URL takes value or text).
          var chosen = Array.prototype.filter
            .call(
              sel.options,
              /** @param {HTMLOptionElement} o */ function (o) {
                return o.selected;
              },
            )
            .map(
              /** @param {HTMLOptionElement} o */ function (o) {
                return o.value === "$__all" ? o.value : o.getAttribute("data-text") || o.value;
              },
            );
          if (chosen.length && chosen.indexOf("$__all") < 0)
            chosen.forEach(
              /** @param {string} v */ function (v) {
                args.push("--var " + q(sel.getAttribute("data-variable") + "=" + v));
              },
            );
        },
      );
      var pre = /** @type {HTMLPreElement} */ (document.getElementById("command"));
      pre.textContent = args.join(" ");
      pre.hidden = false;
    });
  }
  window.addEventListener("resize", function () {
    charts.forEach(function (c) {
      c.resize();
    });
  });
  document.body.dataset.previewReady = "true";
})();
