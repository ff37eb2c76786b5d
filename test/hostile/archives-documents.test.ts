import { createHash } from 'node:crypto';
import { startTestApp, type TestApp } from '../support/app';
import { blobFiles, expectUnharmed, trapConnections, type Trap } from '../support/hostile';
import { request, upload } from '../support/http';
import { makeZip, type ZipSpec } from '../support/zip';

/*
 * Archives and documents that attack whoever opens them. Archive bombs and entries that
 * escape their folder are 422 CORRUPT_FILE ("The archive is refused"), whichever record of
 * the ZIP carries the lie. PDFs with scripts or launch actions are kept (they are PDFs) but
 * only ever served as attachments under the sandboxing CSP. Office files: a macro-enabled
 * document is not DOCX (415 or 422), an XML entity bomb does not render (422), and nothing a
 * document links to is fetched while it is rendered.
 */

jest.setTimeout(180_000);
const MB = 1024 * 1024;
let owners = 0;

describe('hostile archives and documents', () => {
  let t: TestApp;
  let trap: Trap;
  beforeAll(async () => {
    t = await startTestApp();
    trap = await trapConnections(3);
  });
  afterAll(async () => {
    await trap.close();
    await t.close();
  });

  async function attempt(name: string, bytes: Buffer) {
    const owner = `hostile-doc-${++owners}`;
    const token = await t.token(owner);
    const blobsBefore = blobFiles(t).length;
    const started = Date.now();
    const reply = await upload(t.url, token, { name, bytes });
    return { reply, ms: Date.now() - started, kept: { owner, token, blobsBefore } };
  }

  async function expectArchiveRefused(name: string, bytes: Buffer) {
    const { reply, kept } = await attempt(name, bytes);
    expect({
      status: reply.status,
      code: reply.json?.code,
      message: reply.json?.message,
      metadata: reply.json?.metadata,
    }).toMatchObject({
      status: 422,
      code: 'CORRUPT_FILE',
      message: expect.stringMatching(/^The (archive is refused|ZIP structure is damaged)/),
    });
    await expectUnharmed(t, { ...kept, refused: true });
  }

  describe('archive bombs and lies', () => {
    /** 10 MiB of zeros deflated: about 1030:1, a bomb by itself. */
    const leaf = () => makeZip([{ name: 'zeros.bin', data: Buffer.alloc(10 * MB), deflate: true }]);

    it('a 42.zip-style nest (16 × 16 copies of a ratio bomb, 2.5 GiB in all) → 422', async () => {
      const inner = leaf();
      const middle = makeZip(Array.from({ length: 16 }, (_, i) => ({ name: `part-${i}.zip`, data: inner })));
      const outer = makeZip(Array.from({ length: 16 }, (_, i) => ({ name: `volume-${i}.zip`, data: middle })));
      expect(outer.length).toBeLessThan(4 * MB);
      await expectArchiveRefused('backup.zip', outer);
    });

    it('a ZIP whose headers declare 1 KB for an entry that inflates to 50 MiB → 422', async () => {
      const zip = makeZip([{ name: 'notes.txt', data: Buffer.alloc(50 * MB, 0x20), deflate: true }]);
      setDeclaredSize(zip, 0, 1024);
      await expectArchiveRefused('notes.zip', zip);
    });

    it('a ZIP whose local header names ../../ while its central directory names a harmless file → 422', async () => {
      const evil = '../../../../tmp/x.sh';
      const harmless = 'docs/readme-file.txt';
      expect(harmless.length).toBe(evil.length);
      const zip = makeZip([{ name: evil, data: Buffer.from('#!/bin/sh\nid\n') }]);
      const central = zip.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
      zip.write(harmless, central + 46, 'utf8');
      await expectArchiveRefused('docs.zip', zip);
    });

    it('a ZIP whose first entry claims data running over the next entry (overlap at distinct offsets) → 422', async () => {
      const data = Buffer.alloc(200, 0x61);
      const zip = makeZip([
        { name: 'a.txt', data },
        { name: 'b.txt', data },
      ]);
      const central = zip.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
      zip.writeUInt32LE(zip.length, central + 20); // compressed size: everything to the end
      zip.writeUInt32LE(zip.length, central + 24);
      await expectArchiveRefused('overlap.zip', zip);
    });

    it('a ZIP whose end record claims 60000 entries for a directory of one → 422', async () => {
      const zip = makeZip([{ name: 'a.txt', data: Buffer.from('a') }]);
      const end = zip.length - 22;
      zip.writeUInt16LE(60_000, end + 8);
      zip.writeUInt16LE(60_000, end + 10);
      await expectArchiveRefused('count.zip', zip);
    });
  });

  describe('PDFs with actions: kept as documents, served only as attachments', () => {
    const port = () => trap.ports[0];
    it.each([
      [
        'JavaScript in OpenAction and a page-open URI action',
        () =>
          `<< /S /JavaScript /JS (app.alert\\('pwned'\\); this.submitForm\\('http://127.0.0.1:${port()}/js'\\);) /Next << /S /URI /URI (http://127.0.0.1:${port()}/uri) >> >>`,
      ],
      [
        'a Launch action',
        () => '<< /S /Launch /F (/bin/sh) /Win << /F (cmd.exe) /P (/c calc.exe) >> /NewWindow true >>',
      ],
      [
        'a GoToR action to a remote PDF',
        () =>
          `<< /S /GoToR /F << /Type /Filespec /FS /URL /F (http://127.0.0.1:${port()}/remote.pdf) >> /D [0 /Fit] >>`,
      ],
    ])('a PDF with %s', async (_label, action) => {
      const bytes = pdfWithOpenAction(action());
      const { reply, kept } = await attempt('invoice.pdf', bytes);
      expect(reply.status).toBe(201);
      expect(reply.json).toMatchObject({ type: 'document', mimeType: 'application/pdf', metadata: { pages: 1 } });
      // Signed URLs (not yet available, docs/api.md) will be served by the same code path; they are not routed yet, so only the direct download is checked.
      const served = await request(`${t.url}/api/v1/media/${reply.json.id}`, { token: kept.token });
      expect(served.status).toBe(200);
      expect(createHash('sha256').update(served.body).digest('hex')).toBe(reply.json.sha256);
      expect(served.body.includes(Buffer.from('/OpenAction'))).toBe(true); // kept: only personal metadata is stripped
      expect(served.headers.get('content-type')).toBe('application/pdf');
      expect(served.headers.get('content-disposition')).toMatch(/^attachment;/);
      expect(served.headers.get('content-security-policy')).toBe("default-src 'none'; sandbox");
      expect(served.headers.get('x-content-type-options')).toBe('nosniff');
      await expectUnharmed(t, { ...kept, refused: false });
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(trap.connections(port())).toBe(0);
    });
  });

  describe('Office files', () => {
    /** A macro-enabled document (docm main content type, an AutoOpen macro in vbaProject.bin); `first` entries lead the ZIP. */
    const docm = (first: ZipSpec[] = []) =>
      docx({
        mainType: 'application/vnd.ms-word.document.macroEnabled.main+xml',
        body: '<w:p><w:r><w:t>Enable content to see this invoice</w:t></w:r></w:p>',
        rels: [
          '<Relationship Id="rId9" Type="http://schemas.microsoft.com/office/2006/relationships/vbaProject" Target="vbaProject.bin"/>',
        ],
        first,
        extra: [
          {
            name: 'word/vbaProject.bin',
            data: Buffer.concat([
              Buffer.from('d0cf11e0a1b11ae1', 'hex'),
              Buffer.from('Attribute VB_Name = "ThisDocument"\r\nSub AutoOpen()\r\nShell "sh -c id"\r\nEnd Sub\r\n'),
            ]),
          },
        ],
        types: ['<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>'],
      });

    it.each([
      ['with [Content_Types].xml first', () => docm()],
      // The sniffer sees the first chunks of the body (at least 4100 bytes): here they hold only a picture.
      [
        'with a 1 MB picture stored before [Content_Types].xml',
        () => docm([{ name: 'word/media/image1.png', data: Buffer.alloc(MB, 0x89) }]),
      ],
    ])('a macro-enabled document named .docx %s → 415 (or 422), not stored', async (_label, bytes) => {
      const { reply, kept } = await attempt('invoice.docx', bytes());
      expect([
        [415, 'UNSUPPORTED_MEDIA_TYPE'],
        [422, 'CORRUPT_FILE'],
        [422, 'CONTENT_REJECTED'],
      ]).toContainEqual([reply.status, reply.json?.code]);
      await expectUnharmed(t, { ...kept, refused: true });
    });

    it('a DOCX whose document.xml is a billion-laughs entity bomb → 422, fast', async () => {
      const entities = [
        '<!ENTITY lol0 "lol">',
        ...Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i};`.repeat(10)}">`),
      ].join('');
      const bomb = docx({
        doctype: `<!DOCTYPE w:document [${entities}]>`,
        body: '<w:p><w:r><w:t>&lol9;</w:t></w:r></w:p>',
      });
      const { reply, kept } = await attempt('laughs.docx', bomb);
      expect([reply.status, reply.json?.code]).toEqual([422, 'CORRUPT_FILE']);
      await expectUnharmed(t, { ...kept, refused: true });
    });

    it('a DOCX with an external entity (XXE) naming a URL: refused or rendered, the URL never fetched', async () => {
      const xxe = docx({
        doctype: `<!DOCTYPE w:document [<!ENTITY xxe SYSTEM "http://127.0.0.1:${trap.ports[1]}/xxe">]>`,
        body: '<w:p><w:r><w:t>&xxe;</w:t></w:r></w:p>',
      });
      const { reply, kept } = await attempt('xxe.docx', xxe);
      expect([201, 422]).toContain(reply.status);
      await expectUnharmed(t, { ...kept, refused: reply.status !== 201 });
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(trap.connections(trap.ports[1])).toBe(0);
    });

    it('a DOCX showing a picture linked by URL: accepted, and the renderer never fetches it', async () => {
      const linked = docx({
        body: linkedPicture('rId5'),
        rels: [
          `<Relationship Id="rId5" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/image" Target="http://127.0.0.1:${trap.ports[2]}/linked.png" TargetMode="External"/>`,
        ],
      });
      const { reply, kept } = await attempt('linked.docx', linked);
      expect([201, 422]).toContain(reply.status);
      await expectUnharmed(t, { ...kept, refused: reply.status !== 201 });
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(trap.connections(trap.ports[2])).toBe(0);
    });
  });
});

