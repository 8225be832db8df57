/* perf-pipeline report: builds plotly charts from the JSON data island.
   Untrusted strings (benchmark names, commit messages) only ever reach the DOM through
   textContent, and plotly (which understands a little HTML) only through esc(). */
"use strict";
(function () {
  const COLORS = {regression: "#d1242f", improvement: "#1a7f37", inconclusive: "#bf8700",
                  unchanged: "#6e7781", "": "#8c959f"};
  const PLOT_CONFIG = {displaylogo: false, responsive: true,
                       modeBarButtonsToRemove: ["select2d", "lasso2d"]};
  const FONT = {family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size: 14};

  function esc(s) {
    return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }
  function short(s, n) { s = String(s); return s.length > n ? s.slice(0, n - 1) + "…" : s; }
  // Benchmark names differ at the end (path::Class::test[param]): keep the end.
  function tail(s, n) { s = String(s); return s.length > n ? "…" + s.slice(-(n - 1)) : s; }

  function timeScale(v) {
    const a = Math.abs(v);
    if (a >= 1) return [1, "s"];
    if (a >= 1e-3) return [1e-3, "ms"];
    if (a >= 1e-6) return [1e-6, "µs"];
    return [1e-9, "ns"];
  }
  function byteScale(v) {
    const a = Math.abs(v);
    if (a >= 1024 ** 3) return [1024 ** 3, "GiB"];
    if (a >= 1024 ** 2) return [1024 ** 2, "MiB"];
    if (a >= 1024) return [1024, "KiB"];
    return [1, "B"];
  }
  function scaleFor(unit, ref) {
    if (unit === "s") return timeScale(ref);
    if (unit === "B") return byteScale(ref);
    return [1, unit === "count" ? "" : unit];
  }
  // Writes a value as units.py:format_metric does, so hover and Markdown agree: three
  // digits, and the unit above from 999.5 on ("1.00 ms", not "1000 µs"; "1.00 MiB", not
  // "1024 KiB"); whole bytes and counts without decimals.
  function fmt(unit, v) {
    if (v === null || v === undefined || !isFinite(v)) return "–";
    if (unit !== "s" && unit !== "B") {
      return Number.isInteger(v) ? v.toLocaleString("en-US") : threeDigits(v);
    }
    if (v === 0) return "0 " + unit;
    let [f, u] = scaleFor(unit, v);
    if (Math.abs(v / f) >= 999.5) {
      const up = scaleFor(unit, Math.sign(v) * f * (unit === "B" ? 1024 : 1000));
      if (up[0] > f) [f, u] = up;
    }
    return u === "B" ? v.toFixed(0) + " B" : threeDigits(v / f) + " " + u;
  }
  function threeDigits(x) {
    const a = Math.abs(x);
    return a >= 100 ? x.toFixed(0) : a >= 10 ? x.toFixed(1) : x.toFixed(2);
  }

  // A ratio as units.py:ratio_number writes it: below 0.1 two significant digits, so a
  // 250x speed-up is 0.0040, not 0.00 (a ratio of zero).
  function ratioNum(x, digits) {
    const a = Math.abs(x);
    return a > 0 && a < 0.1 ? x.toFixed(1 - Math.floor(Math.log10(a))) : x.toFixed(digits);
  }
  // A p-value as units.py:format_p_value writes it in the tables: "1.0e-06", "0.400".
  function pText(p) {
    if (p === null || p === undefined || !isFinite(p)) return "–";
    if (p >= 0.001) return p.toFixed(3);
    const [m, e] = p.toExponential(1).split("e");
    const n = Math.abs(Number(e));
    return m + "e" + (Number(e) < 0 ? "-" : "+") + (n < 10 ? "0" : "") + n;
  }
  // An interval with an infinite end (too few samples, or a zero in the baseline) reaches
  // the page as null; like the Python tables, it reads "–" rather than half a range.
  function ciText(low, high) {
    return low === null || high === null ? "–" : ratioNum(low, 2) + " – " + ratioNum(high, 2);
  }

  // A comparison's ratio as the tables write it: marked when the confirmation's A/B
  // decided it (c[10]), whose ratio is of its own rounds, not of the medians plotted here.
  // Relative to a removed suite-wide shift, the raw ratio (c[11]) follows, or "ratio
  // 0.99×" sat on a chart whose current point is 1.5× its baseline.
  function ratioText(c, digits) {
    if (c[3] === null) return "–";
    const own = ratioNum(c[3], digits) + "×";
    const raw = c[11] === null || c[11] === undefined ? own : ratioNum(c[11], digits) + "×";
    return own + (c[10] ? " (A/B)" : "") + (raw === own ? "" : " (raw " + raw + ")");
  }

  async function loadData() {
    const el = document.getElementById("report-data");
    if (el.dataset.encoding === "gzip+base64") {
      const bin = atob(el.textContent.trim());
      const bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
      return JSON.parse(await new Response(stream).text());
    }
    return JSON.parse(el.textContent);
  }

  function buildIndex(D) {
    const runs = D.runs, n = runs.sha.length;
    const seen = {};
    const cats = [];
    for (let i = 0; i < n; i++) {
      let base = runs.sha[i] ? runs.sha[i].slice(0, 7) : runs.date[i] || runs.label[i];
      let lab = base, k = 2;
      while (seen[lab]) lab = base + " ·" + k++;
      seen[lab] = 1;
      cats.push(lab);
    }
    const series = new Map();
    for (const s of D.series) series.set(s[0] * 1000 + s[1], s);
    const cmp = new Map();
    for (const c of D.cmp) cmp.set(c[0] * 1000 + c[1], c);
    const base = new Map();
    for (const b of D.baseLines) base.set(b[0] * 1000 + b[1], b[2]);
    const dist = new Map();
    for (const d of D.dist) dist.set(d[0], d);
    const metricIdx = {};
    D.metrics.forEach((m, i) => { metricIdx[m[0]] = i; });
    return {cats, series, cmp, base, dist, metricIdx,
            baseRuns: new Set(D.baselineRuns)};
  }

  function decode(s) {
    const f = Math.pow(10, s[3]);
    const v = s[4], n = v.length;
    const x = new Array(n), y = new Array(n), lo = new Array(n), hi = new Array(n);
    for (let i = 0; i < n; i++) {
      x[i] = Array.isArray(s[2]) ? s[2][i] : s[2] + i;
      y[i] = v[i] * f;
      lo[i] = (v[i] - (s[5] ? s[5][i] : 0)) * f;
      hi[i] = (v[i] + (s[6] ? s[6][i] : 0)) * f;
    }
    return {x, y, lo, hi};
  }

  function layoutBase(extra) {
    return Object.assign({font: FONT, margin: {l: 70, r: 30, t: 40, b: 60},
                          paper_bgcolor: "#fff", plot_bgcolor: "#fff",
                          hoverlabel: {font: {size: 14}},
                          legend: {orientation: "h", x: 1, xanchor: "right", y: 1.02,
                                   yanchor: "bottom"}},
                         extra);
  }

  function drawTrend(D, I, b, m) {
    const el = document.getElementById("trend");
    const [key, label, unit] = D.metrics[m];
    const s = I.series.get(b * 1000 + m);
    if (!s) {
      Plotly.react(el, [], layoutBase({title: {text: "no history for " + esc(label)},
                                       xaxis: {visible: false}, yaxis: {visible: false}}),
                   PLOT_CONFIG);
      return;
    }
    const d = decode(s);
    const ref = d.y.slice().sort((a, c) => a - c)[d.y.length >> 1];
    const [f, u] = scaleFor(unit, ref);
    const xs = d.x.map(i => I.cats[i]);
    const sc = v => v / f;
    const cd = d.x.map((r, i) => [D.runs.sha[r] || "(no commit)", esc(D.runs.msg[r]),
                                  D.runs.date[r], fmt(unit, d.lo[i]), fmt(unit, d.hi[i]),
                                  fmt(unit, d.y[i])]);
    const traces = [
      {x: xs, y: d.hi.map(sc), mode: "lines", line: {width: 0}, hoverinfo: "skip",
       showlegend: false, name: "interval high", type: "scatter"},
      {x: xs, y: d.lo.map(sc), mode: "lines", line: {width: 0}, fill: "tonexty",
       fillcolor: "rgba(9,105,218,0.15)", hoverinfo: "skip", name: "run interval (IQR)",
       type: "scatter"},
      {x: xs, y: d.y.map(sc), mode: d.x.length > 300 ? "lines" : "lines+markers",
       name: "median per run", type: "scatter", line: {color: "#0969da", width: 2},
       marker: {size: 6}, customdata: cd,
       hovertemplate: "<b>%{customdata[0]}</b>  %{customdata[2]}<br>%{customdata[1]}<br>" +
         "median %{customdata[5]}<br>interval %{customdata[3]} – %{customdata[4]}" +
         "<extra></extra>"},
    ];
    const bi = [], cur = [];
    d.x.forEach((r, i) => { if (I.baseRuns.has(r)) bi.push(i); if (r === D.current) cur.push(i); });
    if (bi.length) {
      traces.push({x: bi.map(i => xs[i]), y: bi.map(i => sc(d.y[i])), mode: "markers",
                   type: "scatter", name: "baseline runs", hoverinfo: "skip",
                   marker: {size: 9, color: "rgba(0,0,0,0)", line: {color: "#57606a", width: 2}}});
    }
    const c = I.cmp.get(b * 1000 + m);
    if (cur.length) {
      const verdict = c ? c[2] : "";
      traces.push({x: cur.map(i => xs[i]), y: cur.map(i => sc(d.y[i])), mode: "markers",
                   type: "scatter", name: "current" + (verdict ? " (" + verdict + ")" : ""),
                   hoverinfo: "skip",
                   marker: {size: 16, symbol: "diamond", color: COLORS[verdict] || "#0969da",
                            line: {color: "#fff", width: 1.5}}});
    }
    const shapes = [], ann = [];
    const bm = I.base.get(b * 1000 + m);
    if (bm !== undefined && bm !== null) {
      shapes.push({type: "line", xref: "paper", x0: 0, x1: 1, y0: sc(bm), y1: sc(bm),
                   line: {color: "#57606a", width: 1.5, dash: "dash"}});
      ann.push({xref: "paper", x: 0, y: sc(bm), xanchor: "left", yanchor: "bottom",
                text: "baseline " + fmt(unit, bm), showarrow: false, font: {color: "#57606a"}});
    }
    // Change points: a dotted vertical line where a new level starts (a layout shape, so
    // the traces stay what they are).
    for (const cp of (D.changePoints || [])) {
      if (cp[0] !== b || cp[1] !== m) continue;
      const at = d.x.indexOf(cp[2]);
      if (at < 0) continue;
      shapes.push({type: "line", yref: "paper", y0: 0, y1: 1, x0: xs[at], x1: xs[at],
                   line: {color: cp[3] > 1 ? "#cf222e" : "#1a7f37", width: 1.5, dash: "dot"}});
      ann.push({yref: "paper", y: 1, x: xs[at], yanchor: "bottom", showarrow: false,
                text: "change ×" + (cp[3] === null ? "?" : ratioNum(cp[3], 2)),
                font: {color: cp[3] > 1 ? "#cf222e" : "#1a7f37"}});
    }
    // Drifts: a shaded band over the runs a slow drift spans.
    for (const dr of (D.drifts || [])) {
      if (dr[0] !== b || dr[1] !== m) continue;
      const a = d.x.indexOf(dr[2]), z = d.x.indexOf(dr[3]);
      if (a < 0 || z < 0) continue;
      const col = dr[4] > 1 ? "#cf222e" : "#1a7f37";
      shapes.push({type: "rect", yref: "paper", y0: 0, y1: 1, x0: xs[a], x1: xs[z],
                   fillcolor: col, opacity: 0.08, line: {width: 0}});
      ann.push({yref: "paper", y: 1, x: xs[z], yanchor: "bottom", xanchor: "right",
                showarrow: false, font: {color: col},
                text: "drift ×" + (dr[4] === null ? "?" : ratioNum(dr[4], 2))});
    }
    // Culprits: the commit a culprit search named, marked where it was measured.
    for (const cu of (D.culprits || [])) {
      if (cu[0] !== b || cu[1] !== m) continue;
      const at = d.x.indexOf(cu[2]);
      if (at < 0) continue;
      shapes.push({type: "line", yref: "paper", y0: 0, y1: 1, x0: xs[at], x1: xs[at],
                   line: {color: "#8250df", width: 2}});
      ann.push({yref: "paper", y: 0.92, x: xs[at], yanchor: "bottom", showarrow: false,
                font: {color: "#8250df"},
                text: "culprit " + esc(cu[4]) + " (" + esc(cu[5]) + ")" +
                      (cu[3] === null ? "" : " ×" + ratioNum(cu[3], 2))});
    }
    const title = esc(short(label, 40)) + (c ? " · ratio " + ratioText(c, 2) : "");
    Plotly.react(el, traces, layoutBase({
      title: {text: title, x: 0.01, y: 0.97, yanchor: "top"},
      margin: {l: 70, r: 30, t: 70, b: 60},
      xaxis: {title: {text: "commit (oldest → newest)"}, type: "category", tickangle: -45,
              nticks: 16, automargin: true},
      yaxis: {title: {text: label + (u ? " (" + u + ")" : "")}, rangemode: "tozero",
              automargin: true},
      shapes, annotations: ann, hovermode: "closest"}), PLOT_CONFIG);
  }

  function drawResources(D, I, b) {
    const el = document.getElementById("resources");
    const traces = [];
    const mem = ["peak_rss_bytes", "tracemalloc_peak_bytes"], cpu = ["cpu_user_s", "cpu_system_s"];
    const colors = ["#8250df", "#bf3989", "#0969da", "#1b7c83"];
    const found = [];
    mem.concat(cpu).forEach((key, k) => {
      const m = I.metricIdx[key];
      const s = m === undefined ? null : I.series.get(b * 1000 + m);
      if (s) found.push({key, m, k, d: decode(s), isMem: mem.includes(key)});
    });
    // Each axis in the unit that fits its largest value (a call of a few hundred ns read
    // "325µ" on an axis in ms); hover text as fmt writes it, as in the tables.
    const top = isMem => Math.max(0, ...found.filter(f => f.isMem === isMem)
                                             .flatMap(f => f.d.y.filter(v => isFinite(v))));
    const [memDiv, memUnit] = byteScale(top(true) || 1024 * 1024);
    const [cpuDiv, cpuUnit] = timeScale(top(false) || 1e-3);
    for (const f of found) {
      const [div, u] = f.isMem ? [memDiv, memUnit] : [cpuDiv, cpuUnit];
      traces.push({x: f.d.x.map(i => I.cats[i]), y: f.d.y.map(v => v / div), type: "scatter",
                   mode: "lines", name: D.metrics[f.m][1] + " (" + u + ")",
                   yaxis: f.isMem ? "y" : "y2", line: {color: colors[f.k], width: 2,
                   dash: f.isMem ? "solid" : "dot"},
                   customdata: f.d.y.map(v => fmt(f.isMem ? "B" : "s", v)),
                   hovertemplate: "%{x}: %{customdata}<extra></extra>"});
    }
    Plotly.react(el, traces, layoutBase({
      margin: {l: 60, r: 60, t: 50, b: 60},
      xaxis: {type: "category", nticks: 8, tickangle: -45, automargin: true},
      yaxis: {title: {text: "memory (" + memUnit + ")"}, rangemode: "tozero"},
      yaxis2: {title: {text: "CPU time (" + cpuUnit + ")"}, overlaying: "y", side: "right",
               rangemode: "tozero"},
      annotations: traces.length ? [] : [{text: "no memory or CPU figures recorded",
                                          showarrow: false, xref: "paper", yref: "paper", x: 0.5, y: 0.5}]}),
      PLOT_CONFIG);
  }

  function drawDistribution(D, I, b) {
    const el = document.getElementById("distribution");
    const d = I.dist.get(b);
    const traces = [];
    if (d) {
      const all = d[1].concat(d[2]).slice().sort((a, c) => a - c);
      const [f, u] = timeScale(all.length ? all[all.length >> 1] : 1);
      const c = I.cmp.get(b * 1000 + I.metricIdx.time_s);
      const col = COLORS[c ? c[2] : ""] || "#0969da";
      if (d[1].length) traces.push({type: "box", name: "baseline", y: d[1].map(v => v / f),
                                    boxpoints: "all", jitter: 0.4, pointpos: 0,
                                    marker: {color: "#6e7781", size: 4}, line: {color: "#57606a"}});
      if (d[2].length) traces.push({type: "box", name: "current", y: d[2].map(v => v / f),
                                    boxpoints: "all", jitter: 0.4, pointpos: 0,
                                    marker: {color: col, size: 4}, line: {color: col}});
      Plotly.react(el, traces, layoutBase({margin: {l: 70, r: 20, t: 20, b: 40}, showlegend: false,
        yaxis: {title: {text: "time per call (" + u + ")"}, rangemode: "tozero"}}), PLOT_CONFIG);
    } else {
      Plotly.react(el, [], layoutBase({xaxis: {visible: false}, yaxis: {visible: false},
        annotations: [{text: "no baseline and current samples to compare", showarrow: false,
                       xref: "paper", yref: "paper", x: 0.5, y: 0.5}]}), PLOT_CONFIG);
    }
  }

  function drawOverview(D, I, select) {
    const t = I.metricIdx.time_s;
    const rows = D.cmp.filter(c => c[1] === t && c[3] !== null && c[3] > 0);
    if (!rows.length) return;
    rows.sort((a, c) => Math.abs(Math.log(c[3])) - Math.abs(Math.log(a[3])));
    const top = rows.slice(0, 20).reverse();
    document.getElementById("overview-section").hidden = false;
    const el = document.getElementById("overview");
    const y = top.map((c, i) => (top.length - i) + ". " + esc(tail(D.names[c[0]], 60)));
    const trace = {type: "scatter", mode: "markers", x: top.map(c => c[3]), y,
      marker: {size: 12, color: top.map(c => COLORS[c[2]] || "#8c959f")},
      error_x: {type: "data", symmetric: false, array: top.map(c => c[5] === null ? 0 : c[5] - c[3]),
                arrayminus: top.map(c => c[4] === null ? 0 : c[3] - c[4]), color: "#8c959f"},
      customdata: top.map(c => [c[2], c[0]]),
      hovertemplate: "%{y}<br>ratio %{x:.3f}× (%{customdata[0]})<extra></extra>"};
    el.style.height = Math.max(240, 60 + top.length * 26) + "px";
    Plotly.react(el, [trace], layoutBase({margin: {l: 20, r: 30, t: 10, b: 50},
      xaxis: {title: {text: "current / baseline (log scale, < 1 is faster)"}, type: "log"},
      yaxis: {automargin: true},
      shapes: [{type: "line", yref: "paper", y0: 0, y1: 1, x0: 1, x1: 1,
                line: {color: "#57606a", dash: "dash"}}]}), PLOT_CONFIG);
    el.on("plotly_click", ev => { if (ev.points.length) select(ev.points[0].customdata[1], true); });
  }

  function drawHeatmap(D) {
    const el = document.getElementById("heatmap");
    const c = D.corr;
    if (!c.matrix.length) {
      el.textContent = "Not enough varying metrics to correlate yet.";
      el.classList.add("muted");
      el.style.height = "auto";
      return;
    }
    Plotly.react(el, [{type: "heatmap", z: c.matrix, x: c.metrics, y: c.metrics, zmin: -1, zmax: 1,
                       colorscale: "RdBu", texttemplate: "%{z:.2f}",
                       hovertemplate: "%{y} vs %{x}: %{z:.2f}<extra></extra>",
                       colorbar: {title: {text: "ρ"}}}],
                 layoutBase({margin: {l: 150, r: 20, t: 20, b: 130},
                             xaxis: {tickangle: -40}, yaxis: {autorange: "reversed"}}), PLOT_CONFIG);
  }

  function buildList(D, I, select) {
    const list = document.getElementById("bench-list");
    const groups = new Map();
    D.names.forEach((n, i) => {
      const g = D.groups[i];
      if (!groups.has(g)) groups.set(g, []);
      groups.get(g).push(i);
    });
    const t = I.metricIdx.time_s;
    // The dot is the benchmark's worst verdict over all metrics; the ratio beside it must
    // be the one that earned it, named when it is not time's ("peak RSS 1.25×"), or a red
    // dot sits beside a time ratio of 0.69×. D.cmp is most interesting first.
    const why = new Map();
    for (const c of D.cmp) {
      if (c[2] === D.verdicts[c[0]] && c[1] !== t && !why.has(c[0])) why.set(c[0], c);
    }
    const items = [];
    const frag = document.createDocumentFragment();
    for (const [g, idx] of groups) {
      const wrap = document.createElement("div");
      wrap.className = "group";
      const head = document.createElement("div");
      head.className = "group-head";
      // Counts are of benchmarks: the suite-wide shift (D.shift) is none.
      const n = idx.filter(i => i !== D.shift).length;
      head.textContent = n ? g + " (" + n + ")" : g;
      wrap.appendChild(head);
      for (const i of idx) {
        const it = document.createElement("div");
        it.className = "item";
        it.dataset.idx = i;
        it.setAttribute("role", "option");
        const dot = document.createElement("span");
        dot.className = "dot v-" + (D.verdicts[i] || "none");
        const name = document.createElement("span");
        name.className = "name";
        name.textContent = D.names[i];
        const rt = document.createElement("span");
        rt.className = "rt";
        const tc = I.cmp.get(i * 1000 + t);
        const named = (!tc || tc[2] !== D.verdicts[i]) &&
          (D.verdicts[i] === "regression" || D.verdicts[i] === "improvement");
        const c = named && why.has(i) ? why.get(i) : tc;
        rt.textContent = c && c[3] !== null
          ? (c === tc ? "" : D.metrics[c[1]][1] + " ") + ratioNum(c[3], 2) + "×" : "";
        it.append(dot, name, rt);
        it.addEventListener("click", () => select(i, false));
        wrap.appendChild(it);
        items.push([it, D.names[i].toLowerCase(), wrap, i !== D.shift]);
      }
      frag.appendChild(wrap);
    }
    list.appendChild(frag);
    const count = document.getElementById("list-count");
    const filter = document.getElementById("filter");
    function apply() {
      const q = filter.value.trim().toLowerCase();
      let shown = 0, total = 0, shift = false;
      const visibleGroups = new Set();
      for (const [it, name, wrap, bench] of items) {
        const ok = !q || name.includes(q);
        it.hidden = !ok;
        total += bench ? 1 : 0;
        if (ok) { shown += bench ? 1 : 0; shift = shift || !bench; visibleGroups.add(wrap); }
      }
      for (const wrap of list.children) wrap.hidden = !visibleGroups.has(wrap);
      count.textContent = shown + " of " + total + " benchmark" + (total === 1 ? "" : "s") +
        (shift ? " and the suite-wide shift" : "");
    }
    filter.addEventListener("input", apply);
    apply();
    return items;
  }

  async function main(dataPromise) {
    performance.mark("pp-start");
    const D = await dataPromise;
    performance.mark("pp-data");
    const I = buildIndex(D);
    const state = {bench: null, metric: I.metricIdx.time_s};
    const msel = document.getElementById("metric-select");
    D.metrics.forEach((m, i) => {
      const o = document.createElement("option");
      o.value = i;
      o.textContent = m[1];
      msel.appendChild(o);
    });
    msel.value = state.metric;
    let items = [];
    function select(b, scroll) {
      state.bench = b;
      for (const [it] of items) it.classList.toggle("sel", Number(it.dataset.idx) === b);
      document.getElementById("bench-title").textContent = D.names[b];
      const c = I.cmp.get(b * 1000 + state.metric);
      document.getElementById("bench-verdict").textContent = c
        ? c[2] + " · ratio " + ratioText(c, 3) +
          " · CI " + ciText(c[4], c[5]) +
          " · p = " + pText(c[6])
        : (D.verdicts[b] ? "" : "not compared");
      drawTrend(D, I, b, state.metric);
      drawResources(D, I, b);
      drawDistribution(D, I, b);
      if (scroll) document.getElementById("explore").scrollIntoView({behavior: "smooth"});
    }
    msel.addEventListener("change", () => {
      state.metric = Number(msel.value);
      if (state.bench !== null) select(state.bench, false);
    });
    items = buildList(D, I, select);
    performance.mark("pp-list");
    document.querySelectorAll(".bench-link").forEach(a => {
      a.addEventListener("click", ev => {
        ev.preventDefault();
        const i = D.names.indexOf(a.dataset.name);
        if (i >= 0) select(i, true);
      });
    });
    window.__report = {data: D, select, state, fmt, ratioNum, pText};
    if (D.names.length) {
      // The most interesting entry first, but not one without a history of its own (the
      // suite-wide shift when the whole suite slowed): the page opened on three empty charts.
      const withHistory = new Set(D.series.map(s => s[0]));
      const first = D.names.findIndex((n, i) => withHistory.has(i));
      select(first >= 0 ? first : 0, false);
    } else {
      document.getElementById("bench-title").textContent = "No benchmarks recorded yet";
    }
    window.__firstChartMs = performance.now();
    document.body.dataset.firstChart = "1";
    drawOverview(D, I, select);
    drawHeatmap(D);
    document.body.dataset.ready = "1";
  }

  // This script runs before plotly.js is parsed: start inflating the data now, so that
  // both happen together, and draw once the document (and plotly) is ready.
  const dataPromise = loadData();
  dataPromise.catch(() => {});
  function start() {
    main(dataPromise).catch(err => {
      document.body.dataset.error = String(err);
      console.error("perf-pipeline report failed:", err);
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
