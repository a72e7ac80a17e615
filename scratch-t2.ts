import { MikroORM } from '@mikro-orm/postgresql';
import { MikroORM as S } from '@mikro-orm/better-sqlite';
import { defineEntity, p } from '@mikro-orm/core';
const Thing = defineEntity({ name: 'Thing', properties: {
  id: p.integer().primary(),
  big: p.bigint(), bigNum: p.bigint('number'), dec: p.decimal(), decNum: p.decimal('number'), js: p.json<{a:number}>(),
  bl: p.blob(), u8: p.uint8array(), d: p.date(), dt: p.datetime(), t: p.time(), flag: p.boolean(), f: p.float(), dbl: p.double(),
  arr: p.array(), en: p.enum(['a','b']), uu: p.uuid(), txt: p.text(), ty: p.type('Date'), ty2: p.type(Date),
  lz: p.text().lazy().nullable(),
}});
for (const [Orm, opts] of [[S, { dbName: ':memory:' }], [MikroORM, { clientUrl: 'postgresql://postgres@127.0.0.1:5432/gci_scratch' }]] as const) {
  const orm = await (Orm as typeof S).init({ ...opts, entities: [Thing] } as never);
  await orm.schema.ensureDatabase();
  await orm.schema.refreshDatabase();
  const meta = orm.getMetadata().find('Thing')!;
  for (const prop of Object.values(meta.properties)) console.log(prop.name, prop.kind, JSON.stringify(prop.type), prop.runtimeType, prop.columnTypes, prop.customType?.constructor.name, prop.lazy);
  const em = orm.em.fork();
  em.create(Thing, { id: 1, big: 12345678901234567n, bigNum: 5, dec: '1.50', decNum: 2.5, js: {a:1}, bl: Buffer.from('hi'), u8: new Uint8Array([1,2]), d: '2024-01-02', dt: new Date('2024-01-01T10:00:00.123Z'), t: '10:00:00', flag: true, f: 1.5, dbl: 2.5, arr: ['x','y'], en: 'a', uu: '00000000-0000-0000-0000-000000000001', txt: 'x', ty: new Date(), ty2: new Date(), lz: 'lazy' } as never);
  await em.flush();
  const row = await orm.em.fork().findOneOrFail(Thing, 1);
  console.log(Object.fromEntries(Object.entries(row).map(([k, v]) => [k, [typeof v, v?.constructor?.name, v]])));
  await orm.close();
}
