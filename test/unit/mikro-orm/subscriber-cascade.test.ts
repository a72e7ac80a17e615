/**
 * CacheSubscriber on real databases (better-sqlite and Postgres), with a schema that cascades
 * deeper than the poll app: a folder tree whose `parent` FK is ON DELETE CASCADE, with tags
 * (many-to-many), notes (FK ON DELETE SET NULL) and an owner (many-to-one). Deleting a folder
 * makes the DATABASE delete the whole subtree, which fires no event: the subscriber names every
 * folder of it and their neighbours, with one query per relation and level, never per row.
 */
import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CacheSubscriber } from '../../../src/mikro-orm/index.js';
import { createTestOrm, locksRows, type TestOrm, testDatabases } from '../../support/mikro-orm.js';
import { createRecordingTarget } from '../../support/recording-target.js';

const Person = defineEntity({
  name: 'Person',
  properties: {
    id: p.integer().primary().autoincrement(),
    name: p.string(),
    folders: () => p.oneToMany(Folder).mappedBy('owner'),
  },
});

const Folder = defineEntity({
  name: 'Folder',
  properties: {
    id: p.integer().primary().autoincrement(),
    name: p.string(),
    parent: () => p.manyToOne(Folder).nullable().deleteRule('cascade'),
    children: () => p.oneToMany(Folder).mappedBy('parent'),
    owner: () => p.manyToOne(Person).nullable(),
    tags: () => p.manyToMany(Tag).inversedBy('folders').owner(),
    notes: () => p.oneToMany(Note).mappedBy('folder'),
  },
});

const Tag = defineEntity({
  name: 'Tag',
  properties: {
    id: p.integer().primary().autoincrement(),
    label: p.string(),
    folders: () => p.manyToMany(Folder).mappedBy('tags'),
  },
});

const Note = defineEntity({
  name: 'Note',
  properties: {
    id: p.integer().primary().autoincrement(),
    text: p.string(),
    folder: () => p.manyToOne(Folder).nullable().deleteRule('set null'),
  },
});

interface IFolder extends InferEntity<typeof Folder> {}

describe.each(await testDatabases())('CacheSubscriber and FK cascades on %s', (database) => {
  let db: TestOrm;
  const target = createRecordingTarget();
  const errors: unknown[] = [];
  const subscriber = new CacheSubscriber(target, { onError: (error) => errors.push(error) });
  let ids: Record<string, number>;

  beforeAll(async () => {
    db = await createTestOrm(database, {
      label: 'subscriber_cascade',
      subscribers: [subscriber],
      entities: [Person, Folder, Tag, Note],
    });
  });
  afterAll(async () => {
    await db?.close();
  });
  beforeEach(async () => {
    await db.orm.schema.clearDatabase();
    const em = db.orm.em.fork();
    const [p1, p2] = ['p1', 'p2'].map((name) => em.create(Person, { name }));
    const [t1, t2, t3, t4] = ['t1', 't2', 't3', 't4'].map((label) => em.create(Tag, { label }));
    const folder = (name: string, parent: IFolder | null, extra: Partial<IFolder> = {}) =>
      em.create(Folder, { name, parent, ...extra });
    // root ─┬─ a ── a1 ── a1x      other (unrelated)
    //       └─ b
    const root = folder('root', null);
    const a = folder('a', root);
    const b = folder('b', root);
    const a1 = folder('a1', a);
    const a1x = folder('a1x', a1, { owner: p1 });
    const other = folder('other', null, { owner: p2 });
    root.tags.add(t3!);
    a1x.tags.add(t1!);
    b.tags.add(t2!);
    other.tags.add(t4!, t1!);
    const n1 = em.create(Note, { text: 'in a1', folder: a1 });
    const n2 = em.create(Note, { text: 'in other', folder: other });
    await em.flush();
    ids = Object.fromEntries(
      Object.entries({ p1, p2, t1, t2, t3, t4, root, a, b, a1, a1x, other, n1, n2 }).map(([k, v]) => [
        k,
        (v as { id: number }).id,
      ]),
    );
    target.reset();
    errors.length = 0;
    db.sql.reset();
  });

  const expected = () =>
    [
      ...['root', 'a', 'b', 'a1', 'a1x'].map((k) => `Folder:${ids[k]}`),
      ...['t1', 't2', 't3'].map((k) => `Tag:${ids[k]}`),
      `Note:${ids.n1}`,
      `Person:${ids.p1}`,
    ].sort();

  it('deleting the root of a subtree names every folder the database deletes, and their neighbours', async () => {
    const em = db.orm.em.fork();
    em.remove(em.getReference(Folder, ids.root!));
    await em.flush();
    expect(errors).toEqual([]);
    expect(target.calls).toHaveLength(1);
    expect(target.refs).toEqual(expected());
    const left = await db.orm.em.fork().find(Folder, {}, { orderBy: { id: 1 } });
    expect(left.map((f) => f.id)).toEqual([ids.other]);
    const orphan = await db.orm.em.fork().findOneOrFail(Note, ids.n1!);
    expect(orphan.folder).toBeNull();
  });

  it('one query per relation and level, inside the transaction, before the DELETE', async () => {
    const em = db.orm.em.fork();
    em.remove(em.getReference(Folder, ids.root!));
    await em.flush();
    const statements = db.sql.statements.map((sql) => sql.trim().toLowerCase());
    const begin = statements.findIndex((sql) => sql.startsWith('begin'));
    const remove = statements.findIndex((sql) => sql.startsWith('delete'));
    const lookups = statements.slice(begin + 1, remove);
    // 1: the root (its unknown parent and owner FKs). 4: the subtree, one level per query (root →
    // a, b → a1 → a1x → none). 2: the tags of all five, the notes of all five. Where rows lock
    // (Postgres, MariaDB) every one of them is a locking read.
    expect(lookups).toHaveLength(7);
    expect(lookups.every((sql) => sql.startsWith('select'))).toBe(true);
    expect(statements.slice(0, begin).filter((sql) => sql.startsWith('select'))).toEqual([]);
    const locked = lookups.filter((sql) => sql.endsWith('for update'));
    expect(locked).toHaveLength(locksRows(database) ? 7 : 0);
  });

  it('a loaded subtree is still read from the database: a child it did not know is named too', async () => {
    const em = db.orm.em.fork();
    const root = await em.findOneOrFail(Folder, ids.root!, { populate: ['children'] });
    // A child added behind this fork's back: its loaded collection does not know it.
    const late = await db.orm.em.fork().insert(Folder, { name: 'late', parent: ids.root! });
    em.remove(root);
    await em.flush();
    expect(target.refs).toEqual([...expected(), `Folder:${late}`].sort());
  });
});
