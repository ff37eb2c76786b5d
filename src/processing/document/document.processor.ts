import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { MediaError } from '../../errors.js';
import { plainCopy } from '../plain-copy.js';
import { previewsIfPossible, renderPreviews } from '../previews.js';
import type { PreviewImage, Processor, ProcessInput, ProcessResult, Rendition } from '../processor.js';
import { docxWithoutProperties } from './docx-properties.js';
import type { OfficeConverter } from './office.js';
import { pdfWithoutMetadata } from './pdf-metadata.js';
import { pdfPages, renderFirstPage } from './poppler.js';
import { summarizeText, textPageSvg } from './text-preview.js';

const PAGE_BOX = 512;

/**
 * Documents keep their content; what names their author does not stay (docs/behaviour.md,
 * "What the service strips"). A PDF is proven by poppler parsing it to its page count (else
 * CORRUPT_FILE), stored without its Info dictionary and XMP (qpdf; the stored version is
 * parsed again) and previewed from its first page; a DOCX is stored with its document
 * properties emptied, and DOC/DOCX are printed to PDF by LibreOffice from the version
 * stored (a file it cannot open is CORRUPT_FILE); a DOC is stored as uploaded. Text is
 * stored as uploaded, counted and previewed from its first lines. A preview that fails to
 * render leaves the document without previews; it does not fail the upload.
 */
export class DocumentProcessor implements Processor {
  readonly type = 'document';

  constructor(private readonly office: OfficeConverter) {}

  async process(input: ProcessInput): Promise<ProcessResult> {
    if (input.format.mime === 'text/plain') return this.text(input);
    const { ext, mime } = input.format;
    if (mime === 'application/pdf') return this.pdf(await plainCopy(input, `input.${ext}`), input);
    // The DOCX as it will be stored is the one LibreOffice must open.
    const stored =
      ext === 'docx' && !input.previewsOnly ? { path: join(input.workDir, `stored.${ext}`), mime, ext } : undefined;
    if (stored) await writeFile(stored.path, await docxWithoutProperties(input.file), { flag: 'wx', mode: 0o600 });
    const path = stored ? stored.path : await plainCopy(input, `input.${ext}`);
    // DOC/DOCX: LibreOffice opening the file and printing it to PDF is the proof it is whole.
    const pdf = join(input.workDir, 'rendered.pdf');
    await this.office.toPdf(path, pdf, input.signal);
    return { ...(await this.pdf(pdf, input, true)), stored };
  }

  /**
   * A PDF's page count and previews. An uploaded one (not `rendered` from DOC/DOCX) is
   * parsed first as it came, then stored without its metadata, and the stored version is
   * what is counted and previewed.
   */
  private async pdf(path: string, input: ProcessInput, rendered = false): Promise<ProcessResult> {
    const pages = await pdfPages(path, input.signal);
    let stored: Rendition | undefined;
    if (!rendered && !input.previewsOnly) {
      path = await pdfWithoutMetadata(path, input.workDir, input.signal);
      if ((await pdfPages(path, input.signal)) !== pages)
        throw new MediaError('CORRUPT_FILE', 'The PDF could not be stored without its metadata');
      stored = { path, mime: input.format.mime, ext: 'pdf' };
    }
    const previews = await previewsIfPossible(async () =>
      picturePreviews(sharp(await renderFirstPage(path, input.workDir, PAGE_BOX, input.signal))),
    );
    return { stored, ...previews, metadata: { pages } };
  }

  private async text(input: ProcessInput): Promise<ProcessResult> {
    const summary = await summarizeText(await input.open(), input.format.charset ?? 'utf-8');
    const previews = await previewsIfPossible(() =>
      picturePreviews(sharp(Buffer.from(textPageSvg(summary.head, PAGE_BOX)))),
    );
    return { ...previews, metadata: { characters: summary.characters, lines: summary.lines } };
  }
}

async function picturePreviews(picture: sharp.Sharp): Promise<PreviewImage[]> {
  const { width, height } = await picture.clone().metadata();
  return renderPreviews(picture, width ?? PAGE_BOX, height ?? PAGE_BOX);
}
