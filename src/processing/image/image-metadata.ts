import exifReader from 'exif-reader';

/** The EXIF fields a client may show: camera and time taken, never location. */
export interface CameraInfo {
  camera?: string;
  takenAt?: string;
}

export function cameraInfo(exif: Buffer | undefined): CameraInfo {
  if (!exif) return {};
  let tags: ReturnType<typeof exifReader>;
  try {
    tags = exifReader(exif);
  } catch {
    return {}; // unreadable EXIF is dropped with the rest
  }
  const make = clean(tags.Image?.Make);
  const model = clean(tags.Image?.Model);
  const camera =
    model && make && !model.toLowerCase().startsWith(make.toLowerCase().split(' ')[0])
      ? `${make} ${model}`
      : (model ?? make);
  const taken = tags.Photo?.DateTimeOriginal ?? tags.Image?.DateTime;
  const takenAt = taken instanceof Date && !Number.isNaN(taken.getTime()) ? taken.toISOString() : undefined;
  return { ...(camera ? { camera } : {}), ...(takenAt ? { takenAt } : {}) };
}

function clean(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const text = value.replace(/\0+$/g, '').trim().slice(0, 100);
  return text || undefined;
}
