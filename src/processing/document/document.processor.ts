import { join } from 'node:path';
import sharp from 'sharp';
import { plainCopy } from '../plain-copy.js';
import { previewsIfPossible, renderPreviews } from '../previews.js';
import type { PreviewImage, ProcessInput, ProcessResult } from '../processor.js';
import type { OfficeConverter } from './office.js';
import { pdfPages, renderFirstPage } from './poppler.js';
import { summarizeText, textPageSvg } from './text-preview.js';

const PAGE_BOX = 512;

/**
 * Documents are stored as uploaded (lossless). A PDF is proven by poppler parsing it to its
 * page count (else CORRUPT_FILE) and previewed from its first page; DOC/DOCX are first
 * printed to PDF by LibreOffice (a file it cannot open is CORRUPT_FILE); text is counted
 * and previewed from its first lines. A preview that fails to render leaves the document
 * without previews; it does not fail the upload.
 */
export class DocumentProcessor {
  constructor(private readonly office: OfficeConverter) {}

  async process(input: ProcessInput): Promise<ProcessResult> {
    if (input.format.mime === 'text/plain') return this.text(input);
    const path = await plainCopy(input, `input.${input.format.ext}`);
    if (input.format.mime === 'application/pdf') return this.pdf(path, input);
    // DOC/DOCX: LibreOffice opening the file and printing it to PDF is the proof it is whole.
    const pdf = join(input.workDir, 'rendered.pdf');
    await this.office.toPdf(path, pdf, input.signal);
    return this.pdf(pdf, input);
  }

  private async pdf(path: string, input: ProcessInput): Promise<ProcessResult> {
    const pages = await pdfPages(path, input.signal);
    const previews = await previewsIfPossible(async () => picturePreviews(sharp(await renderFirstPage(path, input.workDir, PAGE_BOX, input.signal))));
    return { ...previews, metadata: { pages } };
  }

  private async text(input: ProcessInput): Promise<ProcessResult> {
    const summary = await summarizeText(await input.open(), input.format.charset ?? 'utf-8');
    const previews = await previewsIfPossible(() => picturePreviews(sharp(Buffer.from(textPageSvg(summary.head, PAGE_BOX)))));
    return { ...previews, metadata: { characters: summary.characters, lines: summary.lines } };
  }
}

async function picturePreviews(picture: sharp.Sharp): Promise<PreviewImage[]> {
  const { width, height } = await picture.clone().metadata();
  return renderPreviews(picture, width ?? PAGE_BOX, height ?? PAGE_BOX);
}
