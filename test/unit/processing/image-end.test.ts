import sharp from 'sharp';
import { endsWithImage, imageEnd } from '../../../src/processing/image/image-end';
import { type ImageProbe, planImage } from '../../../src/processing/image/image-plan';
import { fixture } from '../../support/http';
import { makeZip } from '../../support/zip';

const zip = () => makeZip([{ name: 'run.sh', data: Buffer.from('#!/bin/sh\nid\n') }]);
const picture = () => sharp({ create: { width: 40, height: 30, channels: 4, background: '#ff000080' } });

describe('imageEnd', () => {
  const images: [string, string, () => Promise<Buffer>][] = [
    ['jpg', 'a baseline JPEG', () => picture().jpeg().toBuffer()],
    ['jpg', 'a progressive JPEG', () => picture().jpeg({ progressive: true }).toBuffer()],
    ['jpg', 'a camera JPEG (EXIF with an embedded thumbnail)', async () => fixture('jpeg-exif-gps-nikon-d2h.jpg')],
    ['png', 'a PNG', () => picture().png().toBuffer()],
    ['png', 'a PNG from the corpus', async () => fixture('png-rgba-alpha-yellow-rose.png')],
    ['gif', 'an animated GIF', async () => fixture('gif-animated-throbber.gif')],
    ['gif', 'a GIF', () => picture().gif().toBuffer()],
    ['webp', 'a WebP', async () => fixture('webp-lossy-alpha.webp')],
    ['avif', 'an AVIF', () => picture().avif().toBuffer()],
    ['heic', 'a HEIC', async () => fixture('heic-exif-gps-from-jpeg.heic')],
  ];

  it.each(images)('%s: %s ends where its file ends', async (ext, _label, image) => {
    const bytes = await image();
    expect(imageEnd(bytes, ext)).toBe(bytes.length);
    expect(endsWithImage(bytes, ext)).toBe(true);
  });

  it.each(images)('%s: %s followed by a ZIP ends before the ZIP', async (ext, _label, image) => {
    const bytes = await image();
    const polyglot = Buffer.concat([bytes, zip()]);
    expect(endsWithImage(polyglot, ext)).toBe(false);
    if (!['avif', 'heic'].includes(ext)) expect(imageEnd(polyglot, ext)).toBe(bytes.length);
  });

  it('tells no end for a cut image, an unknown format, or a box running to the end of the file', async () => {
    const jpeg = await picture().jpeg().toBuffer();
    const png = await picture().png().toBuffer();
    expect(imageEnd(jpeg.subarray(0, jpeg.length - 2), 'jpg')).toBeUndefined();
    expect(imageEnd(png.subarray(0, png.length - 4), 'png')).toBeUndefined();
    expect(imageEnd(png, 'tiff')).toBeUndefined();
    const avif = await picture().avif().toBuffer();
    const toTheEnd = Buffer.concat([avif, Buffer.from([0, 0, 0, 0]), Buffer.from('mdat'), zip()]);
    expect(imageEnd(toTheEnd, 'avif')).toBeUndefined();
  });
});

describe('planImage and what follows the image', () => {
  const probe: ImageProbe = {
    format: 'jpeg',
    width: 100,
    height: 80,
    frames: 1,
    hasAlpha: false,
    orientation: 1,
    hasMetadata: false,
    mustConvert: false,
    endsWithImage: true,
  };

  it('may keep an upload whose file ends with the image', () => {
    expect(planImage(probe).mayKeepOriginal).toBe(true);
  });

  it('never keeps an upload with anything after the image', () => {
    expect(planImage({ ...probe, endsWithImage: false }).mayKeepOriginal).toBe(false);
  });
});
