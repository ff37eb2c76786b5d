import { TextDecoder } from 'node:util';
import type { Readable } from 'node:stream';

const PREVIEW_LINES = 24;
const PREVIEW_COLUMNS = 56;

export interface TextSummary {
  characters: number;
  lines: number;
  /** The first lines, cut to a preview's width. */
  head: string[];
}

/** Counts characters and lines of a text stream as it passes, keeping only its first lines. */
export async function summarizeText(stream: Readable, charset: string): Promise<TextSummary> {
  let decoder: TextDecoder | undefined;
  let characters = 0;
  let newlines = 0;
  let last = '';
  let head = '';
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    decoder ??= new TextDecoder(
      charset === 'utf-16' && chunk[0] === 0xfe ? 'utf-16be' : charset === 'utf-16' ? 'utf-16le' : 'utf-8',
    );
    const text = decoder.decode(chunk, { stream: true });
    for (const char of text) {
      characters++;
      if (char === '\n') newlines++;
    }
    if (head.length < PREVIEW_LINES * PREVIEW_COLUMNS * 4) head += text;
    if (text) last = text[text.length - 1];
  }
  const lines = characters === 0 ? 0 : newlines + (last === '\n' ? 0 : 1);
  // TextDecoder drops a byte-order mark, so it is counted neither as a character nor shown.
  const headLines = head
    .split(/\r?\n/)
    .slice(0, PREVIEW_LINES)
    .map((line) => Array.from(line.replace(/\t/g, '  ')).slice(0, PREVIEW_COLUMNS).join(''));
  return { characters, lines, head: headLines };
}

/**
 * An SVG page showing the lines in a monospace font. The SVG is ours, never the user's:
 * every character is escaped, and nothing in it refers to anything outside it.
 */
export function textPageSvg(lines: string[], size = 512): string {
  const escape = (text: string) =>
    text
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, '')
      .replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const rows = lines
    .map((line, i) => `<text x="16" y="${32 + i * 20}" xml:space="preserve">${escape(line)}</text>`)
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}"><rect width="100%" height="100%" fill="#ffffff"/><g font-family="DejaVu Sans Mono" font-size="15" fill="#222222">${rows}</g></svg>`;
}
