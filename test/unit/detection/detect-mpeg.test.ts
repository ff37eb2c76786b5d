import { isMediaError } from '../../../src/errors';
import { confirm, sniff, SNIFF_BYTES } from '../../../src/detection/detect-type';

/**
 * file-type 21 (the last release for Node 20) takes any MPEG frame sync for MP1/MP2/MP3;
 * the sniffer refuses what release 22 refuses, so the downgrade changes no decision.
 */
async function detect(bytes: Buffer): Promise<string> {
  try {
    const sniffed = await sniff(bytes.subarray(0, SNIFF_BYTES));
    if (sniffed.kind === 'text') sniffed.checker.push(bytes);
    const format = await confirm(sniffed, {
      size: bytes.length,
      read: async (at: number, length: number) => bytes.subarray(at, at + length),
    });
    return `${format.type} ${format.mime}${format.charset ? ` ${format.charset}` : ''}`;
  } catch (error) {
    if (isMediaError(error)) return error.code;
    throw error;
  }
}

const frame = (...header: number[]) => Buffer.concat([Buffer.from(header), Buffer.alloc(SNIFF_BYTES)]);
/** An ID3v2.4 tag of `size` bytes (syncsafe size), then `rest`. */
const id3 = (size: number, rest: Buffer) =>
  Buffer.concat([
    Buffer.from('ID3'),
    Buffer.from([4, 0, 0, (size >> 21) & 0x7f, (size >> 14) & 0x7f, (size >> 7) & 0x7f, size & 0x7f]),
    Buffer.alloc(size),
    rest,
  ]);

describe('MPEG audio frames in the head', () => {
  it.each([
    ['MPEG-1 Layer III, 128 kbit/s, 44.1 kHz', 'audio audio/mpeg', frame(0xff, 0xfb, 0x90, 0x64)],
    ['MPEG-2 Layer III', 'audio audio/mpeg', frame(0xff, 0xf3, 0x90, 0x64)],
    ['the reserved MPEG version', 'UNSUPPORTED_MEDIA_TYPE', frame(0xff, 0xeb, 0x90, 0x64)],
    ['the "bad" bitrate index', 'UNSUPPORTED_MEDIA_TYPE', frame(0xff, 0xfb, 0xf0, 0x64)],
    ['the reserved sampling rate', 'UNSUPPORTED_MEDIA_TYPE', frame(0xff, 0xfb, 0x9c, 0x64)],
    ['an ID3 tag, then a frame', 'audio audio/mpeg', id3(200, frame(0xff, 0xfb, 0x90, 0x64))],
    ['an ID3 tag, then a bad frame', 'UNSUPPORTED_MEDIA_TYPE', id3(200, frame(0xff, 0xfb, 0xf0, 0x64))],
    ['an ID3 tag longer than the head (cover art)', 'audio audio/mpeg', id3(64 * 1024, frame(0xff, 0xfb, 0x90, 0x64))],
  ])('%s is %s', async (_name, expected, bytes) => {
    expect(await detect(bytes)).toBe(expected);
  });

  it('reads UTF-16 LE text with a BOM as text, although its first bytes are an MPEG-1 Layer I header', async () => {
    const text = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('Grüße aus Köln\n'.repeat(20), 'utf16le')]);
    expect(await detect(text)).toBe('document text/plain utf-16');
  });
});
