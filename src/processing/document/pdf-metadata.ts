import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MediaError } from '../../errors.js';
import { runTool } from '../run-tool.js';

const TIMEOUT_MS = 60_000;
/** qpdf's JSON of every object without stream data: about the size of the PDF's non-stream part. */
const MAX_JSON_BYTES = 128 * 1024 * 1024;

type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
type Dictionary = { [key: string]: JsonValue };
interface JsonObject {
  value?: JsonValue;
  stream?: { dict: Dictionary; data?: string };
}

/**
 * A copy of the PDF at `path` without what names its author: the document information
 * dictionary (trailer /Info: Author, Creator, Producer, Title, dates…) and every XMP
 * packet (/Metadata of the catalog, of pages, images, fonts), in `workDir`; returns its
 * path. qpdf (Debian's) reads the object graph as JSON (no stream data), then rewrites the
 * file with those entries gone (--update-from-json): objects no longer referenced are not
 * written, nor are earlier revisions of an incrementally updated file. Page content,
 * fonts, images, outlines, forms and attachments are copied as they are (stream data
 * preserved byte for byte); an encrypted file stays encrypted. A PDF qpdf cannot rewrite
 * is CORRUPT_FILE.
 */
export async function pdfWithoutMetadata(path: string, workDir: string, signal: AbortSignal): Promise<string> {
  const json = await runTool('qpdf', ['--json=2', '--json-key=qpdf', '--json-stream-data=none', path], {
    timeoutMs: TIMEOUT_MS,
    signal,
    maxOutputBytes: MAX_JSON_BYTES,
  });
  const [header, objects] = parseQpdfJson(json);
  const update = metadataRemoval(objects);
  const output = join(workDir, 'stored.pdf');
  const updateFile = join(workDir, 'pdf-update.json');
  await writeFile(updateFile, JSON.stringify({ qpdf: [header, update] }), { flag: 'wx', mode: 0o600 });
  // Warnings (exit 3) are repairs qpdf made while reading; the output is whole.
  await runTool(
    'qpdf',
    ['--warning-exit-0', '--no-warn', '--stream-data=preserve', path, `--update-from-json=${updateFile}`, output],
    { timeoutMs: TIMEOUT_MS, signal },
  );
  return output;
}

/**
 * The objects qpdf must change (its JSON v2 update format): the trailer without /Info, the
 * Info dictionary emptied, every dictionary (direct ones inside objects included) without
 * /Metadata, and the XMP streams it pointed to emptied. Emptying the former targets as
 * well covers one referenced from somewhere else too.
 */
export function metadataRemoval(objects: Record<string, JsonObject>): Record<string, JsonObject> {
  const update: Record<string, JsonObject> = {};
  const emptied = new Set<string>();
  for (const [key, object] of Object.entries(objects)) {
    if (object.stream) {
      const dict = withoutMetadata(object.stream.dict, emptied) as Dictionary;
      if (dict !== object.stream.dict) update[key] = { stream: { dict } }; // no data: qpdf keeps the stream's
    } else if (object.value !== undefined) {
      const value = key === 'trailer' ? withoutInfo(object.value, emptied) : object.value;
      const stripped = withoutMetadata(value, emptied);
      if (stripped !== object.value) update[key] = { value: stripped };
    }
  }
  for (const reference of emptied) {
    const key = `obj:${reference}`;
    const target = objects[key];
    if (target?.stream) update[key] = { stream: { dict: {}, data: '' } };
    else if (target && isDictionary(target.value)) update[key] = { value: {} };
  }
  return update;
}

function withoutInfo(trailer: JsonValue, emptied: Set<string>): JsonValue {
  if (!isDictionary(trailer) || !('/Info' in trailer)) return trailer;
  const { '/Info': info, ...rest } = trailer;
  if (typeof info === 'string') emptied.add(info);
  return rest;
}

/** `value` with /Metadata removed from every dictionary in it; the same value when it has none. */
function withoutMetadata(value: JsonValue, emptied: Set<string>): JsonValue {
  if (Array.isArray(value)) {
    const items = value.map((item) => withoutMetadata(item, emptied));
    return items.some((item, i) => item !== value[i]) ? items : value;
  }
  if (!isDictionary(value)) return value;
  let changed = false;
  const result: Dictionary = {};
  for (const [key, item] of Object.entries(value)) {
    if (key === '/Metadata') {
      if (typeof item === 'string' && / R$/.test(item)) emptied.add(item);
      changed = true;
      continue;
    }
    const stripped = withoutMetadata(item, emptied);
    changed ||= stripped !== item;
    result[key] = stripped;
  }
  return changed ? result : value;
}

function isDictionary(value: JsonValue | undefined): value is Dictionary {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseQpdfJson(json: Buffer): [JsonValue, Record<string, JsonObject>] {
  try {
    const { qpdf } = JSON.parse(json.toString('utf8')) as { qpdf: [JsonValue, Record<string, JsonObject>] };
    if (!Array.isArray(qpdf) || !isDictionary(qpdf[1] as JsonValue)) throw new Error('no objects in qpdf JSON');
    return qpdf;
  } catch (error) {
    throw new MediaError('CORRUPT_FILE', 'The PDF could not be read for its metadata', { cause: error });
  }
}
