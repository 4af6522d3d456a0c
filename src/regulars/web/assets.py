"""The dashboard's stylesheet and script (small enough to live here, served by :mod:`regulars.web.static`)."""

APP_CSS = """
:root { --fg:#1d2430; --muted:#5b6575; --line:#dde2ea; --bg:#f6f7f9; --card:#fff; --accent:#1f5fbf;
        --good:#17784a; --bad:#b3261e; --warn:#8a5a00; --radius:10px; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin:0; font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; color:var(--fg); background:var(--bg); }
a { color:var(--accent); }
a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible, summary:focus-visible
  { outline:3px solid #f2b600; outline-offset:2px; }
.visually-hidden { position:absolute; width:1px; height:1px; overflow:hidden; clip:rect(0 0 0 0); white-space:nowrap; }
.skip { position:absolute; left:-999px; top:0; background:#fff; padding:.5rem 1rem; z-index:10; }
.skip:focus { left:0; }
header.top { background:#102a4c; color:#fff; padding:.6rem 1rem; display:flex; flex-wrap:wrap; gap:.5rem 1.2rem;
             align-items:center; }
header.top .brand { font-weight:700; font-size:1.05rem; color:#fff; text-decoration:none; }
header.top nav ul { list-style:none; margin:0; padding:0; display:flex; flex-wrap:wrap; gap:.2rem .9rem; }
header.top nav a { color:#dbe7ff; text-decoration:none; padding:.2rem 0; display:inline-block; }
header.top nav a[aria-current="page"] { color:#fff; border-bottom:2px solid #f2b600; }
header.top .who { margin-left:auto; display:flex; gap:.6rem; align-items:center; font-size:.9rem; }
header.top .who button { background:transparent; color:#dbe7ff; border:1px solid #4d6a94; border-radius:6px;
                         padding:.2rem .6rem; cursor:pointer; }
.badge { display:inline-block; padding:.05rem .5rem; border-radius:999px; font-size:.8rem; background:#e8eefb;
         color:#1f3f75; border:1px solid #c9d6f2; }
header.top .badge { background:#284a78; color:#fff; border-color:#4d6a94; }
main { max-width:1240px; margin:0 auto; padding:1rem; }
h1 { font-size:1.5rem; margin:.4rem 0 1rem; }
h2 { font-size:1.15rem; margin:1.6rem 0 .6rem; }
h3 { font-size:1rem; margin:1rem 0 .4rem; }
p.lead { color:var(--muted); margin-top:-.6rem; }
.muted { color:var(--muted); }
.card { background:var(--card); border:1px solid var(--line); border-radius:var(--radius); padding:1rem; margin-bottom:1rem; }
.tiles { display:grid; grid-template-columns:repeat(auto-fill,minmax(180px,1fr)); gap:.8rem; margin-bottom:1rem; }
.tile { background:var(--card); border:1px solid var(--line); border-radius:var(--radius); padding:.8rem .9rem; }
.tile .label { color:var(--muted); font-size:.85rem; }
.tile .value { font-size:1.45rem; font-weight:650; margin:.15rem 0; font-variant-numeric:tabular-nums; }
.tile .delta { font-size:.85rem; }
.tile svg { display:block; width:100%; height:28px; margin-top:.3rem; }
.up { color:var(--good); } .down { color:var(--bad); } .flat { color:var(--muted); }
.grid2 { display:grid; grid-template-columns:repeat(auto-fit,minmax(min(340px,100%),1fr)); gap:1rem; }
.grid2 > *, .tiles > *, .persona-cards > * { min-width:0; }
form.inline > div { min-width:0; max-width:100%; }
.chart { width:100%; min-height:300px; }
.table-wrap { overflow-x:auto; -webkit-overflow-scrolling:touch; }
table { border-collapse:collapse; width:100%; background:var(--card); font-variant-numeric:tabular-nums; }
caption { text-align:left; font-weight:600; padding:.3rem 0; }
th, td { text-align:left; padding:.4rem .55rem; border-bottom:1px solid var(--line); vertical-align:top; }
th { font-size:.85rem; color:var(--muted); font-weight:600; background:#fafbfc; }
td.num, th.num { text-align:right; }
form.inline { display:flex; flex-wrap:wrap; gap:.5rem; align-items:flex-end; margin-bottom:1rem; }
label { display:block; font-size:.85rem; color:var(--muted); margin-bottom:.2rem; }
input[type=text], input[type=search], input[type=password], input[type=number], select, input[type=file] {
  font:inherit; padding:.45rem .55rem; border:1px solid #b9c2cf; border-radius:6px; background:#fff; min-width:0; max-width:100%; }
button, .button { font:inherit; padding:.45rem .9rem; border-radius:6px; border:1px solid var(--accent);
  background:var(--accent); color:#fff; cursor:pointer; text-decoration:none; display:inline-block; }
button.secondary, .button.secondary { background:#fff; color:var(--accent); }
button.danger { background:var(--bad); border-color:var(--bad); }
.pager { display:flex; gap:.6rem; align-items:center; margin:.6rem 0; flex-wrap:wrap; }
.note { background:#fff8e5; border:1px solid #f0d48a; border-radius:8px; padding:.5rem .8rem; margin:.5rem 0; }
.ok { background:#e9f7ef; border:1px solid #a8dcbc; border-radius:8px; padding:.5rem .8rem; margin:.5rem 0; }
.error { background:#fdecea; border:1px solid #f1b0aa; border-radius:8px; padding:.5rem .8rem; margin:.5rem 0; }
.persona-cards { display:grid; grid-template-columns:repeat(auto-fill,minmax(min(260px,100%),1fr)); gap:.8rem; }
.persona { background:var(--card); border:1px solid var(--line); border-radius:var(--radius); padding:.9rem; }
.persona h3 { margin-top:0; }
ul.timeline { list-style:none; padding:0; margin:0; }
ul.timeline li { padding:.35rem 0; border-bottom:1px solid var(--line); display:grid;
                 grid-template-columns:10.5rem 6rem 1fr; gap:.5rem; }
ul.timeline time { color:var(--muted); font-variant-numeric:tabular-nums; }
.kind { font-size:.8rem; text-transform:uppercase; letter-spacing:.03em; color:var(--muted); }
dl.facts { display:grid; grid-template-columns:max-content 1fr; gap:.25rem 1rem; margin:0; }
dl.facts dt { color:var(--muted); } dl.facts dd { margin:0; }
details summary { cursor:pointer; color:var(--accent); margin:.4rem 0; }
.login { max-width:420px; margin:8vh auto; }
.login input { width:100%; }
.bar { height:.55rem; background:#e6ebf2; border-radius:4px; overflow:hidden; min-width:60px; }
.bar > span { display:block; height:100%; background:var(--accent); }
@media (max-width: 640px) {
  body { font-size:14px; }
  main { padding:.6rem; }
  header.top .who { margin-left:0; }
  .tiles { grid-template-columns:repeat(2,minmax(0,1fr)); }
  .tile .value { font-size:1.2rem; }
  .grid2 { grid-template-columns:1fr; }
  ul.timeline li { grid-template-columns:1fr; gap:0; }
  input[type=file], input[type=search], select { width:100%; }
  form.inline > div { flex:1 1 100%; }
  th, td { padding:.35rem .4rem; }
}
"""

