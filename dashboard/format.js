// Small formatting helpers: durations, relative times, refs, element building.

/** h("div", { class: "x", onclick }, child, "text") */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function duration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "";
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, "0")}m`;
}

/** Elapsed time of something with startedAt/finishedAt; running ones count up to now. */
export function elapsed(x) {
  if (!x.startedAt) return null;
  const end = x.finishedAt ? Date.parse(x.finishedAt) : Date.now();
  return end - Date.parse(x.startedAt);
}

export function ago(iso) {
  if (!iso) return "";
  const s = Math.round((Date.now() - Date.parse(iso)) / 1000);
  if (s < 45) return "just now";
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return new Date(iso).toLocaleDateString();
}

/** refs/heads/main -> main, refs/tags/v1 -> v1 (tag), refs/pull/12/head -> #12 */
export function refLabel(ref) {
  if (!ref) return "";
  let m = /^refs\/heads\/(.+)$/.exec(ref);
  if (m) return m[1];
  m = /^refs\/tags\/(.+)$/.exec(ref);
  if (m) return `tag ${m[1]}`;
  m = /^refs\/pull\/(\d+)\//.exec(ref);
  if (m) return `PR #${m[1]}`;
  return ref;
}

/** The one word a status badge shows: the conclusion once there is one. */
export function state(x) {
  if (x.conclusion) return x.conclusion;
  return x.status === "in_progress" ? "running" : x.status === "queued" ? "queued" : x.status;
}

const ICONS = { success: "✓", failure: "✕", cancelled: "⊘", skipped: "↷", timed_out: "⏱", running: "", queued: "•", pending: "•" };

export function badge(x, small = false) {
  const s = state(x);
  return h("span", { class: `badge s-${s}${small ? " small" : ""}`, title: s }, h("span", { class: "icon" }, ICONS[s] ?? "•"), small ? null : s.replace("_", " "));
}
