//! One palette for the page and every chart, so that a colour means the same thing
//! everywhere: blue is the best trial, amber the deployed model, teal the Pareto front.

/// Body text.
pub(crate) const INK: &str = "#1f2937";
/// Secondary text, tick labels.
pub(crate) const MUTED: &str = "#6b7280";
/// Grid lines.
pub(crate) const GRID: &str = "#e5e7eb";
/// The best trial on the objective.
pub(crate) const BEST: &str = "#2563eb";
/// The model a deployment serves.
pub(crate) const CHOSEN: &str = "#d97706";
/// Members of the Pareto front.
pub(crate) const FRONT: &str = "#0f766e";
/// Other finished trials.
pub(crate) const TRIAL: &str = "#94a3b8";
/// Trials cut short (early-stopped or stopped).
pub(crate) const CUT: &str = "#b6c0cc";
/// Failed trials.
pub(crate) const FAILED: &str = "#f87171";
/// Limits: the latency objective and the drift threshold.
pub(crate) const LIMIT: &str = "#dc2626";
/// Median latency.
pub(crate) const P50: &str = "#2563eb";
/// Tail latency.
pub(crate) const P99: &str = "#7c3aed";
/// Drift score.
pub(crate) const DRIFT: &str = "#0f766e";
/// Series without a role of their own (standalone jobs), in turn.
pub(crate) const SERIES: [&str; 8] = [
    "#2563eb", "#0f766e", "#7c3aed", "#db2777", "#65a30d", "#0891b2", "#ea580c", "#4b5563",
];

/// Font stack of the page and the charts: the reader's interface font, with no download.
pub(crate) const FONT: &str = "Inter, Segoe UI, Helvetica Neue, Arial, sans-serif";

/// The page's style sheet.
pub(crate) const CSS: &str = r#"
:root {
  --ink: #1f2937; --muted: #6b7280; --line: #e5e7eb; --bg: #f6f7f9; --card: #ffffff;
  --best: #2563eb; --chosen: #d97706; --front: #0f766e; --bad: #dc2626; --warn: #b45309;
  --ok: #15803d;
}
* { box-sizing: border-box; }
body {
  margin: 0; background: var(--bg); color: var(--ink);
  font: 15px/1.5 Inter, "Segoe UI", "Helvetica Neue", Arial, sans-serif;
  font-variant-numeric: tabular-nums;
}
main { max-width: 1180px; margin: 0 auto; padding: 32px 24px 64px; }
header h1 { font-size: 28px; line-height: 1.2; margin: 0 0 4px; letter-spacing: -0.01em; }
header .when { color: var(--muted); margin: 0 0 20px; }
h2 { font-size: 20px; margin: 40px 0 12px; padding-bottom: 6px; border-bottom: 1px solid var(--line); }
h3 { font-size: 16px; margin: 24px 0 8px; }
h3 .sub, .muted { color: var(--muted); font-weight: normal; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: 12px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px; }
.card .kind { font-size: 11px; text-transform: uppercase; letter-spacing: 0.08em; color: var(--muted); }
.card .name { font-weight: 600; font-size: 16px; margin: 2px 0 6px; overflow-wrap: anywhere; }
.card .line { color: var(--muted); font-size: 13.5px; }
.card .figure { font-size: 22px; font-weight: 600; color: var(--ink); }
.badge { display: inline-block; font-size: 12px; font-weight: 600; padding: 1px 8px; border-radius: 999px;
  background: #eef0f3; color: var(--muted); vertical-align: 1px; white-space: nowrap; }
.badge.good { background: #dcfce7; color: var(--ok); }
.badge.busy { background: #dbeafe; color: var(--best); }
.badge.warn { background: #fef3c7; color: var(--warn); }
.badge.bad { background: #fee2e2; color: var(--bad); }
.badge.best { background: var(--best); color: #fff; }
.badge.chosen { background: var(--chosen); color: #fff; }
.badge.front { background: #ccfbf1; color: var(--front); }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(440px, 1fr)); gap: 16px; }
.charts.wide { grid-template-columns: 1fr; }
figure { margin: 0; background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 12px; }
figure svg { display: block; width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: 13px; margin-top: 6px; }
.empty { color: var(--muted); background: var(--card); border: 1px dashed #d1d5db; border-radius: 10px;
  padding: 14px 16px; margin: 8px 0; }
.note { color: var(--muted); font-size: 13.5px; margin: 8px 0; }
table { width: 100%; border-collapse: collapse; background: var(--card); border: 1px solid var(--line);
  border-radius: 10px; overflow: hidden; font-size: 14px; }
th, td { text-align: left; padding: 7px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 12px; text-transform: uppercase; letter-spacing: 0.05em; color: var(--muted); background: #fafbfc; }
td.num, th.num { text-align: right; white-space: nowrap; }
tr:last-child td { border-bottom: none; }
tr.front td:first-child { box-shadow: inset 3px 0 0 var(--front); }
tr.cut td { color: var(--muted); }
code { font: 12.5px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: #f1f3f5;
  padding: 1px 5px; border-radius: 4px; margin: 0 4px 2px 0; display: inline-block; }
.tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 10px; margin: 8px 0 16px; }
.tile { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 10px 14px; }
.tile .label { font-size: 12px; color: var(--muted); }
.tile .value { font-size: 20px; font-weight: 600; overflow-wrap: break-word; }
.tile.wide { grid-column: span 2; }
.tile .value.text { font-size: 16px; padding-top: 3px; }
.tile.alert { border-color: #fca5a5; background: #fff5f5; }
.tile.alert .value { color: var(--bad); }
footer { color: var(--muted); font-size: 12.5px; margin-top: 48px; }
@media print { body { background: #fff; } figure, table, .card { break-inside: avoid; } }
"#;
