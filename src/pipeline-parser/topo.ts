/**
 * Kahn's algorithm that always takes the earliest ready node (by index in
 * `nodes`), so ties keep the input order. Returns null if there is a cycle.
 */
export function topologicalOrder<T extends { id: string; needs: readonly string[] }>(nodes: readonly T[]): T[] | null {
  const index = new Map(nodes.map((n, i) => [n.id, i]));
  const remaining = nodes.map((n) => n.needs.filter((id) => index.has(id)).length);
  const dependents = nodes.map(() => [] as number[]);
  nodes.forEach((n, i) => {
    for (const id of n.needs) {
      const j = index.get(id);
      if (j !== undefined) dependents[j]?.push(i);
    }
  });
  const done = nodes.map(() => false);
  const order: T[] = [];
  // Linear scan for the earliest ready node: pipelines hold at most a thousand instances.
  for (let step = 0; step < nodes.length; step++) {
    const next = remaining.findIndex((r, i) => r === 0 && !done[i]);
    if (next < 0) return null;
    done[next] = true;
    order.push(nodes[next] as T);
    for (const d of dependents[next] ?? []) remaining[d] = (remaining[d] ?? 0) - 1;
  }
  return order;
}

/**
 * One cycle per strongly connected component that has one, each starting at
 * its earliest node and closed (`[a, b, c, a]`). Edges point at needed nodes.
 */
export function findCycles(names: readonly string[], needs: (name: string) => readonly string[]): string[][] {
  const order = new Map(names.map((n, i) => [n, i]));
  const cycles: string[][] = [];
  for (const component of stronglyConnected(names, needs)) {
    const members = new Set(component);
    const start = [...component].sort((a, b) => (order.get(a) ?? 0) - (order.get(b) ?? 0))[0];
    if (start === undefined) continue;
    const selfLoop = needs(start).includes(start);
    if (component.length === 1 && !selfLoop) continue;
    const path = pathBack(start, members, needs);
    if (path) cycles.push(path);
  }
  return cycles.sort((a, b) => (order.get(a[0] ?? "") ?? 0) - (order.get(b[0] ?? "") ?? 0));
}

/** Shortest path start -> ... -> start inside one component (breadth-first). */
function pathBack(start: string, members: Set<string>, needs: (name: string) => readonly string[]): string[] | null {
  const parent = new Map<string, string>();
  const queue = [start];
  for (let i = 0; i < queue.length; i++) {
    const node = queue[i] as string;
    for (const next of needs(node)) {
      if (!members.has(next)) continue;
      if (next === start) {
        const path = [start];
        for (let n: string | undefined = node; n !== undefined && n !== start; n = parent.get(n)) path.splice(1, 0, n);
        path.push(start);
        return path;
      }
      if (!parent.has(next)) {
        parent.set(next, node);
        queue.push(next);
      }
    }
  }
  return null;
}

/** Tarjan's algorithm, iterative so deep graphs cannot overflow the stack. */
function stronglyConnected(names: readonly string[], needs: (name: string) => readonly string[]): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const result: string[][] = [];
  const known = new Set(names);
  let counter = 0;
  for (const root of names) {
    if (index.has(root)) continue;
    const edgesOf = (node: string): string[] => needs(node).filter((n) => known.has(n));
    const work: { node: string; edge: number; edges: string[] }[] = [{ node: root, edge: 0, edges: edgesOf(root) }];
    index.set(root, counter);
    low.set(root, counter++);
    stack.push(root);
    onStack.add(root);
    while (work.length > 0) {
      const frame = work[work.length - 1] as { node: string; edge: number; edges: string[] };
      if (frame.edge < frame.edges.length) {
        const next = frame.edges[frame.edge++] as string;
        if (!index.has(next)) {
          index.set(next, counter);
          low.set(next, counter++);
          stack.push(next);
          onStack.add(next);
          work.push({ node: next, edge: 0, edges: edgesOf(next) });
        } else if (onStack.has(next)) {
          low.set(frame.node, Math.min(low.get(frame.node) ?? 0, index.get(next) ?? 0));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.node, Math.min(low.get(parent.node) ?? 0, low.get(frame.node) ?? 0));
      if (low.get(frame.node) === index.get(frame.node)) {
        const component: string[] = [];
        let n: string | undefined;
        do {
          n = stack.pop();
          if (n !== undefined) {
            onStack.delete(n);
            component.push(n);
          }
        } while (n !== undefined && n !== frame.node);
        result.push(component);
      }
    }
  }
  return result;
}
