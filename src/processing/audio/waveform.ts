/** How many peak values the metadata carries for clients to draw their own waveform. */
export const PEAK_COUNT = 100;

/**
 * The loudest sample of each of `count` equal slices of 16-bit mono PCM, scaled so the
 * loudest slice is 1 (silence stays 0).
 */
export function peaks(pcm: Buffer, count = PEAK_COUNT): number[] {
  const samples = Math.floor(pcm.length / 2);
  const raw = Array.from({ length: count }, (_, slice) => {
    const from = Math.floor((slice * samples) / count);
    const to = Math.max(from + 1, Math.floor(((slice + 1) * samples) / count));
    let loudest = 0;
    for (let i = from; i < to && i < samples; i++) loudest = Math.max(loudest, Math.abs(pcm.readInt16LE(i * 2)));
    return loudest;
  });
  const top = Math.max(...raw);
  return raw.map((value) => (top ? Math.round((value / top) * 1000) / 1000 : 0));
}

/** A 512×128 bar picture of the peaks (our own SVG, nothing in it from the file). */
export function waveformSvg(values: number[], width = 512, height = 128): string {
  const bar = width / values.length;
  const bars = values
    .map((value, i) => {
      const h = Math.max(2, value * (height - 8));
      return `<rect x="${(i * bar + bar * 0.15).toFixed(2)}" y="${((height - h) / 2).toFixed(2)}" width="${(bar * 0.7).toFixed(2)}" height="${h.toFixed(2)}" rx="1"/>`;
    })
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="100%" height="100%" fill="#ffffff"/><g fill="#3b6ea8">${bars}</g></svg>`;
}
