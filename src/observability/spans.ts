/**
 * The tracing port the triggers use: run a step inside a span that is a
 * child of whatever span is current. Without tracing configured it is
 * `noSpans`, which costs a function call and loads nothing.
 */
export type SpanAttributes = Record<string, string | number | boolean>;

export interface Spans {
  /** Runs `fn` in a child span of the current one; `annotate` adds attributes before it ends. A rejection marks the span as an error. */
  run<T>(name: string, attributes: SpanAttributes, fn: (annotate: (attributes: SpanAttributes) => void) => Promise<T>): Promise<T>;
}

export const noSpans: Spans = {
  run: (_name, _attributes, fn) => fn(() => undefined),
};
