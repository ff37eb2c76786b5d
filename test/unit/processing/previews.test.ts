import sharp from 'sharp';
import { previewDimensions, previewsIfPossible, renderPreviews } from '../../../src/processing/previews';

describe('previews', () => {
  it.each([
    [4000, 3000, 64, 64, 48],
    [3000, 4000, 512, 384, 512],
    [32, 32, 512, 32, 32],
    [10000, 10, 64, 64, 1],
  ] as const)('%d×%d in a %d box is %d×%d', (width, height, box, w, h) => {
    expect(previewDimensions(width, height, box)).toEqual({ width: w, height: h });
  });

  it('renders three WebP previews from one picture', async () => {
    const picture = sharp({ create: { width: 800, height: 600, channels: 3, background: '#884422' } });
    const previews = await renderPreviews(picture, 800, 600);
    expect(previews.map((p) => [p.size, p.width, p.height])).toEqual([
      [64, 64, 48],
      [256, 256, 192],
      [512, 512, 384],
    ]);
    expect((await sharp(previews[2].data).metadata()).format).toBe('webp');
  });

  it('reports previews that fail to render instead of failing', async () => {
    expect(await previewsIfPossible(() => renderPreviews(sharp(Buffer.from('not an image')), 10, 10))).toEqual({
      previews: [],
      previewsFailed: true,
    });
  });
});
