import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestApp, type TestApp } from '../support/app';
import { fixture, request, upload } from '../support/http';
import { makeZip } from '../support/zip';

/*
 * Personal metadata does not survive in what is stored: each file is made here with an
 * author's name, tags and cover art, uploaded, downloaded and read back with the tools
 * people would use (ffprobe, pdfinfo, unzip), and its content compared with the upload's.
 */

const NAME = 'Jane Quiet-Secret';
const COMPANY = 'Hush Holdings';
const TOOL = 'SecretWriter 9.1';

describe('personal metadata is stripped from what is stored', () => {
  let t: TestApp;
  let token: string;
  let dir: string;
  beforeAll(async () => {
    t = await startTestApp();
    token = await t.token('private-person');
    dir = mkdtempSync(join(tmpdir(), 'media-test-metadata-'));
  });
  afterAll(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });
  afterEach(() => expect(t.tempFiles()).toEqual([]));

  const tool = (command: string, args: string[]) =>
    execFileSync(command, args, { cwd: dir, maxBuffer: 64 * 1024 * 1024 });
  const file = (name: string, data?: Buffer) => {
    const path = join(dir, name);
    if (data) writeFileSync(path, data);
    return path;
  };

  /** Uploads `bytes` as `name`; returns the media and the stored file, whose size and SHA-256 the media must give. */
  async function roundTrip(name: string, bytes: Buffer): Promise<{ media: any; stored: Buffer }> {
    const { status, json } = await upload(t.url, token, { name, bytes });
    expect(status).toBe(201);
    const stored = (await request(`${t.url}/api/v1/media/${json.id}`, { token })).body;
    expect(json).toMatchObject({
      originalSize: bytes.length,
      size: stored.length,
      sha256: createHash('sha256').update(stored).digest('hex'),
    });
    return { media: json, stored };
  }

  function ffprobe(path: string): {
    streams: { codec_type: string; codec_name: string; tags?: Record<string, string> }[];
    format: { duration: string; tags?: Record<string, string> };
  } {
    return JSON.parse(
      tool('ffprobe', ['-v', 'error', '-show_format', '-show_streams', '-of', 'json', path]).toString(),
    );
  }

  /** Every tag ffprobe shows, lower-cased keys, container and streams together. */
  function tagsOf(probed: ReturnType<typeof ffprobe>): Record<string, string> {
    const all: Record<string, string> = {};
    for (const tags of [probed.format.tags, ...probed.streams.map((s) => s.tags)]) {
      for (const [key, value] of Object.entries(tags ?? {})) all[key.toLowerCase()] = value;
    }
    return all;
  }

  describe('audio: remuxed without tags or cover art, not re-encoded', () => {
    const sine = ['-f', 'lavfi', '-i', 'sine=frequency=330:duration=3:sample_rate=44100'];
    const tags = [
      '-metadata',
      'title=Voice memo for the lawyer',
      '-metadata',
      `artist=${NAME}`,
      '-metadata',
      'comment=call me at 555-0199',
    ];
    const withCover = (codec: string[]) => [
      ...sine,
      '-i',
      'cover.jpg',
      '-map',
      '0:a',
      '-map',
      '1:v',
      ...codec,
      '-c:v',
      'copy',
      '-disposition:v',
      'attached_pic',
    ];

    beforeAll(() => {
      tool('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=size=700x700', '-frames:v', '1', 'cover.jpg']);
    });

    it.each([
      [
        'mp3',
        'ID3v2 tags and a 700×700 cover',
        [...withCover(['-c:a', 'libmp3lame', '-b:a', '96k']), '-id3v2_version', '3', '-write_id3v1', '1'],
        'mp3',
      ],
      ['wav', 'RIFF INFO tags', [...sine], 'pcm_s16le'],
      ['m4a', 'iTunes tags and cover art', [...withCover(['-c:a', 'aac', '-b:a', '64k'])], 'aac'],
      ['ogg', 'Vorbis comments', [...sine, '-c:a', 'libvorbis'], 'vorbis'],
    ])('%s with %s', async (ext, _what, args, codec) => {
      const made = file(`memo.${ext}`);
      tool('ffmpeg', ['-v', 'error', '-y', ...args, ...tags, made]);
      const before = ffprobe(made);
      // The file as made carries what must go.
      expect(tagsOf(before)).toMatchObject({ title: 'Voice memo for the lawyer', artist: NAME });
      const bytes = readFileSync(made);
      const { media, stored } = await roundTrip(`memo.${ext}`, bytes);
      expect(media).toMatchObject({ type: 'audio', mimeType: media.originalMimeType, metadata: { codec } });

      const path = file(`stored-memo.${ext}`, stored);
      const after = ffprobe(path);
      const left = tagsOf(after);
      for (const key of ['title', 'artist', 'comment', 'encoder']) expect(left[key]).toBeUndefined();
      expect(JSON.stringify(left)).not.toMatch(/Jane|lawyer|555/);
      expect(stored.includes(NAME)).toBe(false);
      // Only the sound is left: the cover picture is gone, the audio copied as it was.
      expect(after.streams.map((s) => [s.codec_type, s.codec_name])).toEqual([['audio', codec]]);
      expect(Math.abs(Number(after.format.duration) - Number(before.format.duration))).toBeLessThan(0.06);
      tool('ffmpeg', ['-v', 'error', '-xerror', '-i', path, '-f', 'null', '-']);
      const pcm = (p: string) =>
        createHash('sha256')
          .update(tool('ffmpeg', ['-v', 'error', '-i', p, '-map', '0:a', '-f', 's16le', '-']))
          .digest('hex');
      expect(pcm(path)).toBe(pcm(made));
    });
  });

  it('PDF: the Info dictionary and XMP are removed, pages and text kept', async () => {
    const original = file('original.pdf', fixture('pdf-tables-gofpdf.pdf'));
    // Give the fixture an author, a creator tool and an XMP packet naming them (qpdf's JSON update).
    const objects = JSON.parse(
      tool('qpdf', ['--json=2', '--json-key=qpdf', '--json-stream-data=none', original]).toString(),
    ).qpdf;
    const [header, graph] = objects;
    const trailer = graph.trailer.value;
    const root = `obj:${trailer['/Root']}`;
    const info = `obj:${trailer['/Info']}`;
    const next = header.maxobjectid + 1;
    const xmp = [
      '<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">',
      `<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:pdf="http://ns.adobe.com/pdf/1.3/">`,
      `<dc:creator><rdf:Seq><rdf:li>${NAME}</rdf:li></rdf:Seq></dc:creator><xmp:CreatorTool>${TOOL}</xmp:CreatorTool><pdf:Producer>${COMPANY} PDF</pdf:Producer>`,
      '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>',
    ].join('');
    const update = {
      [info]: {
        value: { ...graph[info].value, '/Author': `u:${NAME}`, '/Creator': `u:${TOOL}`, '/Title': 'u:Salaries 2024' },
      },
      [root]: { value: { ...graph[root].value, '/Metadata': `${next} 0 R` } },
      [`obj:${next} 0 R`]: {
        stream: { dict: { '/Type': '/Metadata', '/Subtype': '/XML' }, data: Buffer.from(xmp).toString('base64') },
      },
    };
    writeFileSync(file('update.json'), JSON.stringify({ qpdf: [header, update] }));
    const authored = file('authored.pdf');
    tool('qpdf', [original, '--update-from-json=update.json', authored]);
    expect(tool('pdfinfo', [authored]).toString()).toContain(`Author:          ${NAME}`);
    expect(tool('pdfinfo', ['-meta', authored]).toString()).toContain(TOOL);

    const { media, stored } = await roundTrip('salaries.pdf', readFileSync(authored));
    expect(media).toMatchObject({ mimeType: 'application/pdf', metadata: { pages: 3 } });
    const path = file('stored.pdf', stored);
    const described = tool('pdfinfo', [path]).toString();
    expect(described).toMatch(/^Pages:\s+3$/m);
    expect(described).not.toMatch(/^(Author|Creator|Producer|Title|CreationDate|ModDate):/m);
    expect(described).toMatch(/^Metadata Stream:\s+no$/m);
    expect(tool('pdfinfo', ['-meta', path]).toString().trim()).toBe('');
    for (const secret of [NAME, TOOL, COMPANY, 'Salaries 2024']) expect(stored.includes(secret)).toBe(false);
    // The content is the upload's: the same text on the same pages.
    expect(tool('pdftotext', ['-layout', path, '-']).toString()).toBe(
      tool('pdftotext', ['-layout', authored, '-']).toString(),
    );
    tool('qpdf', ['--check', path]);
  });

  it('DOCX: core, extended and custom properties are emptied, every other entry kept byte for byte', async () => {
    const source = file('source.docx', fixture('docx-python-docx-default.docx'));
    const names = tool('unzip', ['-Z1', source]).toString().trim().split('\n');
    const entry = (name: string) => tool('unzip', ['-p', source, name.replace(/\[/g, '[[]')]);
    const text = 'Quarterly numbers for the board';
    const parts: Record<string, Buffer> = Object.fromEntries(names.map((name) => [name, entry(name)]));
    parts['word/document.xml'] = Buffer.from(
      parts['word/document.xml'].toString().replace('<w:body>', `<w:body><w:p><w:r><w:t>${text}</w:t></w:r></w:p>`),
    );
    parts['docProps/core.xml'] = Buffer.from(
      parts['docProps/core.xml']
        .toString()
        .replace('<dc:creator>python-docx</dc:creator>', `<dc:creator>${NAME}</dc:creator>`)
        .replace('<cp:lastModifiedBy/>', '<cp:lastModifiedBy>John Hidden</cp:lastModifiedBy>')
        .replace('<dc:title/>', '<dc:title>Layoff plan</dc:title>'),
    );
    parts['docProps/app.xml'] = Buffer.from(
      parts['docProps/app.xml']
        .toString()
        .replace('<Company/>', `<Company>${COMPANY}</Company>`)
        .replace('<Manager/>', '<Manager>Boss Person</Manager>')
        .replace('<Template>Normal.dotm</Template>', '<Template>C:\\Users\\jquiet\\Templates\\Secret.dotm</Template>'),
    );
    // A custom properties part, declared as Word declares it.
    parts['docProps/custom.xml'] = Buffer.from(
      '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-properties" xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"><property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="2" name="Reviewer"><vt:lpwstr>John Hidden</vt:lpwstr></property></Properties>',
    );
    parts['_rels/.rels'] = Buffer.from(
      parts['_rels/.rels']
        .toString()
        .replace(
          '</Relationships>',
          '<Relationship Id="rId9" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/custom-properties" Target="docProps/custom.xml"/></Relationships>',
        ),
    );
    parts['[Content_Types].xml'] = Buffer.from(
      parts['[Content_Types].xml']
        .toString()
        .replace(
          '</Types>',
          '<Override PartName="/docProps/custom.xml" ContentType="application/vnd.openxmlformats-officedocument.custom-properties+xml"/></Types>',
        ),
    );
    const order = [...names, 'docProps/custom.xml'];
    const authored = file('authored.docx', makeZip(order.map((name) => ({ name, data: parts[name], deflate: true }))));
    expect(tool('unzip', ['-p', authored, 'docProps/core.xml']).toString()).toContain(NAME);

    const { media, stored } = await roundTrip('plan.docx', readFileSync(authored));
    expect(media).toMatchObject({
      mimeType: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
      metadata: { pages: 1 },
    });
    expect(media.previews).toHaveLength(3);
    const path = file('stored.docx', stored);
    tool('unzip', ['-tqq', path]);
    expect(tool('unzip', ['-Z1', path]).toString().trim().split('\n')).toEqual(order);
    const storedEntry = (name: string) => tool('unzip', ['-p', path, name.replace(/\[/g, '[[]')]);
    const core = storedEntry('docProps/core.xml').toString();
    const app = storedEntry('docProps/app.xml').toString();
    const custom = storedEntry('docProps/custom.xml').toString();
    expect(core).toMatch(/<cp:coreProperties [^>]*\/>$/);
    expect(app).toMatch(
      /<Properties xmlns="http:\/\/schemas.openxmlformats.org\/officeDocument\/2006\/extended-properties"[^>]*\/>$/,
    );
    expect(custom).toMatch(
      /<Properties xmlns="http:\/\/schemas.openxmlformats.org\/officeDocument\/2006\/custom-properties"[^>]*\/>$/,
    );
    for (const secret of [NAME, 'John Hidden', COMPANY, 'Boss Person', 'jquiet', 'Layoff plan']) {
      expect(`${core}${app}${custom}`).not.toContain(secret);
    }
    // Everything else is the upload's, the text of the document included.
    for (const name of order.filter((n) => !n.startsWith('docProps/') || n === 'docProps/thumbnail.jpeg')) {
      expect(storedEntry(name).equals(parts[name])).toBe(true);
    }
    expect(storedEntry('word/document.xml').toString()).toContain(text);
  });

  it('DOC files are stored as uploaded (their OLE properties are not rewritten)', async () => {
    const doc = fixture('doc-word97.doc');
    const { stored } = await roundTrip('old.doc', doc);
    expect(stored.equals(doc)).toBe(true);
  });
});
