import { posix } from 'node:path';
import { crc32, deflateRawSync } from 'node:zlib';
import { MediaError } from '../../errors.js';
import { type RandomAccess, readExactly } from '../../detection/random-access.js';
import { damagedZip, readZipEntries, type ZipEntry } from '../../detection/zip-directory.js';
import { unescapeXml } from '../../detection/word-package.js';
import { locateEntryData, readEntry } from '../../detection/zip-entry.js';

/*
 * A DOCX without its document properties: the parts an OPC package's root relationships
 * name as core properties (docProps/core.xml: creator, last modified by, dates, title,
 * keywords…), extended properties (docProps/app.xml: company, manager, template path,
 * application, editing time) and custom properties (docProps/custom.xml) are replaced by
 * empty ones of the same root element and namespaces. Every other entry is copied as it is
 * stored (its compressed bytes untouched); the entries' timestamps become 1980-01-01 as
 * Word writes them, and extra fields and comments are not carried over.
 */

type PropertyKind = 'core' | 'app' | 'custom';

/** The usual places, for a package whose relationships do not say (or cannot be read). */
const DEFAULT_PARTS: Record<string, PropertyKind> = {
  'docprops/core.xml': 'core',
  'docprops/app.xml': 'app',
  'docprops/custom.xml': 'custom',
};

const EMPTY: Record<PropertyKind, { element: string; namespaces: string }> = {
  core: {
    element: 'cp:coreProperties',
    namespaces:
      ' xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" xmlns:dcmitype="http://purl.org/dc/dcmitype/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"',
  },
  app: {
    element: 'Properties',
    namespaces:
      ' xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties" xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"',
  },
  custom: {
    element: 'Properties',
    namespaces:
      ' xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-properties" xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"',
  },
};
const ROOT_NAMES: Record<PropertyKind, string> = { core: 'coreProperties', app: 'Properties', custom: 'Properties' };

const ROOT_RELATIONSHIPS = '_rels/.rels';
const MAX_XML_BYTES = 1024 * 1024;
const LOCAL_HEADER = 0x04034b50;
const CENTRAL_ENTRY = 0x02014b50;
const DATA_DESCRIPTOR = 0x08074b50;
const ZIP64_EOCD = 0x06064b50;
const ZIP64_LOCATOR = 0x07064b50;
const EOCD = 0x06054b50;
const FLAG_DESCRIPTOR = 0x0008;
const FLAG_UTF8 = 0x0800;
const DEFLATED = 8;
/** 1980-01-01 00:00, the earliest DOS date (Word's entries all carry it). */
const DOS_DATE = (0 << 9) | (1 << 5) | 1;
const DOS_TIME = 0;
const MAX_32 = 0xffffffff;

/** The DOCX in `file` with its core, extended and custom properties emptied (see above). */
export async function docxWithoutProperties(file: RandomAccess): Promise<Buffer> {
  const entries = await readZipEntries(file);
  const properties = await propertyParts(file, entries);
  const out: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  let copiedBytes = 0;
  for (const entry of entries) {
    const kind = properties.get(entry.name.toLowerCase());
    if (!kind) {
      copiedBytes += entry.compressedSize;
      // Entries pointing at the same bytes would be copied once each: never more than the file.
      if (copiedBytes > file.size) throw damagedZip('entries overlap');
    }
    const written = kind ? await emptied(file, entry, kind) : await copied(file, entry);
    if (offset > MAX_32 - 1 || written.compressedSize > MAX_32 - 1 || written.uncompressedSize > MAX_32 - 1) {
      throw new MediaError('FILE_TOO_LARGE', 'The document is too large to rewrite');
    }
    const local = Buffer.alloc(30);
    local.writeUInt32LE(LOCAL_HEADER, 0);
    local.writeUInt16LE(written.versionNeeded, 4);
    local.writeUInt16LE(written.flags, 6);
    local.writeUInt16LE(written.method, 8);
    local.writeUInt16LE(written.time, 10);
    local.writeUInt16LE(written.date, 12);
    if (!(written.flags & FLAG_DESCRIPTOR)) {
      local.writeUInt32LE(written.crc32, 14);
      local.writeUInt32LE(written.compressedSize, 18);
      local.writeUInt32LE(written.uncompressedSize, 22);
    }
    local.writeUInt16LE(entry.nameBytes.length, 26);
    out.push(local, entry.nameBytes, written.data);
    const headerOffset = offset;
    offset += local.length + entry.nameBytes.length + written.data.length;
    if (written.flags & FLAG_DESCRIPTOR) {
      const descriptor = Buffer.alloc(16);
      descriptor.writeUInt32LE(DATA_DESCRIPTOR, 0);
      descriptor.writeUInt32LE(written.crc32, 4);
      descriptor.writeUInt32LE(written.compressedSize, 8);
      descriptor.writeUInt32LE(written.uncompressedSize, 12);
      out.push(descriptor);
      offset += descriptor.length;
    }
    const record = Buffer.alloc(46);
    record.writeUInt32LE(CENTRAL_ENTRY, 0);
    record.writeUInt16LE(20, 4); // made by MS-DOS, 2.0: no Unix owner or mode carried
    record.writeUInt16LE(written.versionNeeded, 6);
    record.writeUInt16LE(written.flags, 8);
    record.writeUInt16LE(written.method, 10);
    record.writeUInt16LE(written.time, 12);
    record.writeUInt16LE(written.date, 14);
    record.writeUInt32LE(written.crc32, 16);
    record.writeUInt32LE(written.compressedSize, 20);
    record.writeUInt32LE(written.uncompressedSize, 24);
    record.writeUInt16LE(entry.nameBytes.length, 28);
    record.writeUInt32LE(headerOffset, 42);
    central.push(record, entry.nameBytes);
  }
  const directory = Buffer.concat(central);
  if (offset > MAX_32 - 1 || directory.length > MAX_32 - 1)
    throw new MediaError('FILE_TOO_LARGE', 'The document is too large to rewrite');
  return Buffer.concat([...out, directory, ...endRecords(entries.length, directory.length, offset)]);
}

