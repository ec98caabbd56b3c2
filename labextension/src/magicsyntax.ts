/**
 * Pure tokenizer for `%sgl` / `%%sgl` magic lines and `{{ name }}` prompt placeholders.
 * The CodeMirror plugin (highlight.ts) turns these spans into decorations.
 */

export type MagicTokenKind = 'magic' | 'subcommand' | 'option' | 'value';

/** A span of one line, as offsets into that line. */
export interface IMagicToken {
  from: number;
  to: number;
  kind: MagicTokenKind;
}

/** `%%sgl` as the first line makes the whole cell an sgl cell. */
export const CELL_MAGIC = /^\s*%%sgl(?=\s|$)/;
/** `%sgl ...` on any line of a cell is a line magic. */
export const LINE_MAGIC = /^\s*%sgl(?=\s|$)/;
const PLACEHOLDER = /\{\{[^{}\n]*\}\}/g;

/** True when `text` (a line) starts a `%%sgl` cell or is a `%sgl` line magic. */
export function isMagicLine(text: string): boolean {
  return CELL_MAGIC.test(text) || LINE_MAGIC.test(text);
}

/**
 * Split a magic line into tokens.
 *
 * `%%sgl --max-tokens 128 -o answer` -> magic, option, value, option, value;
 * `%sgl launch /models/tiny --engine cpu` -> magic, subcommand, value, option, value;
 * `--regex '[a-z ]+'` -> option, value (quotes keep the value one word, as the magic parses it).
 */
export function tokenizeMagicLine(text: string): IMagicToken[] {
  const tokens: IMagicToken[] = [];
  // shell-like words: a quoted part (which may hold spaces) stays inside its word
  const words = /(?:[^\s'"]+|'[^']*'?|"[^"]*"?)+/g;
  let match: RegExpExecArray | null;
  let seenOption = false;
  let isLineMagic = false;
  while ((match = words.exec(text)) !== null) {
    const from = match.index;
    const to = from + match[0].length;
    const word = match[0];
    if (tokens.length === 0) {
      if (word !== '%%sgl' && word !== '%sgl') {
        return [];
      }
      isLineMagic = word === '%sgl';
      tokens.push({ from, to, kind: 'magic' });
      continue;
    }
    if (/^--?[A-Za-z]/.test(word)) {
      seenOption = true;
      // `--opt=value`: colour the name as an option and the rest as its value
      const eq = word.indexOf('=');
      if (eq > 0) {
        tokens.push({ from, to: from + eq, kind: 'option' });
        tokens.push({ from: from + eq + 1, to, kind: 'value' });
      } else {
        tokens.push({ from, to, kind: 'option' });
      }
      continue;
    }
    const kind: MagicTokenKind =
      isLineMagic && !seenOption && tokens.length === 1 ? 'subcommand' : 'value';
    tokens.push({ from, to, kind });
  }
  return tokens;
}

/** Offsets of every `{{ ... }}` placeholder in a prompt line. */
export function findPlaceholders(text: string): Array<{ from: number; to: number }> {
  const spans: Array<{ from: number; to: number }> = [];
  for (const match of text.matchAll(PLACEHOLDER)) {
    const from = match.index ?? 0;
    spans.push({ from, to: from + match[0].length });
  }
  return spans;
}
