/**
 * A CodeMirror 6 ViewPlugin that decorates `%%sgl` cells (magic line, options, `{{ name }}`
 * placeholders, plain prompt text) and `%sgl` line magics in any editor.
 */

import { RangeSetBuilder } from '@codemirror/state';
import {
  Decoration,
  DecorationSet,
  EditorView,
  ViewPlugin,
  ViewUpdate
} from '@codemirror/view';
import { CELL_MAGIC, findPlaceholders, LINE_MAGIC, tokenizeMagicLine } from './magicsyntax';

const magicLine = Decoration.line({ class: 'sgl-cm-magicLine' });
const promptLine = Decoration.line({ class: 'sgl-cm-promptLine' });
const marks = {
  magic: Decoration.mark({ class: 'sgl-cm-magic' }),
  subcommand: Decoration.mark({ class: 'sgl-cm-subcommand' }),
  option: Decoration.mark({ class: 'sgl-cm-option' }),
  value: Decoration.mark({ class: 'sgl-cm-value' }),
  placeholder: Decoration.mark({ class: 'sgl-cm-placeholder' })
};

function addMagicLine(builder: RangeSetBuilder<Decoration>, from: number, text: string): void {
  builder.add(from, from, magicLine);
  for (const token of tokenizeMagicLine(text.trimStart())) {
    const offset = text.length - text.trimStart().length;
    builder.add(from + offset + token.from, from + offset + token.to, marks[token.kind]);
  }
}

/** Decorations of the visible part of the document (cells are small; long files stay cheap). */
export function buildSglDecorations(view: EditorView): DecorationSet {
  const builder = new RangeSetBuilder<Decoration>();
  const doc = view.state.doc;
  const isSglCell = CELL_MAGIC.test(doc.line(1).text);
  let lastLine = 0; // a folded range can make two visible ranges share a line
  for (const { from, to } of view.visibleRanges) {
    let pos = from;
    while (pos <= to) {
      const line = doc.lineAt(pos);
      if (line.number <= lastLine) {
        // already decorated
      } else if (line.number === 1 && isSglCell) {
        addMagicLine(builder, line.from, line.text);
      } else if (LINE_MAGIC.test(line.text)) {
        addMagicLine(builder, line.from, line.text);
      } else if (isSglCell) {
        builder.add(line.from, line.from, promptLine);
        for (const span of findPlaceholders(line.text)) {
          builder.add(line.from + span.from, line.from + span.to, marks.placeholder);
        }
      }
      lastLine = Math.max(lastLine, line.number);
      if (line.to + 1 > doc.length) {
        break;
      }
      pos = line.to + 1;
    }
  }
  return builder.finish();
}

export const sglHighlighter = ViewPlugin.fromClass(
  class {
    decorations: DecorationSet;

    constructor(view: EditorView) {
      this.decorations = buildSglDecorations(view);
    }

    update(update: ViewUpdate): void {
      if (update.docChanged || update.viewportChanged) {
        this.decorations = buildSglDecorations(update.view);
      }
    }
  },
  { decorations: plugin => plugin.decorations }
);
