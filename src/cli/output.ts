/**
 * Terminal output: colour decisions, tables, durations and text that is safe to print.
 * Colour only when stdout is a terminal and neither NO_COLOR nor --no-color says otherwise;
 * --color forces it (for pagers like `less -R`).
 */
import type { Status } from "../engine/status.js";

export { shortDuration } from "../engine/times.js";

export interface OutputOptions {
  /** --color (true), --no-color (false) or neither (undefined). */
  color?: boolean | undefined;
  env?: NodeJS.ProcessEnv;
  isTTY?: boolean;
}

export function useColor(opts: OutputOptions): boolean {
  if (opts.color !== undefined) return opts.color;
  const env = opts.env ?? process.env;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.TERM === "dumb") return false;
  return opts.isTTY ?? process.stdout.isTTY === true;
}

const SGR = { red: 31, green: 32, yellow: 33, cyan: 36, bold: 1, dim: 2 } as const;
export type Style = keyof typeof SGR;

export class Painter {
  constructor(readonly enabled: boolean) {}
  paint(style: Style, text: string): string {
    if (!this.enabled || text === "") return text;
    const close = style === "bold" || style === "dim" ? 22 : 39;
    return `\u001b[${SGR[style]}m${text}\u001b[${close}m`;
  }
  status(status: Status, text: string = status): string {
    return this.paint(STATUS_STYLE[status], text);
  }
}

const STATUS_STYLE: Record<Status, Style> = {
  starting: "cyan",
  running: "cyan",
  unreachable: "yellow",
  succeeded: "green",
  failed: "red",
  timed_out: "red",
  lost: "red",
  cancelled: "yellow",
};

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching ANSI escapes is the point
const ANSI_RE = /\u001b\[[0-9;?]*[A-Za-z]/g;
export function stripAnsi(s: string): string {
  return s.replace(ANSI_RE, "");
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: detecting control characters is the point
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * Text from a record (job output, error messages) made safe for a terminal: control
 * characters other than newline and tab are shown in caret notation (ESC -> ^[), so job
 * output cannot move the cursor or recolour the screen. `oneLine` also folds newlines.
 */
export function safeText(s: string, oneLine = false): string {
  if (!CONTROL_RE.test(s)) return s; // the common case, cheap for 10k-row tables
  // biome-ignore lint/suspicious/noControlCharactersInRegex: escaping control characters is the point
  const out = s.replace(/[\u0000-\u0008\u000b-\u001f\u007f\u0080-\u009f]/g, (c) => {
    const code = c.charCodeAt(0);
    if (code === 0x7f) return "^?";
    if (code < 0x20) return `^${String.fromCharCode(code + 64)}`;
    return `\\u${code.toString(16).padStart(4, "0")}`;
  });
  return oneLine ? out.replace(/\r?\n/g, " ⏎ ").replace(/\t/g, " ") : out;
}

/** Cuts `s` to `max` characters with an ellipsis in the middle, keeping both ends readable. */
export function ellipsize(s: string, max: number): string {
  if (max <= 1 || s.length <= max) return s;
  const head = Math.ceil((max - 1) / 2);
  const tailLen = max - 1 - head;
  return `${s.slice(0, head)}…${tailLen > 0 ? s.slice(s.length - tailLen) : ""}`;
}

export interface Column {
  header: string;
  /** Right-align (numbers). */
  right?: boolean;
}

/**
 * A plain-text table: columns padded to the widest cell, two spaces apart, the last
 * column not padded. `style` colours a cell after padding so colour never breaks alignment.
 * (Written as plain loops: it renders 10k-row tables.)
 */
export function renderTable(
  columns: Column[],
  rows: string[][],
  style?: (row: number, col: number, padded: string) => string,
  header?: (text: string) => string,
): string {
  const widths = columns.map((c) => c.header.length);
  for (const r of rows) {
    for (let i = 0; i < widths.length; i++) {
      const len = (r[i] ?? "").length;
      if (len > widths[i]!) widths[i] = len;
    }
  }
  const line = (cells: string[], rowIdx: number): string => {
    let out = "";
    const last = cells.length - 1;
    for (let i = 0; i <= last; i++) {
      const cell = cells[i]!;
      const padded = columns[i]?.right ? cell.padStart(widths[i]!) : i === last ? cell : cell.padEnd(widths[i]!);
      out += i === 0 ? "" : "  ";
      out += rowIdx >= 0 && style ? style(rowIdx, i, padded) : padded;
    }
    return out.trimEnd();
  };
  const head = line(
    columns.map((c) => c.header),
    -1,
  );
  let out = header ? header(head) : head;
  for (let i = 0; i < rows.length; i++) out += `\n${line(rows[i]!, i)}`;
  return `${out}\n`;
}
