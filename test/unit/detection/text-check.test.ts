import { looksLikeMarkup } from '../../../src/detection/text-check';

const utf8 = (text: string) => Buffer.from(text);

describe('looksLikeMarkup', () => {
  it.each([
    ['an SVG after a DOCTYPE', '<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "x.dtd">\n<svg/>'],
    ['any DOCTYPE', '<!doctype foo>'],
    ['an entity declaration', '<!ENTITY x "y">'],
    ['a comment', '<!-- x -->'],
    ['a CDATA section', '<![CDATA[x]]>'],
    ['an XML declaration', '<?xml version="1.0"?><a/>'],
    ['a stylesheet processing instruction', '<?xml-stylesheet href="x.xsl"?>'],
    ['HTML', '<html><body>x</body></html>'],
    ['a bare element of any name', '<image><read filename="/etc/passwd"/></image>'],
    ['a namespaced element', '<svg:svg xmlns:svg="http://www.w3.org/2000/svg"/>'],
    ['an empty element', '<br/>'],
    ['markup after a BOM and blank lines', '\uFEFF\n\n  \t<svg>'],
  ])('is true for %s', (_label, text) => {
    expect(looksLikeMarkup(utf8(text), 'utf-8')).toBe(true);
  });

  it.each([
    ['plain prose', 'Dear Ann, see you at 5.'],
    ['a heart', '<3 you'],
    ['an address in angle brackets', '<ann@example.org> wrote:'],
    ['an arrow', '<- back'],
    ['a comparison', '< 5 items'],
  ])('is false for %s', (_label, text) => {
    expect(looksLikeMarkup(utf8(text), 'utf-8')).toBe(false);
  });

  it('reads UTF-16', () => {
    expect(
      looksLikeMarkup(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('<!DOCTYPE svg>', 'utf16le')]), 'utf-16le'),
    ).toBe(true);
  });

  it('skips blank space of any length and width before deciding, across the steps it decodes in', () => {
    const ideographicSpace = '\u3000'; // three bytes in UTF-8: some straddle each 512-byte step
    for (const blank of [' '.repeat(511), ' '.repeat(5000), ideographicSpace.repeat(400), '\n\t\u00a0'.repeat(300)]) {
      expect(looksLikeMarkup(utf8(`\uFEFF${blank}<svg onload="x()"/>`), 'utf-8')).toBe(true);
      expect(looksLikeMarkup(utf8(`${blank}a note about <svg>`), 'utf-8')).toBe(false);
      expect(looksLikeMarkup(utf8(blank), 'utf-8')).toBe(false);
    }
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(`${' '.repeat(700)}<html>`, 'utf16le')]);
    expect(looksLikeMarkup(utf16, 'utf-16le')).toBe(true);
  });

  it('decides a binary head at its first character', () => {
    const binary = Buffer.concat([Buffer.from('PK\x03\x04'), Buffer.alloc(64 * 1024, 0xa7)]);
    expect(looksLikeMarkup(binary, 'utf-8')).toBe(false);
  });
});
