import { confirm, sniff, SNIFF_BYTES, type Sniffed } from '../../../src/detection/detect-type';
import { isMediaError } from '../../../src/errors';
import { fixture } from '../../support/http';

/** What the upload stream does: every byte goes to the text checker of a text candidate. */
function feed(sniffed: Sniffed, bytes: Buffer): void {
  if (sniffed.kind === 'text') sniffed.checker.push(bytes);
  if (sniffed.kind === 'format') sniffed.text?.push(bytes);
}

/** What the whole pipeline decides for these bytes: the format, or the error code. */
async function detect(bytes: Buffer): Promise<string> {
  try {
    const sniffed = await sniff(bytes.subarray(0, SNIFF_BYTES));
    feed(sniffed, bytes);
    const file = {
      size: bytes.length,
      read: async (position: number, length: number) => bytes.subarray(position, position + length),
    };
    const format = await confirm(sniffed, file);
    return `${format.type} ${format.mime}`;
  } catch (error) {
    if (isMediaError(error)) return error.code;
    throw error;
  }
}

async function detectCharset(bytes: Buffer): Promise<string | undefined> {
  const sniffed = await sniff(bytes.subarray(0, SNIFF_BYTES));
  feed(sniffed, bytes);
  return (await confirm(sniffed, { size: bytes.length, read: async (p, n) => bytes.subarray(p, p + n) })).charset;
}

const bytes = (...parts: (string | number[] | Buffer)[]) =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));
const u32 = (n: number, le = false) => {
  const b = Buffer.alloc(4);
  if (le) b.writeUInt32LE(n);
  else b.writeUInt32BE(n);
  return b;
};
const EBML = (docType: string) =>
  bytes(
    [
      0x1a,
      0x45,
      0xdf,
      0xa3,
      0x80 + 19 + docType.length,
      0x42,
      0x86,
      0x81,
      1,
      0x42,
      0xf7,
      0x81,
      1,
      0x42,
      0xf2,
      0x81,
      4,
      0x42,
      0xf3,
      0x81,
      8,
      0x42,
      0x82,
      0x80 + docType.length,
    ],
    docType,
    [0x42, 0x87, 0x81, 4, 0x42, 0x85, 0x81, 2],
  );

describe('text notes that start like a signature', () => {
  const TXT = 'document text/plain';
  it.each([
    ['BMW service notes\n', TXT],
    ['MZ-5 mazda parts list\n', TXT],
    ['#!AMR is the codec name\n', TXT],
    ["8BPS files are Photoshop's\n", TXT],
    ['fLaC is spelt with a capital L\n', TXT],
    ['-----BEGIN PGP MESSAGE-----\nhQEMA9\n-----END PGP MESSAGE-----\n', TXT],
    ['ID3 tags are the MP3 metadata\n', TXT],
    ['GIF87a was the first GIF version\n', TXT],
    ['%PDF files: read the spec\n', TXT],
    ['%PDF-1.7 is the version we use\n', TXT],
    ['Rar! said the pirate\n', TXT],
    ['OggS are what ogg pages start with\n', TXT],
    ['RIFF is a container, WAVE a kind of it\n', TXT],
  ])('%j is text', async (note, expected) => {
    expect(await detect(Buffer.from(note))).toBe(expected);
  });

  it('keeps a PDF written all in ASCII a PDF', async () => {
    const pdf = [
      '%PDF-1.4',
      '1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj',
      '2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj',
      'trailer << /Root 1 0 R >>',
      '%%EOF',
      '',
    ].join('\n');
    expect(await detect(Buffer.from(pdf))).toBe('document application/pdf');
  });

  it('keeps binary files that start with the same signatures what they are, or refused', async () => {
    expect(await detect(fixture('gif-animated-throbber.gif'))).toBe('image image/gif');
    expect(await detect(Buffer.concat([Buffer.from('MZ'), Buffer.alloc(200)]))).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(await detect(Buffer.concat([Buffer.from('fLaC'), Buffer.from([0, 0, 0, 0x22]), Buffer.alloc(40)]))).toBe(
      'UNSUPPORTED_MEDIA_TYPE',
    );
  });
});

