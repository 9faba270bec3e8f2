/**
 * Live run state as server-sent events: `GET /api/runs/:id/events?follow=1`
 * sends the run (with stages) now and after every change; `GET /api/events`
 * sends every run that changes, for the runs list. Snapshots are read from
 * the projections, which the engine writes before it tells listeners; one
 * read per run is in flight at a time, and changes during it cause one more.
 */
import type { FastifyReply } from "fastify";
import { getRun, type RunView } from "../../store/run-queries.js";
import type { HttpAppOptions } from "../options.js";
import { openSse, type SseStream } from "../sse.js";

/** `mayRead`: asked once per run the stream is about to send (absent: every run may be sent). */
export function streamRuns(reply: FastifyReply, options: HttpAppOptions, only: string | null, mayRead: ((runId: string) => Promise<boolean>) | undefined): SseStream {
  const sse = openSse(reply, options.heartbeatMs ?? 15_000);
  const reading = new Map<string, boolean>(); // runId -> dirty while reading
  // A run's repository never changes: one answer per run and stream, renewed after the access cache time.
  const verdicts = new Map<string, { ok: boolean; at: number }>();
  const verdictMs = options.access?.repoAccess.cacheTimeMs ?? 60_000;
  const allowed = async (runId: string): Promise<boolean> => {
    if (!mayRead) return true;
    const known = verdicts.get(runId);
    if (known && performance.now() - known.at < verdictMs) return known.ok;
    const ok = await mayRead(runId);
    verdicts.set(runId, { ok, at: performance.now() });
    return ok;
  };
  const push = (runId: string) => {
    if (reading.has(runId)) {
      reading.set(runId, true);
      return;
    }
    reading.set(runId, false);
    allowed(runId)
      .then(async (ok) => (ok ? getRun(options.db, runId) : null))
      .then((run) => run && sse.send("run", run satisfies RunView))
      .catch((error: unknown) => sse.send("error", { error: error instanceof Error ? error.message : String(error) }))
      .finally(() => {
        const again = reading.get(runId);
        reading.delete(runId);
        if (again && !sse.closed) push(runId);
      });
  };
  const unsubscribe = options.engine?.subscribe({
    onEvents(state) {
      if (only === null || state.id === only) push(state.id);
    },
  });
  sse.onClose(() => unsubscribe?.());
  if (only !== null) push(only);
  return sse;
}