APP_JS = r"""
(function () {
  "use strict";
  function draw(el) {
    if (typeof Plotly === "undefined") { return; }
    var spec;
    try { spec = JSON.parse(el.getAttribute("data-chart")); } catch (e) { return; }
    var base = { margin: { l: 56, r: 16, t: 28, b: 48 }, paper_bgcolor: "rgba(0,0,0,0)",
                 plot_bgcolor: "rgba(0,0,0,0)", autosize: true,
                 font: { family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size: 12 },
                 legend: { orientation: "h", y: -0.2 } };
    var extra = spec.layout || {};
    var layout = Object.assign({}, base, extra);
    layout.margin = Object.assign({}, base.margin, extra.margin || {});
    Plotly.newPlot(el, spec.data, layout, { responsive: true, displaylogo: false, displayModeBar: false });
    el.setAttribute("data-drawn", "1");
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-chart]").forEach(draw);
    document.querySelectorAll("form[data-confirm]").forEach(function (f) {
      f.addEventListener("submit", function (e) {
        if (!window.confirm(f.getAttribute("data-confirm"))) { e.preventDefault(); }
      });
    });
    document.querySelectorAll("select[data-autosubmit]").forEach(function (s) {
      s.addEventListener("change", function () { s.form.submit(); });
    });
    document.body.setAttribute("data-ready", "1");
  });
})();
"""
