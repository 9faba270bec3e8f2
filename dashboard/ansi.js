// ANSI SGR colours to HTML, fed chunk by chunk: escape sequences split across
// chunks are carried over, styles persist across lines, other CSI sequences
// (cursor moves, erase line) are dropped, and "\r" keeps a line's last rewrite.

const BASIC = ["#3b3b3b", "#e5534b", "#57ab5a", "#c69026", "#539bf5", "#b083f0", "#39c5cf", "#d1d5da"];
const BRIGHT = ["#768390", "#ff938a", "#6bc46d", "#daaa3f", "#6cb6ff", "#dcbdfb", "#56d4dd", "#f0f3f6"];

function palette256(n) {
  if (n < 8) return BASIC[n];
  if (n < 16) return BRIGHT[n - 8];
  if (n < 232) {
    const i = n - 16;
    const c = (v) => (v === 0 ? 0 : 55 + v * 40);
    return `rgb(${c(Math.floor(i / 36))},${c(Math.floor(i / 6) % 6)},${c(i % 6)})`;
  }
  const g = 8 + (n - 232) * 10;
  return `rgb(${g},${g},${g})`;
}

export function escapeHtml(s) {
  return s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
}

export class AnsiLines {
  constructor() {
    this.style = {};
    this.carry = "";
    this.line = ""; // HTML of the current, unfinished line
  }

  /** Returns the HTML of each line completed by `text`; `current()` is the partial one. */
  feed(text) {
    let input = this.carry + text;
    this.carry = "";
    // eslint-disable-next-line no-control-regex -- ANSI escapes are what this parses
    const partial = /\x1b(\[[0-9;?]*)?$/.exec(input);
    if (partial) {
      this.carry = partial[0];
      input = input.slice(0, partial.index);
    }
    const done = [];
    // eslint-disable-next-line no-control-regex -- ANSI escapes are what this parses
    const re = /\x1b\[([0-9;?]*)([A-Za-z])|\r?\n|\r/g;
    let last = 0;
    for (let m = re.exec(input); m; m = re.exec(input)) {
      this.text(input.slice(last, m.index));
      last = re.lastIndex;
      if (m[0] === "\n" || m[0] === "\r\n") {
        done.push(this.line);
        this.line = "";
      } else if (m[0] === "\r") {
        this.line = "";
      } else if (m[2] === "m") {
        this.sgr(m[1]);
      }
    }
    this.text(input.slice(last));
    return done;
  }

  current() {
    return this.line;
  }

  text(s) {
    if (!s) return;
    const css = this.css();
    this.line += css ? `<span style="${css}">${escapeHtml(s)}</span>` : escapeHtml(s);
  }

  css() {
    const st = this.style;
    const parts = [];
    if (st.fg) parts.push(`color:${st.fg}`);
    if (st.bg) parts.push(`background:${st.bg}`);
    if (st.bold) parts.push("font-weight:600");
    if (st.dim) parts.push("opacity:.7");
    if (st.italic) parts.push("font-style:italic");
    if (st.underline) parts.push("text-decoration:underline");
    return parts.join(";");
  }

  sgr(params) {
    const codes = params === "" ? [0] : params.split(";").map((x) => Number(x) || 0);
    for (let i = 0; i < codes.length; i++) {
      const c = codes[i];
      const st = this.style;
      if (c === 0) this.style = {};
      else if (c === 1) st.bold = true;
      else if (c === 2) st.dim = true;
      else if (c === 3) st.italic = true;
      else if (c === 4) st.underline = true;
      else if (c === 22) st.bold = st.dim = false;
      else if (c === 23) st.italic = false;
      else if (c === 24) st.underline = false;
      else if (c >= 30 && c <= 37) st.fg = BASIC[c - 30];
      else if (c === 39) st.fg = null;
      else if (c >= 40 && c <= 47) st.bg = BASIC[c - 40];
      else if (c === 49) st.bg = null;
      else if (c >= 90 && c <= 97) st.fg = BRIGHT[c - 90];
      else if (c >= 100 && c <= 107) st.bg = BRIGHT[c - 100];
      else if ((c === 38 || c === 48) && codes[i + 1] === 5) {
        st[c === 38 ? "fg" : "bg"] = palette256(codes[i + 2] ?? 0);
        i += 2;
      } else if ((c === 38 || c === 48) && codes[i + 1] === 2) {
        st[c === 38 ? "fg" : "bg"] = `rgb(${codes[i + 2] ?? 0},${codes[i + 3] ?? 0},${codes[i + 4] ?? 0})`;
        i += 4;
      }
    }
  }
}
