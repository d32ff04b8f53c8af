import { Transform, type TransformCallback } from "node:stream";
import { AppError } from "../errors";

/**
 * A pass-through for a plain SQL dump on its way into psql that stops it before any psql
 * backslash command other than the `\restrict` / `\unrestrict` lines pg_dump writes. psql runs a
 * backslash command wherever its lexer meets an unquoted backslash (`SELECT 1; \! rm …` runs too)
 * and puts its own variables (`:USER`) back into its input, so the dump is read as psql reads it
 * (see DumpScanner); where psql versions or settings could read it two ways, it is refused.
 */
export class DumpGuard extends Transform {
  private readonly scanner: DumpScanner;
  private carry = Buffer.alloc(0);

  /**
   * `restricted`: psql runs restricted under Coffer's own key (`\restrict`, psql 13.22, 14.19,
   * 15.14, 16.10, 17.6 and later), where it refuses every backslash command, so the dump's own
   * `\restrict` / `\unrestrict` lines, which it would refuse too, become blank. `globals`: the
   * roles of `pg_dumpall --globals-only`, which holds no COPY and is run without ON_ERROR_STOP
   * (where the data of a COPY the server refused would be read as commands), so COPY is refused.
   */
  constructor(private readonly o: { restricted?: boolean; globals?: boolean } = {}) {
    super();
    this.scanner = new DumpScanner({ globals: o.globals });
  }

  /** The table of each COPY … FROM stdin passed on so far, in order (null where its name could not be read). */
  get copyTargets(): readonly (CopyTarget | null)[] {
    return this.scanner.copyTargets;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.feed(this.carry.length ? Buffer.concat([this.carry, chunk]) : chunk, false, callback);
  }

  override _flush(callback: TransformCallback): void {
    this.feed(this.carry, true, callback);
  }

  /**
   * Passes on what the scanner has read and found safe; keeps the undecided rest. COPY data, the
   * bulk of a dump, is read from the bytes themselves: turning it into text made as much garbage
   * as the dump is large, and collecting it cost a restore more than the reading (bench:restore).
   */
  private feed(bytes: Buffer, final: boolean, callback: TransformCallback): void {
    let used: number;
    try {
      used = this.scanner.copyData(bytes, final);
      if (used < bytes.length && !this.scanner.inCopyData) {
        const from = used;
        used += this.scanner.scan(bytes.toString("latin1", used), final);
        if (this.o.restricted && this.scanner.restrictLines.length) {
          bytes = Buffer.from(bytes); // the caller's chunk stays as it was
          for (const [at, length] of this.scanner.restrictLines) bytes.fill(0x20, from + at, from + at + length);
        }
      }
    } catch (err) {
      return callback(err as Error);
    }
    if (used > 0) this.push(bytes.subarray(0, used));
    this.carry = Buffer.from(bytes.subarray(used));
    callback();
  }
}

/** A table as `schema.table`, the names as PostgreSQL stores them. */
export interface CopyTarget {
  schema: string;
  table: string;
}

/** Enough of a COPY statement for its schema-qualified table name (two quoted 63-byte names). */
const COPY_NAME_CHARS = 512;
const NAME = String.raw`"(?:[^"]|"")+"|[^\s".(;]+`;
const COPY_TARGET = new RegExp(String.raw`^copy\s+(${NAME})\.(${NAME})[\s(]`, "i");

/** The schema-qualified table a COPY statement (latin1 text, one character a byte) names, as pg_dump writes it. */
function copyTarget(statement: string): CopyTarget | null {
  const m = COPY_TARGET.exec(statement);
  if (!m) return null;
  const name = (n: string) =>
    Buffer.from(
      n.startsWith('"') ? n.slice(1, -1).replaceAll('""', '"') : n.replace(/[A-Z]+/g, (c) => c.toLowerCase()),
      "latin1",
    ).toString("utf8");
  return { schema: name(m[1]!), table: name(m[2]!) };
}

/** How far the scanner reads ahead (a `\restrict` line, a dollar-quote tag, a word) before refusing. */
const LOOKAHEAD = 4096;

const [NL, CR, BACKSLASH, DOT] = [0x0a, 0x0d, 0x5c, 0x2e];

type State = "sql" | "dash" | "block" | "quote" | "escape" | "ident" | "dollar";

