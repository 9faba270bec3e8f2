/**
 * The dedicated LISTEN connection of the Postgres adapter.
 *
 * One client carries every channel. When it drops, it reconnects with backoff
 * and re-issues LISTEN for each channel; notifications sent in the gap are
 * lost, which is acceptable because a NOTIFY is only ever a latency hint.
 */
import { storeUnavailableReason } from "../store-unavailable.js";
import pg from "pg";

export type Log = (msg: string) => void;

export interface ListenerOptions {
  connect: () => pg.Client;
  log: Log;
  /** Backoff bounds for reconnecting, in ms. */
  minDelayMs?: number;
  maxDelayMs?: number;
}

export class PgListener {
  private readonly handlers = new Map<string, Set<(payload: string) => void>>();
  private client: pg.Client | undefined;
  private connecting: Promise<pg.Client> | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private delayMs: number;
  private closed = false;

  constructor(private readonly opts: ListenerOptions) {
    this.delayMs = opts.minDelayMs ?? 100;
  }

  async listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>> {
    if (this.closed) throw new Error("listen on a closed database");
    let set = this.handlers.get(channel);
    const first = set === undefined;
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
    }
    set.add(onNotify);
    if (first) {
      try {
        if (this.reconnectTimer === undefined) {
          const client = await this.ensureClient();
          await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
        }
        // While reconnecting, the reconnect re-issues LISTEN for this channel.
      } catch (err) {
        set.delete(onNotify);
        if (set.size === 0) this.handlers.delete(channel);
        throw err;
      }
    }
    return async () => {
      set.delete(onNotify);
      if (set.size > 0 || this.handlers.get(channel) !== set) return;
      this.handlers.delete(channel);
      const client = this.client;
      if (client && !this.closed) {
        await client.query(`UNLISTEN ${pg.escapeIdentifier(channel)}`).catch((err: unknown) => {
          this.opts.log(`UNLISTEN ${channel} failed: ${String(err)}`);
        });
      }
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.handlers.clear();
    const client = this.client ?? (await this.connecting?.catch(() => undefined));
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private ensureClient(): Promise<pg.Client> {
    if (this.client) return Promise.resolve(this.client);
    this.connecting ??= this.connect().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async connect(): Promise<pg.Client> {
    const client = this.opts.connect();
    let dropped = false;
    const onDrop = (reason: string): void => {
      if (dropped) return;
      dropped = true;
      if (this.client === client) this.client = undefined;
      client.end().catch(() => undefined);
      if (this.closed) return;
      this.opts.log(`LISTEN connection lost (${reason}); notifications may be missed until it reconnects`);
      this.scheduleReconnect();
    };
    client.on("error", (err) => onDrop(err.message));
    client.on("end", () => onDrop("connection ended"));
    client.on("notification", (msg) => {
      for (const fn of this.handlers.get(msg.channel) ?? []) fn(msg.payload ?? "");
    });
    try {
      await client.connect();
    } catch (err) {
      dropped = true;
      await client.end().catch(() => undefined);
      throw err;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      throw new Error("listen on a closed database");
    }
    this.client = client;
    return client;
  }

  private scheduleReconnect(): void {
    if (this.reconnectTimer !== undefined || this.closed) return;
    const delay = this.delayMs;
    this.delayMs = Math.min(this.delayMs * 2, this.opts.maxDelayMs ?? 5_000);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.reconnect();
    }, delay);
    this.reconnectTimer.unref();
  }

  private reconnectFailing = false;

  private async reconnect(): Promise<void> {
    try {
      const client = await this.ensureClient();
      for (const channel of this.handlers.keys()) {
        await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      }
      this.delayMs = this.opts.minDelayMs ?? 100;
      this.reconnectFailing = false;
      this.opts.log(`LISTEN connection restored (${this.handlers.size} channel(s))`);
    } catch (err) {
      if (this.closed) return;
      // One line per outage, not one per try.
      if (!this.reconnectFailing) this.opts.log(`LISTEN connection lost; reconnecting with backoff (${storeUnavailableReason(err) ?? (err instanceof Error ? err.message : String(err))})`);
      this.reconnectFailing = true;
      this.client?.end().catch(() => undefined);
      this.client = undefined;
      this.scheduleReconnect();
    }
  }
}
