/**
 * An open-loop HTTP load: requests leave at a fixed rate whether or not
 * earlier ones were answered (as forges send webhooks), each timed from the
 * moment it is handed to the socket layer to the end of its response. A
 * closed loop (send, wait, send) would hide a slow server by sending less.
 */
import http from "node:http";

export interface LoadRequest {
  method: "GET" | "POST";
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** The status a correct answer has; any other fails the load. */
  expect: number;
}

export interface LoadResult {
  /** Milliseconds from send to the response's end, one per answered request. */
  latencies: number[];
  /** Requests not answered as expected (connection reset, wrong status), with the first reason. */
  failed: number;
  firstFailure: string | null;
  /** How far behind the fixed schedule the sender fell at worst (ms): a large value means the figures are the sender's. */
  maxLag: number;
}

export async function openLoop(
  port: number,
  options: { rate: number; seconds: number; request: (i: number) => LoadRequest },
): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  const total = Math.round(options.rate * options.seconds);
  const interval = 1000 / options.rate;
  const latencies: number[] = [];
  const pending: Promise<void>[] = [];
  let maxLag = 0;
  const failures: Error[] = [];

  const send = (i: number) => {
    const r = options.request(i);
    const started = performance.now();
    pending.push(
      new Promise<void>((resolve) => {
        const req = http.request({ host: "127.0.0.1", port, method: r.method, path: r.path, headers: r.headers, agent }, (res) => {
          res.resume();
          res.on("end", () => {
            if (res.statusCode === r.expect) latencies.push(performance.now() - started);
            else failures.push(new Error(`${r.method} ${r.path}: answered ${res.statusCode}, expected ${r.expect}`));
            resolve();
          });
        });
        req.on("error", (error) => {
          failures.push(error);
          resolve();
        });
        req.end(r.body);
      }),
    );
  };

  const start = performance.now();
  let next = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      // Everything whose time has come leaves now; the schedule never waits for answers.
      while (next < total && start + next * interval <= now) {
        maxLag = Math.max(maxLag, now - (start + next * interval));
        send(next++);
      }
      if (next >= total) resolve();
      else setTimeout(tick, Math.max(0, start + next * interval - performance.now()));
    };
    tick();
  });
  await Promise.all(pending);
  agent.destroy();
  return { latencies, maxLag, failed: failures.length, firstFailure: failures[0]?.message ?? null };
}

/** The q-quantile (0..1) by the nearest-rank method; NaN for no values. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}
