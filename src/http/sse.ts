/**
 * A server-sent events stream on a hijacked reply: named events with JSON
 * data, a keep-alive comment, and one `close` however the stream ends
 * (client gone or server done).
 */
import type { FastifyReply } from "fastify";

export interface SseStream {
  send(event: string, data: unknown): void;
  /** Ends the stream (idempotent). */
  end(): void;
  readonly closed: boolean;
  onClose(fn: () => void): void;
}

export function openSse(reply: FastifyReply, heartbeatMs: number): SseStream {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache, no-transform",
    connection: "keep-alive",
    "x-accel-buffering": "no",
  });
  res.write(": hodei\n\n");
  let closed = false;
  const closers: (() => void)[] = [];
  const heartbeat = setInterval(() => res.write(": ping\n\n"), heartbeatMs);
  heartbeat.unref();
  const close = () => {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    for (const fn of closers.splice(0)) fn();
    res.end();
  };
  // The response's close, not the request's: a GET's request "closes" once its (empty) body is read.
  res.on("close", close);
  return {
    send(event, data) {
      if (closed) return;
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    end: close,
    get closed() {
      return closed;
    },
    onClose(fn) {
      if (closed) fn();
      else closers.push(fn);
    },
  };
}

/** `?follow=1` / `true` / `yes` */
export function wantsFollow(value: string | undefined): boolean {
  return value === "1" || value === "true" || value === "yes";
}
