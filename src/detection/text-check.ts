import { TextDecoder } from 'node:util';

/*
 * Plain text is recognised by content: UTF-8 (optionally with a BOM) or UTF-16 with a BOM,
 * without binary control characters, and not markup a browser would sniff as HTML or XML.
 */

export type TextEncoding = 'utf-8' | 'utf-16le' | 'utf-16be';

export function textEncodingOf(head: Buffer): TextEncoding {
  if (head[0] === 0xff && head[1] === 0xfe) return 'utf-16le';
  if (head[0] === 0xfe && head[1] === 0xff) return 'utf-16be';
  return 'utf-8';
}

/** A stateful checker fed chunk by chunk; `end()` reports whether everything seen was text. */
export class TextChecker {
  private readonly decoder: TextDecoder;
  private valid = true;

  constructor(readonly encoding: TextEncoding) {
    this.decoder = new TextDecoder(encoding, { fatal: true, ignoreBOM: false });
  }

  push(chunk: Uint8Array): boolean {
    if (!this.valid) return false;
    try {
      this.valid = !hasBinaryControl(this.decoder.decode(chunk, { stream: true }));
    } catch {
      this.valid = false;
    }
    return this.valid;
  }

  end(): boolean {
    if (!this.valid) return false;
    try {
      this.decoder.decode();
    } catch {
      this.valid = false;
    }
    return this.valid;
  }
}

// C0 controls other than TAB, LF, VT, FF, CR and ESC, plus DEL: what binary files are full of.
const BINARY_CONTROL = /[\u0000-\u0008\u000e-\u001a\u001c-\u001f\u007f]/;

function hasBinaryControl(text: string): boolean {
  return BINARY_CONTROL.test(text);
}

// WHATWG MIME Sniffing §7.1 "rules for identifying an unknown MIME type", plus SVG.
const MARKUP = /^<(!doctype html|html|head|script|iframe|h1|div|font|table|a|style|title|b|body|br|p|svg|math|object|embed|meta|link|base)[\s>/]|^<!--|^<\?xml/i;

/** True when a browser ignoring our Content-Type would render the start of this text as markup. */
export function looksLikeMarkup(head: Buffer, encoding: TextEncoding): boolean {
  let text: string;
  try {
    text = new TextDecoder(encoding).decode(head.subarray(0, 1024));
  } catch {
    return false;
  }
  return MARKUP.test(text.replace(/^\uFEFF/, '').trimStart());
}
