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

/*
 * Markup at the start of the text (after a BOM and blank space): any declaration, comment,
 * CDATA section or DTD (`<!DOCTYPE svg`, `<!ENTITY`, `<!--`, `<![CDATA[`), any processing
 * instruction (`<?xml`, `<?xml-stylesheet`), and any element start, with or without a
 * namespace prefix (`<svg `, `<html>`, `<image>`, `<x:script/>`). This covers WHATWG MIME
 * Sniffing §7.1 (the HTML tags a browser sniffs) plus SVG and any other XML, which
 * browsers and tools (ImageMagick MSL, XSLT) would interpret. `<3` or `<a@b.org>` stay text.
 */
const MARKUP = /^<(?:[!?]|[A-Za-z_][\w.-]*(?::[A-Za-z_][\w.-]*)?(?:\s|\/?>))/;

/** How much of the head is decoded at a time while looking for its first character that is not blank. */
const STEP_BYTES = 512;

/**
 * True when the start of this text (the whole head given, blank space skipped) is markup a
 * browser or a tool would interpret. Decoded a step at a time: a head whose first character
 * that is not blank is not `<` is decided there (binary uploads are, at once), and one that
 * starts with `<` is decoded whole and matched as before.
 */
export function looksLikeMarkup(head: Buffer, encoding: TextEncoding): boolean {
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(encoding);
  } catch {
    return false;
  }
  let text = '';
  for (let at = 0; at < head.length; at += STEP_BYTES) {
    text += decoder.decode(head.subarray(at, at + STEP_BYTES), { stream: true });
    const start = text.replace(/^\uFEFF/, '').trimStart();
    if (start.length === 0) continue;
    if (start[0] !== '<') return false;
    text += decoder.decode(head.subarray(at + STEP_BYTES));
    return MARKUP.test(text.replace(/^\uFEFF/, '').trimStart());
  }
  return false;
}