interface WrittenEntry {
  data: Buffer;
  versionNeeded: number;
  flags: number;
  method: number;
  time: number;
  date: number;
  crc32: number;
  compressedSize: number;
  uncompressedSize: number;
}

/** An entry's stored bytes as they are; only an encrypted one keeps its timestamp (its check byte may be the time's). */
async function copied(file: RandomAccess, entry: ZipEntry): Promise<WrittenEntry> {
  const start = await locateEntryData(file, entry);
  const header = await readExactly(file, entry.offset, 30);
  const data = await readExactly(file, start, entry.compressedSize);
  const flags = entry.encrypted ? entry.flags : entry.flags & ~FLAG_DESCRIPTOR;
  return {
    data,
    versionNeeded: header.readUInt16LE(4),
    flags,
    method: entry.method,
    time: entry.encrypted ? header.readUInt16LE(10) : DOS_TIME,
    date: entry.encrypted ? header.readUInt16LE(12) : DOS_DATE,
    crc32: entry.crc32,
    compressedSize: entry.compressedSize,
    uncompressedSize: entry.uncompressedSize,
  };
}

async function emptied(file: RandomAccess, entry: ZipEntry, kind: PropertyKind): Promise<WrittenEntry> {
  const original = await readEntry(file, entry, MAX_XML_BYTES, () =>
    damagedZip('a properties part is too large'),
  ).catch(() => undefined);
  const xml = Buffer.from(emptyProperties(kind, original && decodeXml(original)), 'utf8');
  const data = deflateRawSync(xml);
  return {
    data,
    versionNeeded: 20,
    flags: entry.flags & FLAG_UTF8,
    method: DEFLATED,
    time: DOS_TIME,
    date: DOS_DATE,
    crc32: crc32(xml),
    compressedSize: data.length,
    uncompressedSize: xml.length,
  };
}

/**
 * An empty properties part: the original's root element with only its namespace
 * declarations (a Strict package keeps its namespaces), or the Transitional one when the
 * original cannot be read or its root is not the expected element.
 */
export function emptyProperties(kind: PropertyKind, original?: string): string {
  const declaration = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n';
  const root = original === undefined ? undefined : rootElement(original);
  const expected = root && root.name.split(':').pop() === ROOT_NAMES[kind];
  const prefix = root?.name.includes(':') ? root.name.split(':')[0] : undefined;
  const declared =
    root &&
    (prefix === undefined
      ? root.namespaces.some(([name]) => name === 'xmlns')
      : root.namespaces.some(([name]) => name === `xmlns:${prefix}`));
  if (!root || !expected || !declared) return `${declaration}<${EMPTY[kind].element}${EMPTY[kind].namespaces}/>`;
  return `${declaration}<${root.name}${root.namespaces.map(([name, value]) => ` ${name}=${value}`).join('')}/>`;
}

