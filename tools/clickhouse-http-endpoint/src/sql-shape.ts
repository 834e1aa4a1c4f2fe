/**
 * What the endpoint must know about a statement before the engine runs it, read by a small lexer that skips
 * string literals, quoted identifiers and comments: its first keyword (GET allows only reads), the query
 * parameters it names (`{name:Type}`), its `FORMAT`, and whether it holds more than one statement (the server's
 * HTTP interface refuses that; the engine would run them all). The data of an `INSERT … FORMAT x` or
 * `INSERT … VALUES` is not SQL and is not scanned.
 */
export interface SqlShape {
  /** Upper-case first keyword (`SELECT`, `INSERT`, `WITH`…), `''` for an empty statement. */
  readonly firstKeyword: string;
  /** Names of the `{name:Type}` placeholders, in order of appearance. */
  readonly placeholders: readonly string[];
  /** The `FORMAT` clause's format, if any. */
  readonly format: string | undefined;
  readonly multipleStatements: boolean;
  /** Where an `INSERT`'s inline data begins (after `FORMAT name` or at `VALUES`); `undefined` for other statements. */
  readonly dataStart: number | undefined;
}

const WORD = /[A-Za-z_][A-Za-z0-9_]*/y;
const PLACEHOLDER = /\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*:[^}]*\}/y;

export function sqlShape(sql: string): SqlShape {
  let firstKeyword = '';
  let format: string | undefined;
  const placeholders: string[] = [];
  let previousWord = '';
  let ended = false;
  let dataStart: number | undefined;
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
    } else if (c === '-' && sql[i + 1] === '-') {
      i = lineEnd(sql, i);
    } else if (c === '#' && sql[i + 1] === '!') {
      i = lineEnd(sql, i);
    } else if (c === '/' && sql[i + 1] === '*') {
      const close = sql.indexOf('*/', i + 2);
      i = close === -1 ? sql.length : close + 2;
    } else if (ended) {
      return { firstKeyword, placeholders, format, multipleStatements: true, dataStart: undefined };
    } else if (c === "'" || c === '"' || c === '`') {
      i = quotedEnd(sql, i, c);
      previousWord = '';
    } else if (c === ';') {
      ended = true;
      i++;
    } else if (c === '{') {
      PLACEHOLDER.lastIndex = i;
      const match = PLACEHOLDER.exec(sql);
      if (match !== null) placeholders.push(match[1]!);
      i = match === null ? i + 1 : PLACEHOLDER.lastIndex;
      previousWord = '';
    } else {
      WORD.lastIndex = i;
      const match = WORD.exec(sql);
      if (match === null) {
        i++;
        previousWord = '';
        continue;
      }
      const word = match[0].toUpperCase();
      i = WORD.lastIndex;
      if (firstKeyword === '') firstKeyword = word;
      if (previousWord === 'FORMAT') {
        format = match[0];
        // What follows an INSERT's format name is data.
        if (firstKeyword === 'INSERT') {
          dataStart = i;
          break;
        }
      }
      if (word === 'VALUES' && firstKeyword === 'INSERT') {
        dataStart = i;
        break;
      }
      previousWord = word;
    }
  }
  return { firstKeyword, placeholders, format, multipleStatements: false, dataStart };
}

function lineEnd(sql: string, from: number): number {
  const end = sql.indexOf('\n', from);
  return end === -1 ? sql.length : end + 1;
}

/** Past the closing quote; a backslash escapes the next character and a doubled quote stands for itself. */
function quotedEnd(sql: string, from: number, quote: string): number {
  let i = from + 1;
  while (i < sql.length) {
    const c = sql[i]!;
    if (c === '\\') i += 2;
    else if (c === quote && sql[i + 1] === quote) i += 2;
    else if (c === quote) return i + 1;
    else i++;
  }
  return sql.length;
}

/** Statements a GET may run: the server's HTTP interface treats GET as `readonly`. */
const READ_KEYWORDS = new Set(['SELECT', 'WITH', 'SHOW', 'DESCRIBE', 'DESC', 'EXISTS', 'EXPLAIN', 'CHECK']);

export function isReadOnly(shape: SqlShape): boolean {
  return READ_KEYWORDS.has(shape.firstKeyword);
}
