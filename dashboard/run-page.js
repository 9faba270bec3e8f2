// A run: its header and actions, the DAG with live stage states, and the
// selected stage's log streaming live. The URL names the selected stage.
import { postAction, stream } from "./api.js";
import { badge, duration, elapsed, h, refLabel, state } from "./format.js";
import { renderDag } from "./dag.js";
import { LogView } from "./log-view.js";

const RERUNNABLE = new Set(["failure", "timed_out", "cancelled"]);

export function renderRun(main, runId, initialStage) {
  let run = null;
  // False when the signed-in person may read but not write this repository (GET /api/runs/:id's `viewer`): no buttons then.
  let canWrite = true;
  let selected = initialStage;
  let log = null; // { stageId, attempt, view }
  const head = h("div", { class: "run-head" });
  const graph = h("div", { class: "card graph" }, h("p", { class: "muted" }, "Loading…"));
  const panel = h("section", { class: "card stage-panel" });
  const notice = h("p", { class: "error", role: "alert" });
  main.append(h("a", { href: "/", "data-nav": true, class: "back" }, "← Runs"), head, notice, graph, panel);

  const act = async (url, what) => {
    notice.textContent = "";
    try {
      const res = await postAction(url);
      if (res) flash(`${what} requested`);
    } catch (e) {
      notice.textContent = e.message;
    }
  };
  const flash = (text) => {
    notice.textContent = "";
    const t = h("div", { class: "toast" }, text);
    document.body.append(t);
    setTimeout(() => t.remove(), 2500);
  };

  const select = (stageId) => {
    selected = stageId;
    // Only the address changes: the page (and its streams) stays.
    history.replaceState(null, "", `/runs/${encodeURIComponent(runId)}/stages/${encodeURIComponent(stageId)}`);
  };

  const renderHead = () => {
    const completed = run.status === "completed";
    const failed = run.stages.some((s) => RERUNNABLE.has(s.conclusion));
    head.replaceChildren(
      h("div", { class: "title" },
        badge(run),
        h("h1", {}, run.repo),
        h("span", { class: "ref" }, refLabel(run.ref)),
        h("code", { class: "sha", title: run.sha }, run.sha.slice(0, 7)),
        h("span", { class: "event" }, run.event.replace("_", " ")),
        h("span", { class: "muted", "data-start": run.startedAt ?? "", "data-end": run.finishedAt ?? "", id: "run-duration" }, duration(elapsed(run)))),
      h("div", { class: "actions" },
        !completed && canWrite && run.stages.some((s) => s.waitingFor === "approval") &&
          h("button", { id: "approve-run", title: "Give this fork's head its secrets: the waiting stages run", onclick: () => act(`/api/runs/${encodeURIComponent(runId)}/approve`, "Approval") }, "Approve"),
        !completed && canWrite && h("button", { class: "danger", id: "cancel-run", onclick: () => act(`/api/runs/${encodeURIComponent(runId)}/cancel`, "Cancel") }, "Cancel"),
        completed && failed && canWrite && h("button", { id: "rerun-failed", onclick: () => act(`/api/runs/${encodeURIComponent(runId)}/rerun?failed=1`, "Re-run of failed stages") }, "Re-run failed"),
        completed && canWrite && h("button", { class: "ghost", id: "rerun-all", onclick: () => act(`/api/runs/${encodeURIComponent(runId)}/rerun`, "Re-run") }, "Re-run all")),
    );
  };

  const renderPanel = () => {
    const s = run.stages.find((x) => x.id === selected);
    if (!s) {
      panel.replaceChildren(h("p", { class: "muted" }, selected ? `No stage ${selected} in this run.` : "Select a stage to see its log."));
      if (log) log.view.close();
      log = null;
      return;
    }
    // A new attempt (retry or re-run) or another stage: a fresh log stream.
    if (!log || log.stageId !== s.id || (log.attempt < s.attempt && s.status !== "completed") || (log.ended && log.attempt !== s.attempt)) {
      log?.view.close();
      const view = new LogView(runId, s.id, (info) => Object.assign(log, info));
      log = { stageId: s.id, attempt: s.attempt, view, ended: false };
    }
    const completed = run.status === "completed";
    const header = h("div", { class: "panel-head" },
      badge(s),
      h("h2", {}, s.id),
      h("span", { class: "muted" }, `attempt ${s.attempt}`),
      s.exitCode !== null && h("span", { class: "muted" }, `exit ${s.exitCode}`),
      s.reason && s.reason !== `exit code ${s.exitCode}` && h("span", { class: "reason", id: "stage-reason" }, s.reason),
      s.waitingFor === "approval" && h("span", { class: "reason", id: "stage-waiting" }, "waiting for approval: /hodei approve on the pull request, or Approve above"),
      s.waitingFor === "agent" && h("span", { class: "reason", id: "stage-waiting" }, `waiting for an agent with ${(s.runsOn ?? []).join(", ")}`),
      h("span", { class: "muted", "data-start": s.startedAt ?? "", "data-end": s.finishedAt ?? "" }, duration(elapsed(s))),
      h("span", { class: "spacer" }),
      h("a", { class: "ghost small", href: `/api/runs/${encodeURIComponent(runId)}/stages/${encodeURIComponent(s.id)}/logs`, target: "_blank" }, "Raw"),
      completed && canWrite && h("button", { class: "small", id: "rerun-stage", onclick: () => act(`/api/runs/${encodeURIComponent(runId)}/stages/${encodeURIComponent(s.id)}/rerun`, `Re-run of ${s.id}`) }, "Re-run stage"));
    panel.replaceChildren(header, log.view.element);
  };

  const render = () => {
    if (!run) return;
    if (!selected || !run.stages.some((s) => s.id === selected)) {
      const pick = run.stages.find((s) => RERUNNABLE.has(s.conclusion)) ?? run.stages.find((s) => state(s) === "running") ?? run.stages[0];
      if (pick && !initialStage) selected = pick.id;
    }
    document.title = `${state(run)} · ${run.repo} · Hodei`;
    renderHead();
    graph.replaceChildren(renderDag(run.stages, selected, (id) => {
      select(id);
      render();
    }));
    renderPanel();
  };

  const close = stream(`/api/runs/${encodeURIComponent(runId)}/events?follow=1`, {
    run: (r) => {
      run = r;
      render();
    },
  });
  fetch(`/api/runs/${encodeURIComponent(runId)}`).then(async (res) => {
    if (res.status === 404) {
      graph.replaceChildren(h("p", { class: "error" }, `No run ${runId}.`));
      close();
    } else {
      const body = await res.json();
      canWrite = body.viewer?.canWrite ?? true;
      run ??= body;
      render();
    }
  }, () => undefined);

  const tick = setInterval(() => {
    for (const e of main.querySelectorAll("[data-start]")) {
      if (e.dataset.start && !e.dataset.end) {
        const text = duration(Date.now() - Date.parse(e.dataset.start));
        e.textContent = e.dataset.label !== undefined ? `${e.dataset.label} · ${text}${e.dataset.suffix ?? ""}` : text;
      }
    }
  }, 1000);
  return () => {
    close();
    clearInterval(tick);
    log?.view.close();
  };
}
