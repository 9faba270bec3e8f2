/**
 * Group commit per key on top of a KeyedQueue: what is submitted for a key
 * while its previous task still runs is gathered into one batch, handled by
 * one task when its turn comes. Reports that arrive together (an attempt's
 * `started` and `finished`, four agents finishing at once) become one append
 * instead of a queue of them, which is what bounds throughput on one run.
 *
 * An item may linger: its batch waits up to `lingerMs` for company before it
 * is handled, and starts at once when an item that does not linger joins it
 * (as a commit delay does in databases). Every item of a batch gets the
 * batch's result (or its error).
 */
import type { KeyedQueue } from "./keyed-queue.js";

interface OpenBatch<I, R> {
  items: I[];
  result: Promise<R>;
  /** Lets the batch be handled once its turn in the queue comes. */
  release(): void;
}

export class GroupCommit<I, R> {
  /** Batches queued and not yet started, by key: the ones new items join. */
  private readonly open = new Map<string, OpenBatch<I, R>>();

  constructor(
    private readonly queue: KeyedQueue,
    private readonly handle: (key: string, items: readonly I[]) => Promise<R>,
  ) {}

  submit(key: string, item: I, options: { lingerMs?: number } = {}): Promise<R> {
    const linger = options.lingerMs ?? 0;
    const joined = this.open.get(key);
    if (joined) {
      joined.items.push(item);
      if (linger <= 0) joined.release();
      return joined.result;
    }
    const items: I[] = [item];
    let timer: NodeJS.Timeout | null = null;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const batch: OpenBatch<I, R> = {
      items,
      release: () => {
        if (timer) clearTimeout(timer);
        release();
      },
      result: this.queue.run(key, async () => {
        await released;
        // From here on the batch is closed: later items start the next one.
        this.open.delete(key);
        return this.handle(key, items);
      }),
    };
    if (linger > 0) timer = setTimeout(() => batch.release(), linger);
    else release();
    this.open.set(key, batch);
    return batch.result;
  }
}