describe('type detection from bytes', () => {
  // Hand-built headers for the formats the corpus lacks: they check the mapping of what
  // the sniffer reports (structure is decoded by the processing stage, not here).
  it.each([
    [
      'AVI',
      bytes('RIFF', u32(1000, true), 'AVI LIST', u32(100, true), 'hdrlavih', Buffer.alloc(64)),
      'video video/x-msvideo',
    ],
    ['MOV', bytes(u32(20), 'ftypqt  ', u32(0x200), 'qt  ', u32(8), 'moov'), 'video video/quicktime'],
    ['WebM', EBML('webm'), 'video video/webm'],
    ['AVIF', bytes(u32(28), 'ftypavif', u32(0), 'avifmif1miaf', u32(8), 'meta'), 'image image/avif'],
    ['MP3', bytes('ID3', [4, 0, 0, 0, 0, 0, 0], [0xff, 0xfb, 0x90, 0x64], Buffer.alloc(400)), 'audio audio/mpeg'],
    ['AAC (ADTS)', bytes([0xff, 0xf1, 0x50, 0x80, 0x02, 0x1f, 0xfc], Buffer.alloc(200)), 'audio audio/aac'],
    [
      'Ogg Opus',
      bytes('OggS', [0, 2], Buffer.alloc(20), [1, 19], 'OpusHead', [1, 1, 0x38, 1, 0x80, 0xbb, 0, 0, 0, 0, 0]),
      'audio audio/ogg',
    ],
    ['Matroska that is not WebM', EBML('matroska'), 'UNSUPPORTED_MEDIA_TYPE'],
  ])('a %s header is %s', async (_name, head, expected) => {
    expect(await detect(Buffer.concat([head, Buffer.alloc(4100)]))).toBe(expected);
  });

  it.each([
    ['jpeg-exif-gps-nikon-d2h.jpg', 'image image/jpeg'],
    ['png-rgba-alpha-yellow-rose.png', 'image image/png'],
    ['webp-lossy-alpha.webp', 'image image/webp'],
    ['heic-exif-gps-from-jpeg.heic', 'image image/heic'],
    ['gif-animated-throbber.gif', 'image image/gif'],
    ['mp4-h264-aac.mp4', 'video video/mp4'],
    ['m4a-aac-from-mp4.m4a', 'audio audio/mp4'],
    ['ogg-vorbis-complete.ogg', 'audio audio/ogg'],
    ['wav-pcm16-48k-mono.wav', 'audio audio/wav'],
    ['pdf-tables-gofpdf.pdf', 'document application/pdf'],
    [
      'docx-python-docx-default.docx',
      'document application/vnd.openxmlformats-officedocument.wordprocessingml.document',
    ],
    ['doc-word97.doc', 'document application/msword'],
    ['txt-utf8-demo.txt', 'document text/plain'],
    ['zip-html-pages.zip', 'archive application/zip'],
    ['rar-v4.rar', 'archive application/vnd.rar'],
  ])('%s is %s', async (name, expected) => {
    expect(await detect(fixture(name))).toBe(expected);
  });

  it('refuses HTML, SVG and XML whatever they are named, as 415', async () => {
    for (const text of [
      '<!DOCTYPE html><html><body>x</body></html>',
      '  <html><script>alert(1)</script>',
      '<svg xmlns="http://www.w3.org/2000/svg"/>',
      '<?xml version="1.0"?><a/>',
      '\uFEFF<script>x</script>',
    ]) {
      expect(await detect(Buffer.from(text))).toBe('UNSUPPORTED_MEDIA_TYPE');
    }
  });

  it('refuses executables and unknown binary as 415', async () => {
    const elf = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]), Buffer.alloc(120)]);
    const pe = Buffer.concat([
      Buffer.from('MZ'),
      Buffer.alloc(0x3a),
      Buffer.from([0x40, 0, 0, 0]),
      Buffer.from('PE\0\0'),
      Buffer.alloc(200),
    ]);
    expect(await detect(elf)).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(await detect(pe)).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(await detect(Buffer.from([0, 1, 2, 3, 250, 251, 252, 0, 0, 7]))).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('recognises text by content: UTF-16 with a BOM, UTF-8 with a BOM; binary past the head is refused', async () => {
    expect(
      await detectCharset(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('héllo wörld\n', 'utf16le')])),
    ).toBe('utf-16');
    expect(await detectCharset(Buffer.from('\uFEFFplain text with BOM\n'))).toBe('utf-8');
    const lateBinary = Buffer.concat([Buffer.alloc(10_000, 'a'), Buffer.from([0, 1, 2])]);
    expect(await detect(lateBinary)).toBe('UNSUPPORTED_MEDIA_TYPE');
    const badUtf8 = Buffer.concat([Buffer.alloc(5000, 'a'), Buffer.from([0xc3, 0x28])]);
    expect(await detect(badUtf8)).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('tells a Word OLE file from another OLE file by its WordDocument stream', async () => {
    const doc = fixture('doc-word97.doc');
    const name = Buffer.from('WordDocument', 'utf16le');
    const renamed = Buffer.from(doc);
    const at = renamed.indexOf(name);
    expect(at).toBeGreaterThan(0);
    Buffer.from('WorkBook\0\0\0\0', 'utf16le').copy(renamed, at);
    expect(await detect(renamed)).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('reports a ZIP or OLE file whose directory does not decode as 422 CORRUPT_FILE', async () => {
    const zip = fixture('zip-html-pages.zip');
    expect(await detect(zip.subarray(0, zip.length - 30))).toBe('CORRUPT_FILE');
    const doc = fixture('doc-word97.doc');
    expect(await detect(doc.subarray(0, 1024))).toBe('CORRUPT_FILE');
  });

  it('does not trust a ZIP that only claims to be DOCX in its first entries', async () => {
    const docx = fixture('docx-python-docx-default.docx');
    expect(await detect(docx)).toMatch(/wordprocessingml/);
    // Rename word/document.xml in the central directory: it is then an ordinary ZIP.
    const renamed = Buffer.from(docx);
    let at = -1;
    while ((at = renamed.indexOf('word/document.xml', at + 1)) >= 0) Buffer.from('word/documenx.xml').copy(renamed, at);
    expect(await detect(renamed)).toBe('archive application/zip');
  });
});

describe('what a refusal says', () => {
  it('names the detected format and the supported ones (Matroska)', async () => {
    const mkv = Buffer.concat([
      Buffer.from([0x1a, 0x45, 0xdf, 0xa3, 0x93, 0x42, 0x82, 0x88]),
      Buffer.from('matroska'),
      Buffer.alloc(64),
    ]);
    const sniffed = sniff(mkv).catch((error: Error) => error.message);
    expect(await sniffed).toMatch(
      /^The file is MKV \(video\/matroska\), which is not supported; supported formats: JPEG, PNG, .*MP4.*ZIP, DOCX, DOC, TXT$/,
    );
  });
});
