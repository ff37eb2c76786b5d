import type { RandomAccess } from '../../../src/detection/random-access';
import {
  confirmWordPackage,
  DOCX_MAIN_TYPE,
  isWordPackage,
  wordPackageProblem,
} from '../../../src/detection/word-package';
import { readZipEntries } from '../../../src/detection/zip-directory';
import { isMediaError } from '../../../src/errors';
import { makeZip } from '../../support/zip';

const NAMES = ['[Content_Types].xml', '_rels/.rels', 'word/document.xml'];
const types = (...declarations: string[]) =>
  '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">' +
  '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>' +
  `${declarations.join('')}</Types>`;
const main = (contentType = DOCX_MAIN_TYPE, partName = '/word/document.xml') =>
  `<Override PartName="${partName}" ContentType="${contentType}"/>`;

describe('wordPackageProblem', () => {
  it('accepts a DOCX: the main part overridden with the DOCX main document type', () => {
    expect(wordPackageProblem(types(main()), NAMES)).toBeUndefined();
    // Attribute order, quotes, spacing, a namespace prefix and the part name's case do not matter.
    expect(
      wordPackageProblem(
        `<ct:Types xmlns:ct="x"><ct:Override ContentType = '${DOCX_MAIN_TYPE}' PartName='/Word/Document.xml' /></ct:Types>`,
        NAMES,
      ),
    ).toBeUndefined();
  });

  it.each([
    ['a DOCM main part', types(main('application/vnd.ms-word.document.macroEnabled.main+xml')), NAMES, /macro-enabled/],
    [
      'a DOTM main part',
      types(main('application/vnd.ms-word.template.macroEnabledTemplate.main+xml')),
      NAMES,
      /macro-enabled/,
    ],
    [
      'a macro type written with character references',
      types(main('application/vnd.ms-word.document.&#109;acro&#x45;nabled.main+xml')),
      NAMES,
      /macro-enabled/,
    ],
    [
      'a VBA project content type',
      types(main(), '<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>'),
      NAMES,
      /macro-enabled/,
    ],
    ['a vbaProject part', types(main()), [...NAMES, 'word/vbaProject.bin'], /VBA project/],
    ['no main part override', types(), NAMES, /not a DOCX document/],
    ['a main part of another type', types(main('application/xml')), NAMES, /not a DOCX document/],
    ['two main part overrides', types(main(), main('application/xml')), NAMES, /not a DOCX document/],
    ['a DTD', `<!DOCTYPE Types [<!ENTITY t "${DOCX_MAIN_TYPE}">]>${types(main('&t;'))}`, NAMES, /DTD/],
  ])('refuses %s', (_label, xml, names, why) => {
    expect(wordPackageProblem(xml, names)).toMatch(why);
  });
});

describe('confirmWordPackage', () => {
  const access = (bytes: Buffer): RandomAccess => ({
    size: bytes.length,
    read: async (position, length) => bytes.subarray(position, position + length),
  });
  const confirmOf = async (zip: Buffer) => {
    try {
      await confirmWordPackage(access(zip), await readZipEntries(access(zip)));
      return 'DOCX';
    } catch (error) {
      if (isMediaError(error)) return error.code;
      throw error;
    }
  };
  const pkg = (contentTypes: string | Buffer, first: { name: string; data: Buffer }[] = []) =>
    makeZip([
      ...first,
      { name: '[Content_Types].xml', data: Buffer.from(contentTypes), deflate: true },
      { name: 'word/document.xml', data: Buffer.from('<w:document/>') },
    ]);

  it('reads the content types wherever they are in the ZIP', async () => {
    expect(await confirmOf(pkg(types(main())))).toBe('DOCX');
    const picture = { name: 'word/media/image1.png', data: Buffer.alloc(1024 * 1024, 0x89) };
    expect(await confirmOf(pkg(types(main('application/vnd.ms-word.document.macroEnabled.main+xml')), [picture]))).toBe(
      'UNSUPPORTED_MEDIA_TYPE',
    );
  });

  it('decodes UTF-16 content types', async () => {
    const utf16 = (text: string) => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
    expect(await confirmOf(pkg(utf16(types(main()))))).toBe('DOCX');
    expect(await confirmOf(pkg(utf16(types(main('application/vnd.ms-word.document.macroEnabled.main+xml')))))).toBe(
      'UNSUPPORTED_MEDIA_TYPE',
    );
  });

  it('refuses content types too large to be real without inflating them', async () => {
    expect(await confirmOf(pkg(types(main(), `<!-- ${'x'.repeat(300 * 1024)} -->`)))).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('knows a WordprocessingML package by its entry names', () => {
    expect(isWordPackage(NAMES)).toBe(true);
    expect(isWordPackage(['[Content_Types].xml', 'xl/workbook.xml'])).toBe(false);
  });
});