const IDENT_START = /[A-Za-z_\x80-\xff]/;
const WORD = /[A-Za-z0-9_$\x80-\xff]/; // psql's identifier characters, `$` included
const VARIABLE = /^:(['"]?)([A-Za-z0-9_\x80-\xff]+)\1/;

/**
 * psql's lexer as far as it decides what runs: strings ('…' read with standard_conforming_strings
 * on, E'…'), quoted names, dollar quotes, nested comments, statements split at `;` outside
 * parentheses and BEGIN ATOMIC bodies, and COPY … FROM stdin, whose data psql reads from the
 * next line to a line that is exactly `\.` (PostgreSQL 15–17). `scan` gets the text (latin1, one
 * character a byte) from the first character not yet passed on.
 */
export class DumpScanner {
  private line = 1;
  private state: State = "sql";
  private atLineStart = true;
  private copying = false; // inside COPY data; `state` is where psql's lexer resumes after it
  private copies = 0; // COPY … FROM stdin statements sent whose data has not started yet
  private before = ""; // the character before the text passed to `scan`
  private commentDepth = 0;
  private backslashes = 0; // the run of backslashes just read inside a plain '…' string
  private escaped = false; // inside E'…': the last character was an unpaired backslash
  private tag = "";
  private paren = 0;
  private beginDepth = 0; // psql ≥ 14 keeps BEGIN ATOMIC … END of CREATE FUNCTION in one statement
  private statement: string[] = []; // the statement's first words, for that test
  private segment: string[] = []; // the words since the last `;` outside parentheses
  private ambiguous = false; // a word psql versions tokenize differently (`1begin`) where that matters
  private copyText: string | null = null; // the start of a statement beginning with COPY, for its table's name
  private copyFrom = 0; // where the rest of that statement starts in the text being scanned
  /** The `\restrict` / `\unrestrict` lines the last `scan` passed: where they start in its text, and their length. */
  restrictLines: [number, number][] = [];
  /** The table of each COPY … FROM stdin so far, in order (null where its name could not be read). */
  readonly copyTargets: (CopyTarget | null)[] = [];

  constructor(private readonly o: { globals?: boolean } = {}) {}

  get inCopyData(): boolean {
    return this.copying;
  }

  /**
   * Inside COPY data, reads `b`'s lines as bytes up to the end of the data (the line `\.`), as
   * `read` reads them as text; returns how many bytes it read (0 outside COPY data).
   */
  copyData(b: Buffer, final: boolean): number {
    let i = 0;
    while (this.copying && i < b.length) {
      if (this.atLineStart) {
        if (b.length - i < 4 && !final && b.indexOf(NL, i) < 0) break;
        if (b[i] === BACKSLASH && b[i + 1] === DOT && (b[i + 2] === NL || (b[i + 2] === CR && b[i + 3] === NL))) {
          if (this.copies > 0) this.copies--;
          else this.copying = false;
        }
      }
      const nl = b.indexOf(NL, i);
      if (nl < 0) {
        this.atLineStart = false;
        i = b.length;
        break;
      }
      i = nl + 1;
      this.newline();
    }
    if (i > 0) this.before = String.fromCharCode(b[i - 1]!);
    return i;
  }

  /** Reads `s` as far as it can decide; returns how many characters may be passed on. Throws on a meta-command. */
  scan(s: string, final: boolean): number {
    this.restrictLines = [];
    const n = this.read(s, final);
    if (n > 0) this.before = s[n - 1]!;
    if (this.copyText !== null) {
      this.copyText = (this.copyText + s.slice(this.copyFrom, n)).slice(0, COPY_NAME_CHARS);
      this.copyFrom = 0; // the next text starts where this one was passed on
    }
    return n;
  }

  private read(s: string, final: boolean): number {
    let i = 0;
    while (i < s.length) {
      const startOfLine = this.atLineStart;
      if (this.copying) {
        if (startOfLine) {
          if (s.length - i < 4 && !final && !s.includes("\n", i)) return i;
          // The next COPY of the same line (`COPY a …; COPY b …;`) reads its data from the next line.
          if (s.startsWith("\\.\n", i) || s.startsWith("\\.\r\n", i)) {
            if (this.copies > 0) this.copies--;
            else this.copying = false;
          }
        }
        const nl = s.indexOf("\n", i);
        if (nl < 0) {
          this.atLineStart = false;
          return s.length;
        }
        i = nl + 1;
        this.newline();
        continue;
      }
      const c = s[i]!;
      if (c === "\n") {
        i++;
        this.newline();
        if (this.state === "dash") this.state = "sql";
        this.backslashes = 0; // a backslash before a newline escapes only the newline
        this.escaped = false;
        if (this.copies > 0) {
          this.copies--;
          this.copying = true;
        }
        continue;
      }
      const step = this.step(s, i, final, startOfLine);
      if (step === 0) return i; // needs more text to decide
      this.atLineStart = false;
      i += step;
    }
    return s.length;
  }

  private newline() {
    this.line++;
    this.atLineStart = true;
  }

  /** Reads one token (or character) at `i`; returns its length, or 0 when it needs more text. */
  private step(s: string, i: number, final: boolean, startOfLine: boolean): number {
    const c = s[i]!;
    const short = (n: number) => i + n > s.length && !final;
    switch (this.state) {
      case "dash":
        if (c === "\r") this.state = "sql"; // psql's lexer ends a comment at a carriage return too
        return 1;
      case "block":
        if ((c === "*" || c === "/") && short(2)) return 0;
        if (c === "*" && s[i + 1] === "/") {
          if (--this.commentDepth === 0) this.state = "sql";
          return 2;
        }
        if (c === "/" && s[i + 1] === "*") {
          this.commentDepth++;
          return 2;
        }
        return 1;
      case "quote":
        if (c !== "'") {
          this.backslashes = c === "\\" ? this.backslashes + 1 : 0;
          return 1;
        }
        // With standard_conforming_strings off (or in a continued E'…' string) this quote would be escaped.
        if (this.backslashes % 2 === 1)
          this.refuse("has a string ending in a backslash, which psql reads two ways (standard_conforming_strings)");
        if (short(2)) return 0;
        if (s[i + 1] === "'") return 2;
        this.state = "sql";
        return 1;
      case "escape":
        if (this.escaped) this.escaped = false;
        else if (c === "\\") this.escaped = true;
        else if (c === "'") {
          if (short(2)) return 0;
          if (s[i + 1] === "'") return 2;
          this.state = "sql";
        }
        return 1;
      case "ident":
        if (c === '"') this.state = "sql"; // `""` closes and reopens: the same reading
        return 1;
      case "dollar":
        if (c !== "$") return 1;
        if (s.startsWith(this.tag, i)) {
          this.state = "sql";
          return this.tag.length;
        }
        return short(this.tag.length) && this.tag.startsWith(s.slice(i)) ? 0 : 1;
    }
    return this.sql(s, i, final, startOfLine);
  }

  private sql(s: string, i: number, final: boolean, startOfLine: boolean): number {
    const c = s[i]!;
    const next = s[i + 1];
    const more = (end: number, what: string) => {
      if (end - i > LOOKAHEAD) this.refuse(`has ${what} longer than Coffer reads ahead`);
      return 0;
    };
    if (c === "\\") {
      if (startOfLine) {
        const end = s.indexOf("\n", i);
        if (end < 0 && !final) return more(s.length, "a backslash line");
        const text = s.slice(i, end < 0 ? s.length : end);
        if (/^\\(un)?restrict [A-Za-z0-9]+\r?$/.test(text)) {
          this.restrictLines.push([i, text.replace(/\r$/, "").length]);
          return text.length;
        }
      }
      const name = /^\\([A-Za-z0-9_\x80-\xff]+|.?)/.exec(s.slice(i, i + 64))![0];
      if (i + name.length >= s.length && !final && name.length < 64) return 0; // the whole name, for the message
      this.refuse(`runs the psql command ${name}`, name === "\\connect" || name === "\\c");
    }
    if ((c === "-" || c === "/" || c === ":") && next === undefined && !final) return 0;
    if (c === "-" && next === "-") {
      this.state = "dash";
      return 2;
    }
    if (c === "/" && next === "*") {
      this.state = "block";
      this.commentDepth = 1;
      return 2;
    }
    if (c === "'") {
      this.state = "quote";
      this.backslashes = 0;
      return 1;
    }
    if (c === '"') {
      this.state = "ident";
      return 1;
    }
    if (c === ":") {
      if (next === ":") return 2; // a type cast
      const name = /^:['"]?[A-Za-z0-9_\x80-\xff]*/.exec(s.slice(i, i + LOOKAHEAD + 2))![0];
      if (i + name.length >= s.length && !final) return more(s.length, "a word");
      const m = VARIABLE.exec(s.slice(i, i + name.length + 1));
      // psql's own variables, all upper case, would have their values read as part of the dump.
      if (m && /^[A-Z0-9_]*[A-Z][A-Z0-9_]*$/.test(m[2]!)) this.refuse(`inserts the psql variable ${m[0]}`);
      return 1;
    }
    if (c === "$") {
      const m = /^\$(?:[A-Za-z_\x80-\xff][A-Za-z0-9_\x80-\xff]*)?(\$)?/.exec(s.slice(i, i + LOOKAHEAD + 2))!;
      if (!m[1] && i + m[0].length >= s.length && !final) return more(s.length, "a dollar-quote tag");
      if (!m[1]) return 1; // `$1`, or `$name` without a closing `$`
      this.tag = m[0];
      this.state = "dollar";
      return m[0].length;
    }
    if (WORD.test(c)) {
      // A number stops at `$` (`1$a$` opens a dollar quote); a letter after it starts psql 15's `1abc` token.
      let j = i;
      if (!IDENT_START.test(c)) while (j < s.length && /[0-9]/.test(s[j]!)) j++;
      if (j === i || (j < s.length && IDENT_START.test(s[j]!))) while (j < s.length && WORD.test(s[j]!)) j++;
      if (j === s.length && !final) return more(j, "a word");
      const word = s.slice(i, j);
      if (/^[eE]$/.test(word) && s[j] === "'") {
        this.state = "escape";
        this.escaped = false;
        return 2;
      }
      if (this.paren === 0 && this.segment.length === 0 && word.toLowerCase() === "copy") {
        this.copyText = "";
        this.copyFrom = i;
      }
      this.onWord(word, i > 0 ? s[i - 1]! : this.before);
      return j - i;
    }
    if (c === "(") this.paren++;
    else if (c === ")" && this.paren > 0) this.paren--;
    else if (c === ";" && this.paren === 0) this.endSegment(s, i);
    return 1;
  }

  /** Tracks what psql tracks to split statements, and whether this part is a COPY … FROM stdin. */
  private onWord(word: string, before: string) {
    const w = word.toLowerCase();
    if (this.paren === 0) this.segment.push(w);
    if (this.statement.length < 4) this.statement.push(w);
    if (!this.inFunction()) return;
    const keyword = /(begin|case|end)$/.test(w);
    // psql 15+ reads `1begin` / `1.begin` as one token, older versions as a number and a keyword.
    if (keyword && (!IDENT_START.test(word[0]!) || /[0-9.]/.test(before))) this.ambiguous = true;
    if (!IDENT_START.test(word[0]!)) return;
    if (w === "begin") this.beginDepth++;
    else if (w === "case" && this.beginDepth > 0) this.beginDepth++;
    else if (w === "end" && this.beginDepth > 0) this.beginDepth--;
  }

  /** psql's test: the statement starts CREATE [OR REPLACE] FUNCTION|PROCEDURE. */
  private inFunction(): boolean {
    const [a, b, c, d] = this.statement;
    const fn = (w?: string) => w === "function" || w === "procedure";
    return a === "create" && (fn(b) || (b === "or" && c === "replace" && fn(d)));
  }

  private endSegment(s: string, at: number) {
    const words = this.segment;
    const fromStdin = words[0] === "copy" && words.some((w, k) => w === "stdin" && words[k - 1] === "from");
    const text = this.copyText === null ? "" : this.copyText + s.slice(this.copyFrom, at);
    this.segment = [];
    this.copyText = null;
    if (fromStdin && this.o.globals) this.refuse("has COPY … FROM stdin (roles and tablespaces never hold one)");
    if (fromStdin) {
      // psql 13 splits BEGIN ATOMIC bodies at every `;`, newer versions do not: which one reads COPY data is unknown.
      if (this.beginDepth > 0 || this.ambiguous)
        this.refuse("has COPY … FROM stdin where psql versions disagree on where statements end");
      this.copies++; // psql reads its data from the next line
      this.copyTargets.push(copyTarget(text));
    }
    if (this.beginDepth === 0) this.statement = [];
  }

  private refuse(what: string, connect = false): never {
    const why = connect ? " (that would load the rest into another database)" : "";
    throw new AppError(
      "VALIDATION",
      `The dump ${what} on line ${this.line}${why}; Coffer loads only dumps as pg_dump writes them, so it stopped before that line. Restore a backup Coffer made, or remove that line from the dump and upload it again.`,
    );
  }
}
