// The run's DAG as an SVG: a layered layout (a stage's column is one past
// the deepest stage it needs; the plan order is topological, so one pass
// computes it), rows ordered by the mean row of each stage's needs, and
// curved edges from each need to its dependent.
import { duration, elapsed, state } from "./format.js";

const W = 200;
const H = 46;
const GAP_X = 64;
const GAP_Y = 14;
const PAD = 16;
const SVG = "http://www.w3.org/2000/svg";

export function layout(stages) {
  const col = new Map();
  for (const s of stages) col.set(s.id, s.needs.reduce((m, n) => Math.max(m, (col.get(n) ?? -1) + 1), 0));
  const columns = [];
  for (const s of stages) (columns[col.get(s.id)] ??= []).push(s);
  const row = new Map();
  columns.forEach((list, c) => {
    if (c > 0) {
      const mean = (s) => (s.needs.length ? s.needs.reduce((a, n) => a + (row.get(n) ?? 0), 0) / s.needs.length : 0);
      list.sort((a, b) => mean(a) - mean(b));
    }
    list.forEach((s, i) => row.set(s.id, i));
  });
  const tallest = Math.max(...columns.map((l) => l.length));
  const pos = new Map();
  columns.forEach((list, c) => {
    const offset = ((tallest - list.length) * (H + GAP_Y)) / 2;
    list.forEach((s, i) => pos.set(s.id, { x: PAD + c * (W + GAP_X), y: PAD + offset + i * (H + GAP_Y) }));
  });
  return { pos, width: PAD * 2 + columns.length * W + (columns.length - 1) * GAP_X, height: PAD * 2 + tallest * H + (tallest - 1) * GAP_Y };
}

function el(tag, attrs, ...children) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  e.append(...children);
  return e;
}

/** Draws (or redraws) the graph; `selected` is highlighted, `onSelect(stageId)` on click. */
export function renderDag(stages, selected, onSelect) {
  const { pos, width, height } = layout(stages);
  const svg = el("svg", { class: "dag", width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "pipeline graph" });
  for (const s of stages) {
    const to = pos.get(s.id);
    for (const n of s.needs) {
      const from = pos.get(n);
      if (!from || !to) continue;
      const x1 = from.x + W, y1 = from.y + H / 2, x2 = to.x, y2 = to.y + H / 2, mx = (x1 + x2) / 2;
      const need = stages.find((x) => x.id === n);
      svg.append(el("path", { class: `edge e-${need ? state(need) : "queued"}`, d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}` }));
    }
  }
  for (const s of stages) {
    const p = pos.get(s.id);
    const st = state(s);
    const label = s.id.length > 26 ? `${s.id.slice(0, 25)}…` : s.id;
    const time = elapsed(s);
    const node = el(
      "g",
      { class: `node s-${st}${s.id === selected ? " selected" : ""}`, transform: `translate(${p.x},${p.y})`, "data-stage": s.id, "data-state": st, tabindex: 0 },
      el("title", {}, `${s.id}: ${st}${s.attempt > 1 ? `, attempt ${s.attempt}` : ""}`),
      el("rect", { class: "box", width: W, height: H, rx: 8 }),
      el("rect", { class: "bar", width: 5, height: H, rx: 2 }),
      el("circle", { class: "dot", cx: 22, cy: H / 2, r: 6 }),
      el("text", { class: "name", x: 38, y: 20 }, label),
      el("text", { class: "meta", x: 38, y: 36, "data-start": s.startedAt ?? "", "data-end": s.finishedAt ?? "", "data-label": st.replace("_", " "), "data-suffix": s.attempt > 1 ? ` · #${s.attempt}` : "" },
        `${st.replace("_", " ")}${time !== null ? ` · ${duration(time)}` : ""}${s.attempt > 1 ? ` · #${s.attempt}` : ""}`),
    );
    node.addEventListener("click", () => onSelect(s.id));
    node.addEventListener("keydown", (e) => e.key === "Enter" && onSelect(s.id));
    svg.append(node);
  }
  return svg;
}
