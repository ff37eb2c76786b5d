import { downloadName, sanitizeFileName } from '../../../src/media/file-name';
import { fileTooLarge, formatBytes } from '../../../src/media/size-limits';

describe('sanitizeFileName', () => {
  it.each([
    ['photo.jpg', 'photo.jpg'],
    ['../../etc/passwd', 'passwd'],
    ['C:\\Users\\me\\cat.png', 'cat.png'],
    ['\u202Egnp.exe', 'gnp.exe'],
    ['bell\u0007.txt', 'bell.txt'],
    ['  ..hidden  ', 'hidden'],
    ['', 'file.jpg'],
    ['...', 'file.jpg'],
    ['e\u0301te\u0301.jpg', 'été.jpg'],
  ])('%j → %j', (raw, expected) => {
    expect(sanitizeFileName(raw, 'jpg')).toBe(expected);
  });

  it('cuts a long name to 200 characters and keeps its extension', () => {
    expect(sanitizeFileName(`${'a'.repeat(300)}.jpeg`, 'jpg')).toBe(`${'a'.repeat(195)}.jpeg`);
    const emoji = sanitizeFileName(`${'😀'.repeat(250)}.png`, 'png');
    expect(Array.from(emoji)).toHaveLength(200);
    expect(emoji.endsWith('😀.png')).toBe(true);
    expect(Array.from(sanitizeFileName('b'.repeat(250), 'txt'))).toHaveLength(200);
  });
});

describe('downloadName', () => {
  it.each([
    ['notes.jpg', 'text/plain', 'notes.txt'],
    ['notes.md', 'text/plain', 'notes.md'],
    ['page.html', 'text/plain', 'page.txt'],
    ['holiday.JPEG', 'image/jpeg', 'holiday.JPEG'],
    ['holiday.png', 'image/jpeg', 'holiday.jpg'],
    ['README', 'text/plain', 'README.txt'],
    ['song.mp4', 'audio/mp4', 'song.mp4'],
    ['report.docx', 'application/zip', 'report.zip'],
    ['v1.2 final', 'application/pdf', 'v1.2 final.pdf'],
    ['whatever.bin', 'application/x-unknown', 'whatever.bin'],
  ])('%s stored as %s downloads as %s', (name, mime, expected) => {
    expect(downloadName(name, mime)).toBe(expected);
  });
});

describe('413 messages', () => {
  it.each([
    [26214400, '25 MB'],
    [1536, '1.5 KB'],
    [1000, '1000 bytes'],
    [2 * 1024 ** 3, '2 GB'],
  ])('formatBytes(%d) = %s', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });

  it('names the type and its limit', () => {
    expect(fileTooLarge('image', 25 * 1024 * 1024)).toMatchObject({
      status: 413,
      code: 'FILE_TOO_LARGE',
      message: 'The file is larger than the 25 MB limit for images',
    });
  });
});
