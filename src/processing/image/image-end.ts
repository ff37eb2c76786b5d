/*
 * Where an image file's own structure ends. Anything after it (a ZIP, a script, a second
 * file) is not part of the image: an upload with such a tail is never stored as it came.
 */

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * The offset just past the end of the image in `bytes` of format `ext` (as detected:
 * jpg, png, gif, webp, avif, heic), or undefined when its structure does not reach a proper
 * end or the format's end cannot be told: JPEG EOI, PNG IEND, GIF trailer, the RIFF size
 * of WebP, the last top-level box of AVIF/HEIC.
 */
export function imageEnd(bytes: Buffer, ext: string): number | undefined {
  switch (ext) {
    case 'jpg':
      return jpegEnd(bytes);
    case 'png':
      return pngEnd(bytes);
    case 'gif':
      return gifEnd(bytes);
    case 'webp':
      return bytes.toString('latin1', 0, 4) === 'RIFF' && bytes.length >= 12 ? 8 + bytes.readUInt32LE(4) : undefined;
    case 'avif':
    case 'heic':
      return isoBoxesEnd(bytes);
    default:
      return undefined;
  }
}

/** True when the image's structure ends exactly where the file does. */
export function endsWithImage(bytes: Buffer, ext: string): boolean {
  return imageEnd(bytes, ext) === bytes.length;
}

/** JPEG (ITU T.81 B.1): marker segments by their lengths, entropy-coded data up to the next marker, until EOI. */
function jpegEnd(bytes: Buffer): number | undefined {
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8) return undefined;
  let at = 2;
  while (at + 2 <= bytes.length) {
    if (bytes[at] !== 0xff) return undefined;
    const marker = bytes[at + 1];
    if (marker === 0xd9) return at + 2; // EOI
    if (marker === 0xff)
      at += 1; // fill byte
    else if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7))
      at += 2; // TEM, RSTn: no length
    else if (at + 4 > bytes.length) return undefined;
    else {
      at += 2 + bytes.readUInt16BE(at + 2);
      if (marker === 0xda) at = nextMarker(bytes, at); // SOS: scan data follows the header
    }
  }
  return undefined;
}

/** The first marker after entropy-coded data from `at` (FF00 is a stuffed byte, FFD0-FFD7 a restart). */
function nextMarker(bytes: Buffer, at: number): number {
  for (let ff = bytes.indexOf(0xff, at); ff >= 0 && ff + 1 < bytes.length; ff = bytes.indexOf(0xff, ff + 1)) {
    const next = bytes[ff + 1];
    if (next !== 0x00 && next !== 0xff && !(next >= 0xd0 && next <= 0xd7)) return ff;
  }
  return bytes.length;
}

/** PNG (ISO 15948 §5.3): chunks by their lengths until IEND and its CRC. */
function pngEnd(bytes: Buffer): number | undefined {
  if (!bytes.subarray(0, 8).equals(PNG_SIGNATURE)) return undefined;
  for (let at = 8; at + 12 <= bytes.length;) {
    const type = bytes.toString('latin1', at + 4, at + 8);
    at += 12 + bytes.readUInt32BE(at);
    if (type === 'IEND') return at <= bytes.length ? at : undefined;
  }
  return undefined;
}

/** GIF89a: screen descriptor and colour table, then extensions and images (sub-blocks) until the 0x3B trailer. */
function gifEnd(bytes: Buffer): number | undefined {
  if (!/^GIF8[79]a$/.test(bytes.toString('latin1', 0, 6)) || bytes.length < 13) return undefined;
  let at = 13 + colourTableBytes(bytes[10]);
  while (at < bytes.length) {
    const block = bytes[at];
    if (block === 0x3b) return at + 1;
    if (block === 0x21) at = afterSubBlocks(bytes, at + 2);
    else if (block === 0x2c && at + 10 <= bytes.length)
      at = afterSubBlocks(bytes, at + 10 + colourTableBytes(bytes[at + 9]) + 1);
    else return undefined;
  }
  return undefined;
}

/** Size of the colour table a GIF descriptor's packed field announces. */
function colourTableBytes(packed: number): number {
  return packed & 0x80 ? 3 * (2 << (packed & 7)) : 0;
}

/** Past a chain of GIF data sub-blocks (a length byte, then that many bytes; 0 ends the chain). */
function afterSubBlocks(bytes: Buffer, at: number): number {
  while (at < bytes.length && bytes[at] !== 0) at += bytes[at] + 1;
  return at + 1;
}

/** ISO BMFF (ISO 14496-12 §4.2): top-level boxes, starting with ftyp, that tile the file exactly. */
function isoBoxesEnd(bytes: Buffer): number | undefined {
  if (bytes.toString('latin1', 4, 8) !== 'ftyp') return undefined;
  let at = 0;
  while (at + 8 <= bytes.length) {
    let size = bytes.readUInt32BE(at);
    if (size === 1 && at + 16 <= bytes.length) size = Number(bytes.readBigUInt64BE(at + 8));
    if (size < 8) return undefined; // 0 ("to the end of the file") tells no end
    at += size;
  }
  return at === bytes.length ? at : undefined;
}
