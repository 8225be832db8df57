// Differential icicle charts of the "Where the time went" section (report/profile.py).
// Width: time on the call path (per benchmark call); colour: candidate minus base.
(function () {
  function draw() {
    if (!window.Plotly) { setTimeout(draw, 50); return; }
    const island = document.getElementById("profile-data");
    if (!island) return;
    const charts = JSON.parse(island.textContent);
    for (const c of charts) {
      const el = document.getElementById("flame-" + c.index);
      if (!el || !c.ids.length) continue;
      const delta = c.candidate_ms.map((v, i) => v - c.base_ms[i]);
      const lim = Math.max(1e-9, ...delta.map(Math.abs));
      const text = c.keys.map((k, i) => k + "<br>base " + c.base_ms[i].toPrecision(3) +
        " ms → candidate " + c.candidate_ms[i].toPrecision(3) + " ms (" +
        (delta[i] >= 0 ? "+" : "") + delta[i].toPrecision(3) + " ms)");
      Plotly.react(el, [{
        type: "icicle", ids: c.ids, parents: c.parents, labels: c.labels, values: c.values,
        branchvalues: "remainder", hovertext: text, hoverinfo: "text",
        marker: {colors: delta, colorscale: "RdBu", reversescale: true, cmin: -lim, cmax: lim,
                 cmid: 0, showscale: true, colorbar: {title: {text: "Δ ms"}}},
        tiling: {orientation: "v"}, maxdepth: 8,
      }], {margin: {l: 10, r: 10, t: 10, b: 10}, height: 520}, {displaylogo: false, responsive: true});
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
