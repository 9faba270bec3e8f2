/** Polls `check` until it holds; fails naming `what` after `ms`. */
export async function waitUntil(what: string, check: () => boolean, ms = 10_000, everyMs = 20): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting until ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
