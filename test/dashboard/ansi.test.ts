/** The dashboard's ANSI-to-HTML converter (dashboard/ansi.js), fed chunk by chunk as logs arrive. */
import { describe, expect, it } from "vitest";
import { AnsiLines } from "../../dashboard/ansi.js";

describe("AnsiLines", () => {
  it("colours text, escapes HTML and completes lines", () => {
    const a = new AnsiLines();
    expect(a.feed("\x1b[31mred <b>\x1b[0m plain\nnext")).toEqual(['<span style="color:#e5534b">red &lt;b&gt;</span> plain']);
    expect(a.current()).toBe("next");
  });

  it("carries an escape sequence split across chunks, and styles across lines", () => {
    const a = new AnsiLines();
    expect(a.feed("a\x1b[1")).toEqual([]);
    expect(a.feed(";32mb\nc\x1b[0m\n")).toEqual(['a<span style="color:#57ab5a;font-weight:600">b</span>', '<span style="color:#57ab5a;font-weight:600">c</span>']);
  });

  it("handles 256 and true colours, drops other CSI sequences, keeps the last rewrite after \\r", () => {
    const a = new AnsiLines();
    expect(a.feed("\x1b[38;5;196mx\x1b[48;2;1;2;3my\x1b[0m\x1b[2K\n")).toEqual([
      '<span style="color:rgb(255,0,0)">x</span><span style="color:rgb(255,0,0);background:rgb(1,2,3)">y</span>',
    ]);
    expect(a.feed("10%\r50%\r100%\r\n")).toEqual(["100%"]);
  });
});
