import { MediaError } from '../errors.js';
import type { RandomAccess } from './random-access.js';
import type { ZipEntry } from './zip-directory.js';
import { readEntry } from './zip-entry.js';

/*
 * A ZIP holding `[Content_Types].xml` and `word/document.xml` is a WordprocessingML
 * package (ECMA-376 Part 2). It is accepted as DOCX only when its content types say so:
 * the main part is the DOCX main document, and nothing is macro-enabled (DOCM, DOTM) or
 * carries a VBA project. The entry names alone say nothing about macros.
 */

export const CONTENT_TYPES = '[Content_Types].xml';
export const WORD_MAIN_PART = '/word/document.xml';
export const DOCX_MAIN_TYPE = 'application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml';
/** Real content-type parts are a few KB. */
const MAX_CONTENT_TYPES_BYTES = 256 * 1024;

const MACRO_TYPE = /macroEnabled|vba/i;
const MACRO_PART = /(^|\/)vba[^/]*$/i;

/** The entry names of a WordprocessingML package, as Word and LibreOffice recognise one. */
export function isWordPackage(names: string[]): boolean {
  return names.includes(CONTENT_TYPES) && names.includes(WORD_MAIN_PART.slice(1));
}

/**
 * Why the content types `xml` and the entry `names` do not make a macro-free DOCX, or
 * undefined when they do: a DTD (OPC forbids one), a macro-enabled or VBA content type, a
 * VBA part, or a `/word/document.xml` override that is missing, repeated or not the
 * DOCX main document type.
 */
export function wordPackageProblem(xml: string, names: string[]): string | undefined {
  if (/<!(DOCTYPE|ENTITY)/i.test(xml)) return 'the content types carry a DTD';
  if (names.some((name) => MACRO_PART.test(name))) return 'the package carries a VBA project';
  const declarations = contentTypeDeclarations(xml);
  if (declarations.some((declaration) => MACRO_TYPE.test(declaration.ContentType ?? '')))
    return 'the package is macro-enabled';
  const main = declarations.filter(
    (declaration) => declaration.element === 'Override' && declaration.PartName?.toLowerCase() === WORD_MAIN_PART,
  );
  if (main.length !== 1 || main[0].ContentType?.trim() !== DOCX_MAIN_TYPE)
    return 'the main part is not a DOCX document';
  return undefined;
}

/**
 * Confirms a WordprocessingML package as DOCX by reading its `[Content_Types].xml` (size
 * bounded, local header checked, inflation capped): 415 when it is not a macro-free DOCX.
 */
export async function confirmWordPackage(file: RandomAccess, entries: ZipEntry[]): Promise<void> {
  const unsupported = (why: string) =>
    new MediaError('UNSUPPORTED_MEDIA_TYPE', `The file is not a supported DOCX document: ${why}`);
  const typesEntries = entries.filter((entry) => entry.name === CONTENT_TYPES);
  if (typesEntries.length !== 1) throw unsupported('its content types part is ambiguous');
  const bytes = await readEntry(file, typesEntries[0], MAX_CONTENT_TYPES_BYTES, () =>
    unsupported('its content types part is too large'),
  );
  const problem = wordPackageProblem(
    decodeXml(bytes),
    entries.map((entry) => entry.name),
  );
  if (problem) throw unsupported(problem);
}

/** XML text in UTF-8 or, with a byte-order mark, UTF-16 (XML 1.0 §4.3.3). */
function decodeXml(bytes: Buffer): string {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return bytes.toString('utf16le', 2);
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return Buffer.from(bytes.subarray(2)).swap16().toString('utf16le');
  return bytes.toString('utf8');
}

interface Declaration {
  element: 'Default' | 'Override';
  PartName?: string;
  ContentType?: string;
}

/** The `Default` and `Override` elements (any namespace prefix), with their attribute values unescaped. */
function contentTypeDeclarations(xml: string): Declaration[] {
  const declarations: Declaration[] = [];
  for (const [, element, attributes] of xml.matchAll(/<(?:[\w.-]+:)?(Default|Override)\b([^>]*)>/g)) {
    const declaration: Declaration = { element: element as Declaration['element'] };
    for (const [, name, quoted] of attributes.matchAll(/([\w.:-]+)\s*=\s*("[^"]*"|'[^']*')/g)) {
      if (name === 'PartName' || name === 'ContentType') declaration[name] = unescapeXml(quoted.slice(1, -1));
    }
    declarations.push(declaration);
  }
  return declarations;
}

const PREDEFINED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Character and predefined entity references of an attribute value (XML 1.0 §4.1, §4.6). */
export function unescapeXml(value: string): string {
  return value.replace(/&(#x[0-9a-f]+|#\d+|\w+);/gi, (reference, body: string) => {
    if (body[0] !== '#') return PREDEFINED[body] ?? reference;
    const code = body[1].toLowerCase() === 'x' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
    return code <= 0x10ffff ? String.fromCodePoint(code) : reference;
  });
}
