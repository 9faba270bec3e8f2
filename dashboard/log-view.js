// One stage's log, streamed live (`?follow=1`) with ANSI colours, numbered
// lines, and following the bottom while the reader is there.
import { stream } from "./api.js";
import { AnsiLines } from "./ansi.js";
import { h } from "./format.js";

export class LogView {
  constructor(runId, stageId, onInfo) {
    this.lines = h("div", { class: "lines" });
    this.partial = h("div", { class: "line partial" });
    this.status = h("div", { class: "log-status muted" }, "Waiting for output…");
    this.element = h("div", { class: "log", "data-stage": stageId }, this.lines, this.partial, this.status);
    this.count = 0;
    this.ansi = new AnsiLines();
    const url = `/api/runs/${encodeURIComponent(runId)}/stages/${encodeURIComponent(stageId)}/logs?follow=1`;
    this.closeStream = stream(url, {
      attempt: ({ attempt }) => {
        this.reset();
        this.element.dataset.attempt = String(attempt);
        onInfo({ attempt, ended: false });
      },
      log: ({ data }) => this.append(data),
      end: ({ attempt, conclusion }) => {
        this.status.textContent = this.count === 0 && !this.partial.innerHTML ? "No output." : "";
        this.element.dataset.ended = conclusion ?? "";
        onInfo({ attempt, ended: true });
        this.closeStream();
      },
    });
  }

  reset() {
    this.lines.replaceChildren();
    this.partial.innerHTML = "";
    this.count = 0;
    this.ansi = new AnsiLines();
    this.status.textContent = "Waiting for output…";
  }

  append(text) {
    const atBottom = this.element.scrollHeight - this.element.scrollTop - this.element.clientHeight < 40;
    this.status.textContent = "";
    const frag = document.createDocumentFragment();
    for (const html of this.ansi.feed(text)) {
      this.count += 1;
      const line = h("div", { class: "line", id: `L${this.count}` }, h("a", { class: "ln", href: `#L${this.count}` }, String(this.count)));
      const body = h("span", { class: "txt" });
      body.innerHTML = html; // escaped by AnsiLines
      if (html.startsWith("$ ")) line.classList.add("cmd");
      line.append(body);
      frag.append(line);
    }
    this.lines.append(frag);
    this.partial.innerHTML = this.ansi.current();
    if (atBottom) this.element.scrollTop = this.element.scrollHeight;
  }

  close() {
    this.closeStream();
  }
}
