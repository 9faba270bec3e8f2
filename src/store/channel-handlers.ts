/**
 * Who listens on which NOTIFY channel, for an adapter that holds one LISTEN
 * per channel however many listeners it has: the first listener issues it,
 * the last one to leave issues UNLISTEN. A LISTEN that fails leaves nothing
 * registered.
 */
import type { Unlisten } from "./database.js";

export class ChannelHandlers {
  private readonly handlers = new Map<string, Set<(payload: string) => void>>();

  constructor(
    private readonly listen: (channel: string) => Promise<void>,
    private readonly unlisten: (channel: string) => Promise<void>,
  ) {}

  async add(channel: string, onNotify: (payload: string) => void): Promise<Unlisten> {
    let set = this.handlers.get(channel);
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
      try {
        await this.listen(channel);
      } catch (err) {
        this.handlers.delete(channel);
        throw err;
      }
    }
    set.add(onNotify);
    return async () => {
      set.delete(onNotify);
      if (set.size > 0 || this.handlers.get(channel) !== set) return;
      this.handlers.delete(channel);
      await this.unlisten(channel);
    };
  }

  deliver(channel: string, payload: string): void {
    for (const fn of this.handlers.get(channel) ?? []) fn(payload);
  }

  clear(): void {
    this.handlers.clear();
  }
}
