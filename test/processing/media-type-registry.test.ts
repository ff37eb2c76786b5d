import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { loadSync } from '@grpc/proto-loader';
import { ConfigModule } from '../../src/config/config.module';
import { loadConfig } from '../../src/config/load-config';
import { MEDIA_TYPES } from '../../src/detection/media-types';
import { processorsByType } from '../../src/processing/media-processor';
import { ProcessingModule } from '../../src/processing/processing.module';
import { PROCESSORS, type Processor } from '../../src/processing/processor';
import { resolveProtoPath } from '../../src/peers/moderation.client';
import { createTestDatabase, query } from '../support/database';

/**
 * Every list of media types is derived from MEDIA_TYPE_TABLE except these, which live
 * outside TypeScript: a new type must be added to them too, and this test says where.
 */
const sorted = (values: readonly string[]) => [...values].sort();

describe('media types outside TypeScript list exactly MEDIA_TYPES', () => {
  it('the "MediaType" enum of the migrated database, which commit_upload casts the type to', async () => {
    const url = await createTestDatabase();
    const values = await query<{ value: string }>(url, 'SELECT unnest(enum_range(NULL::"MediaType"))::text AS value');
    expect(sorted(values.map((row) => row.value))).toEqual(sorted(MEDIA_TYPES));
    const [commit] = await query<{ source: string }>(
      url,
      "SELECT prosrc AS source FROM pg_proc WHERE proname = 'commit_upload'",
    );
    // A cast to the enum accepts whatever the enum holds; a list of names here would not follow it.
    expect(commit.source).toContain(`(p_media->>'type')::"MediaType"`);
  });

  it('the MediaType enum of prisma/schema.prisma', () => {
    const schema = readFileSync(join(__dirname, '../../prisma/schema.prisma'), 'utf8');
    const block = /enum MediaType \{([^}]*)\}/.exec(schema)?.[1] ?? '';
    expect(
      sorted(
        block
          .split('\n')
          .map((line) => line.replace(/\/\/.*/, '').trim())
          .filter(Boolean),
      ),
    ).toEqual(sorted(MEDIA_TYPES));
  });

  it('media_type of proto/moderation.proto: a string carrying our names, documented as exactly ours', () => {
    const path = resolveProtoPath(join(__dirname, '../../src/peers'));
    const request = loadSync(path, { keepCase: true })['moderation.CheckMediaContentRequest'] as unknown as {
      type: { field: { name: string; type: string }[] };
    };
    expect(request.type.field.find((field) => field.name === 'media_type')?.type).toBe('TYPE_STRING');
    const documented = /\/\/ One of: ([^\n]*)\.\n\s*string media_type =/.exec(readFileSync(path, 'utf8'))?.[1];
    expect(sorted(documented?.split(', ') ?? [])).toEqual(sorted(MEDIA_TYPES));
  });
});

describe('processors', () => {
  it('every media type has exactly one registered processor', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'media-test-registry-'));
    @Module({ imports: [ConfigModule.forRoot(loadConfig({ DATA_DIR: dataDir })), ProcessingModule] })
    class Root {}
    const app = await NestFactory.createApplicationContext(Root, { logger: false });
    try {
      const processors = app.get<Processor[]>(PROCESSORS);
      expect(sorted(processors.map((processor) => processor.type))).toEqual(sorted(MEDIA_TYPES));
    } finally {
      await app.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('the service refuses to start with a type unprocessed or processed twice', () => {
    const processor = (type: Processor['type']): Processor => ({
      type,
      process: () => Promise.reject(new Error('unused')),
    });
    const all = MEDIA_TYPES.map(processor);
    expect(() => processorsByType(all)).not.toThrow();
    expect(() => processorsByType(all.slice(1))).toThrow(`no processor is registered for ${MEDIA_TYPES[0]}`);
    expect(() => processorsByType([...all, processor(MEDIA_TYPES[0])])).toThrow(
      `two processors are registered for ${MEDIA_TYPES[0]}`,
    );
  });
});