/** Rewrites entry `index`'s declared uncompressed size in both its local header and the central directory. */
function setDeclaredSize(zip: Buffer, index: number, size: number): void {
  const find = (signature: number[], nth: number) => {
    let at = -1;
    for (let i = 0; i <= nth; i++) at = zip.indexOf(Buffer.from(signature), at + 1);
    return at;
  };
  zip.writeUInt32LE(size, find([0x50, 0x4b, 0x03, 0x04], index) + 22);
  zip.writeUInt32LE(size, find([0x50, 0x4b, 0x01, 0x02], index) + 24);
}

/** A one-page PDF (hand-written, with a correct xref table) whose catalog runs `action` on open. */
function pdfWithOpenAction(action: string): Buffer {
  const content = '0 0 1 rg 20 20 160 160 re f';
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R /OpenAction 4 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 5 0 R /Resources << >> /AA << /O 4 0 R >> >>',
    action,
    `<< /Length ${content.length} >>\nstream\n${content}\nendstream`,
  ];
  let out = '%PDF-1.7\n';
  const offsets = objects.map((body, i) => {
    const at = out.length;
    out += `${i + 1} 0 obj\n${body}\nendobj\n`;
    return at;
  });
  const xref = out.length;
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${offsets.map((at) => `${String(at).padStart(10, '0')} 00000 n \n`).join('')}`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}

const W = 'http://schemas.openxmlformats.org/wordprocessingml/2006/main';
const XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n';

/** A minimal WordprocessingML package (ECMA-376 Part 2): content types, package relationships, the main part and its relationships. */
function docx(options: {
  body: string;
  mainType?: string;
  doctype?: string;
  rels?: string[];
  types?: string[];
  first?: ZipSpec[];
  extra?: ZipSpec[];
}): Buffer {
  const mainType =
    options.mainType ?? 'application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml';
  const types =
    `${XML}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>' +
    `${(options.types ?? []).join('')}<Override PartName="/word/document.xml" ContentType="${mainType}"/></Types>`;
  const packageRels =
    `${XML}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>';
  const document =
    `${XML}${options.doctype ?? ''}<w:document xmlns:w="${W}" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" ` +
    'xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing" xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" ' +
    `xmlns:pic="http://schemas.openxmlformats.org/drawingml/2006/picture"><w:body>${options.body}</w:body></w:document>`;
  const specs: ZipSpec[] = [
    { name: '[Content_Types].xml', data: Buffer.from(types), deflate: true },
    { name: '_rels/.rels', data: Buffer.from(packageRels), deflate: true },
    { name: 'word/document.xml', data: Buffer.from(document), deflate: true },
  ];
  if (options.rels) {
    const rels = `${XML}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">${options.rels.join('')}</Relationships>`;
    specs.push({ name: 'word/_rels/document.xml.rels', data: Buffer.from(rels), deflate: true });
  }
  return makeZip([...(options.first ?? []), ...specs, ...(options.extra ?? [])]);
}

/** A paragraph showing a picture that is linked (r:link), not embedded. */
function linkedPicture(relationshipId: string): string {
  const extent = 'cx="952500" cy="952500"';
  return (
    '<w:p><w:r><w:t>See the chart:</w:t></w:r></w:p><w:p><w:r><w:drawing><wp:inline>' +
    `<wp:extent ${extent}/><wp:docPr id="1" name="Picture 1"/><a:graphic><a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/picture">` +
    '<pic:pic><pic:nvPicPr><pic:cNvPr id="0" name="chart.png"/><pic:cNvPicPr/></pic:nvPicPr>' +
    `<pic:blipFill><a:blip r:link="${relationshipId}"/><a:stretch><a:fillRect/></a:stretch></pic:blipFill>` +
    `<pic:spPr><a:xfrm><a:off x="0" y="0"/><a:ext ${extent}/></a:xfrm><a:prstGeom prst="rect"><a:avLst/></a:prstGeom></pic:spPr></pic:pic>` +
    '</a:graphicData></a:graphic></wp:inline></w:drawing></w:r></w:p>'
  );
}
