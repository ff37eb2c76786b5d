import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../../generated/prisma/client';
import { createTestDatabase, query } from '../support/database';

/**
 * Migrations are written by hand (no schema engine offline), so this guards against drift:
 * every scalar field of schema.prisma, as the generated client sees it, must exist in the
 * migrated database with a compatible column type.
 */
const COMPATIBLE: Record<string, string[]> = {
  String: ['text', 'uuid', 'character varying'],
  Int: ['integer'],
  BigInt: ['bigint'],
  DateTime: ['timestamp with time zone', 'date'],
  Json: ['jsonb'],
  Bytes: ['bytea'],
  Boolean: ['boolean'],
};

/** A list field (e.g. BigInt[]) is an ARRAY column: compare its element type (information_schema's udt_name is `_<element>`). */
const ELEMENT_TYPE: Record<string, string> = {
  _int8: 'bigint',
  _int4: 'integer',
  _text: 'text',
  _uuid: 'uuid',
  _bool: 'boolean',
};

interface RuntimeField {
  name: string;
  kind: 'scalar' | 'enum' | 'object';
  type: string;
  dbName?: string;
}

test('every model field of schema.prisma exists in the migrated database with a compatible type', async () => {
  const url = await createTestDatabase();
  const client = new PrismaClient({ adapter: new PrismaPg({ connectionString: url }) });
  // The generated client's own view of the schema (a private field, read only here).
  const models = (
    client as unknown as {
      _runtimeDataModel: { models: Record<string, { dbName: string | null; fields: RuntimeField[] }> };
    }
  )._runtimeDataModel.models;
  await client.$disconnect();
  const columns = await query<{ table_name: string; column_name: string; data_type: string; udt_name: string }>(
    url,
    "SELECT table_name, column_name, data_type, udt_name FROM information_schema.columns WHERE table_schema = 'public'",
  );
  const typeOf = new Map(
    columns.map((c) => [
      `${c.table_name}.${c.column_name}`,
      c.data_type === 'ARRAY' ? (ELEMENT_TYPE[c.udt_name] ?? c.udt_name) : c.data_type,
    ]),
  );
  const problems: string[] = [];
  for (const [name, model] of Object.entries(models)) {
    for (const field of model.fields.filter((f) => f.kind !== 'object')) {
      const column = `${model.dbName ?? name}.${field.dbName ?? field.name}`;
      const actual = typeOf.get(column);
      const expected = field.kind === 'enum' ? ['USER-DEFINED'] : COMPATIBLE[field.type];
      if (!actual) problems.push(`${column} is missing`);
      else if (!expected?.includes(actual)) problems.push(`${column} is ${actual}, schema says ${field.type}`);
    }
  }
  expect(Object.keys(models).length).toBeGreaterThanOrEqual(7);
  expect(problems).toEqual([]);
});