/** The first element's name and its xmlns attributes (quoted values as written), after the prolog; none with a DTD. */
function rootElement(xml: string): { name: string; namespaces: [string, string][] } | undefined {
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) return undefined;
  const prolog = xml.replace(/^\uFEFF?(\s*(<\?[\s\S]*?\?>|<!--[\s\S]*?-->))*\s*/, '');
  const tag =
    /^<([A-Za-z_][\w.-]*(?::[A-Za-z_][\w.-]*)?)((?:\s+[A-Za-z_][\w.:-]*\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*\/?>/.exec(
      prolog,
    );
  if (!tag) return undefined;
  const namespaces: [string, string][] = [];
  for (const [, name, value] of tag[2].matchAll(/([A-Za-z_][\w.:-]*)\s*=\s*("[^"<]*"|'[^'<]*')/g)) {
    if (name === 'xmlns' || name.startsWith('xmlns:')) namespaces.push([name, value]);
  }
  return { name: tag[1], namespaces };
}

/**
 * Where the properties parts are (lower-cased entry names): the targets of the root
 * relationships of the three property types, and the usual docProps/ names besides.
 */
async function propertyParts(file: RandomAccess, entries: ZipEntry[]): Promise<Map<string, PropertyKind>> {
  const parts = new Map(Object.entries(DEFAULT_PARTS));
  const rels = entries.filter((entry) => entry.name.toLowerCase() === ROOT_RELATIONSHIPS);
  if (rels.length !== 1) return parts;
  const xml = await readEntry(file, rels[0], MAX_XML_BYTES, () =>
    damagedZip('the relationships part is too large'),
  ).catch(() => undefined);
  if (!xml) return parts;
  for (const [, attributes] of decodeXml(xml).matchAll(/<(?:[\w.-]+:)?Relationship\b([^>]*)>/g)) {
    const attribute = (name: string) => new RegExp(`\\b${name}\\s*=\\s*("([^"]*)"|'([^']*)')`).exec(attributes);
    const type = attribute('Type');
    const target = attribute('Target');
    if (!type || !target || /External/i.test(attribute('TargetMode')?.[1] ?? '')) continue;
    const kind = propertyKind(type[2] ?? type[3]);
    const name = partName(unescapeXml(target[2] ?? target[3]));
    if (kind && name) parts.set(name.toLowerCase(), kind);
  }
  return parts;
}

function propertyKind(type: string): PropertyKind | undefined {
  if (/\/core-properties$/i.test(type)) return 'core';
  if (/\/extended-?properties$/i.test(type)) return 'app';
  if (/\/custom-?properties$/i.test(type)) return 'custom';
  return undefined;
}

/** A root relationship's target as a ZIP entry name (relative to the package root, or absolute). */
function partName(target: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(target);
  } catch {
    return undefined;
  }
  const name = posix.normalize(`/${decoded}`).slice(1);
  return name && !name.startsWith('..') ? name : undefined;
}

/** End of central directory, preceded by the ZIP64 record and locator when there are too many entries for 16 bits. */
function endRecords(count: number, directoryLength: number, directoryOffset: number): Buffer[] {
  const end = Buffer.alloc(22);
  end.writeUInt32LE(EOCD, 0);
  end.writeUInt32LE(directoryLength, 12);
  end.writeUInt32LE(directoryOffset, 16);
  if (count < 0xffff) {
    end.writeUInt16LE(count, 8);
    end.writeUInt16LE(count, 10);
    return [end];
  }
  end.writeUInt16LE(0xffff, 8);
  end.writeUInt16LE(0xffff, 10);
  const record = Buffer.alloc(56);
  record.writeUInt32LE(ZIP64_EOCD, 0);
  record.writeBigUInt64LE(44n, 4);
  record.writeUInt16LE(45, 12);
  record.writeUInt16LE(45, 14);
  record.writeBigUInt64LE(BigInt(count), 24);
  record.writeBigUInt64LE(BigInt(count), 32);
  record.writeBigUInt64LE(BigInt(directoryLength), 40);
  record.writeBigUInt64LE(BigInt(directoryOffset), 48);
  const locator = Buffer.alloc(20);
  locator.writeUInt32LE(ZIP64_LOCATOR, 0);
  locator.writeBigUInt64LE(BigInt(directoryOffset + directoryLength), 8);
  locator.writeUInt32LE(1, 16);
  return [record, locator, end];
}

/** XML text in UTF-8 or, with a byte-order mark, UTF-16 (XML 1.0 §4.3.3). */
function decodeXml(bytes: Buffer): string {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return bytes.toString('utf16le', 2);
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return Buffer.from(bytes.subarray(2)).swap16().toString('utf16le');
  return bytes.toString('utf8');
}
