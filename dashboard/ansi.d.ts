// Types for ansi.js, so the TypeScript tests can import the browser module.
export function escapeHtml(s: string): string;
export class AnsiLines {
  feed(text: string): string[];
  current(): string;
}
