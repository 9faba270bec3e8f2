// The runs list: newest first, filter by repository, more pages on demand,
// rows updated live from /api/events.
import { getJson, stream } from "./api.js";
import { ago, badge, duration, elapsed, h, refLabel } from "./format.js";

export function renderRuns(main, repo) {
  const rows = new Map();
  const tbody = h("tbody");
  const more = h("button", { class: "ghost", hidden: true }, "Load more");
  const filter = h("input", { type: "search", placeholder: "Filter by repository (owner/name)", value: repo, class: "filter", "aria-label": "repository filter" });
  const empty = h("p", { class: "muted empty", hidden: true }, "No runs yet. Push to a repository with a .hodei/pipeline.yml, or start one with POST /api/runs.");
  let next = null;

  filter.addEventListener("change", () => {
    const v = filter.value.trim();
    history.replaceState(null, "", v ? `/?repo=${encodeURIComponent(v)}` : "/");
    dispatchEvent(new PopStateEvent("popstate"));
  });

  const row = (r) => {
    const tr = h(
      "tr",
      { "data-run": r.id },
      h("td", {}, badge(r)),
      h("td", {}, h("a", { href: `/runs/${encodeURIComponent(r.id)}`, "data-nav": true, class: "repo" }, r.repo), h("div", { class: "sub" }, r.pipeline)),
      h("td", {}, h("span", { class: "ref" }, refLabel(r.ref))),
      h("td", {}, h("code", { class: "sha" }, r.sha.slice(0, 7))),
      h("td", {}, h("span", { class: "event" }, r.event.replace("_", " "))),
      h("td", { class: "num", "data-start": r.startedAt ?? "", "data-end": r.finishedAt ?? "" }, duration(elapsed(r))),
      h("td", { class: "num muted", title: r.createdAt }, ago(r.createdAt)),
    );
    const old = rows.get(r.id);
    rows.set(r.id, tr);
    if (old) old.replaceWith(tr);
    return tr;
  };

  const load = async () => {
    const q = new URLSearchParams({ limit: "50" });
    if (repo) q.set("repo", repo);
    if (next) q.set("before", next);
    const page = await getJson(`/api/runs?${q}`);
    for (const r of page.runs) if (!rows.has(r.id)) tbody.append(row(r));
    next = page.next;
    more.hidden = !next;
    empty.hidden = rows.size > 0;
  };
  more.addEventListener("click", () => void load());

  main.append(
    h("div", { class: "page-head" }, h("h1", {}, "Runs"), filter),
    h("div", { class: "card" },
      h("table", { class: "runs" },
        h("thead", {}, h("tr", {}, ["", "Repository", "Branch", "Commit", "Event", "Duration", "Created"].map((t) => h("th", {}, t)))),
        tbody),
      empty),
    h("div", { class: "center" }, more),
  );
  load().catch((e) => main.append(h("p", { class: "error" }, e.message)));

  const close = stream("/api/events", {
    run: (r) => {
      if (repo && r.repo !== repo) return;
      if (rows.has(r.id)) row(r);
      else {
        tbody.prepend(row(r));
        empty.hidden = true;
      }
    },
  });
  const tick = setInterval(() => {
    for (const td of tbody.querySelectorAll("td[data-start]")) {
      if (td.dataset.start && !td.dataset.end) td.textContent = duration(Date.now() - Date.parse(td.dataset.start));
    }
  }, 1000);
  return () => {
    close();
    clearInterval(tick);
  };
}
