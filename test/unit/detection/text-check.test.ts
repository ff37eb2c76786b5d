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
});
