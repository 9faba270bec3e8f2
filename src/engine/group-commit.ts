/**
 * Group commit per key on top of a KeyedQueue: what is submitted for a key
 * while its previous task still runs is gathered into one batch, handled by
 * one task when its turn comes. Reports that arrive together (an attempt's
 * `started` and `finished`, four agents finishing at once) become one append
 * instead of a queue of them, which is what bounds throughput on one run.
 *
 * Every item of a batch gets the batch's result (or its error).
 */
import type { KeyedQueue } from "./keyed-queue.js";

interface OpenBatch<I, R> {
  items: I[];
  result: Promise<R>;
}

export class GroupCommit<I, R> {
  /** Batches queued and not yet started, by key: the ones new items join. */
  private readonly open = new Map<string, OpenBatch<I, R>>();

  constructor(
    private readonly queue: KeyedQueue,
    private readonly handle: (key: string, items: readonly I[]) => Promise<R>,
  ) {}

  submit(key: string, item: I): Promise<R> {
    const joined = this.open.get(key);
    if (joined) {
      joined.items.push(item);
      return joined.result;
    }
    const items: I[] = [item];
    const batch: OpenBatch<I, R> = {
      items,
      result: this.queue.run(key, () => {
        // From here on the batch is closed: later items start the next one.
        this.open.delete(key);
        return this.handle(key, items);
      }),
    };
    this.open.set(key, batch);
    return batch.result;
  }
}
