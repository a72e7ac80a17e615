/**
 * A {@link PkSource} over MikroORM: lists each model's pks from its entity's table, for `warm`.
 * Imports nothing from MikroORM at run time (it uses the ORM instance it is given).
 */
import { InvalidOptionError } from '../errors.js';
import type { Pk } from '../strategy/pk.js';
import type { PkSource } from './config.js';

/** The entity manager calls {@link createMikroOrmPkSource} makes (MikroORM's `EntityManager` has them). */
export interface PkSourceEntityManager {
  /** Called with `{ fields: [pk], orderBy: { [pk]: 'asc' }, limit, disableIdentityMap: true }`. */
  find(entityName: string, where: object, options: object): Promise<object[]>;
  count(entityName: string): Promise<number>;
}

/**
 * What {@link createMikroOrmPkSource} needs from an ORM: an initialised `MikroORM` instance has
 * it. Declared here so that this entry point's types do not depend on MikroORM's.
 */
export interface PkSourceOrm {
  readonly em: { fork(options: { disableContextResolution: boolean }): PkSourceEntityManager };
  getMetadata(): {
    find(
      entityName: string,
    ): { readonly className: string; readonly primaryKeys: readonly string[] } | undefined;
    getAll(): Readonly<Record<string, { readonly className: string }>>;
  };
}

/** Options of {@link createMikroOrmPkSource}. */
export interface MikroOrmPkSourceOptions {
  /**
   * Model name → the entity whose rows are the model's instances (a class, a `defineEntity`
   * result or `EntitySchema`, or an entity name). Default: for each model, the entity of the same
   * name — what `fromMikroOrm` models are called unless given another `name`.
   */
  entities?: Readonly<Record<string, string | { readonly name: string }>>;
}

/**
 * Lists pks through MikroORM: `count` is one `count(*)`, and each page of `pksAfter` is one query
 * selecting only the pk, `where pk > after order by pk limit n`, in a fresh fork of the global
 * entity manager (keyset pagination: every page costs the same, however deep). Entity filters
 * apply as they do to any `find`.
 *
 * @example
 * export default defineCliConfig(async () => {
 *   const orm = await MikroORM.init(options);
 *   return { cache: new InstanceCache(createStrategy(orm), { store }), pks: createMikroOrmPkSource(orm) };
 * });
 */
export function createMikroOrmPkSource(orm: PkSourceOrm, options: MikroOrmPkSourceOptions = {}): PkSource {
  if (!orm || typeof orm.getMetadata !== 'function') {
    throw new InvalidOptionError(
      'createMikroOrmPkSource: the first argument must be an initialised MikroORM instance',
      {
        context: { option: 'orm' },
      },
    );
  }
  const tableOf = (model: string): { entity: string; pk: string } => {
    const given = options.entities?.[model] ?? model;
    // A class, a defineEntity result and an EntitySchema all carry the entity's name as `name`.
    const meta = orm.getMetadata().find(typeof given === 'string' ? given : given.name);
    if (!meta) {
      const names = Object.values(orm.getMetadata().getAll()).map((m) => m.className);
      throw new InvalidOptionError(
        `createMikroOrmPkSource: no entity for model "${model}"; the entities are ${JSON.stringify(names)}: map the model to one with options.entities`,
        { context: { model, option: 'entities' } },
      );
    }
    if (meta.primaryKeys.length !== 1) {
      throw new InvalidOptionError(
        `createMikroOrmPkSource: ${meta.className} has a composite pk (${meta.primaryKeys.join(', ')}), which the cache does not support`,
        { context: { model } },
      );
    }
    return { entity: meta.className, pk: meta.primaryKeys[0]! };
  };
  return {
    async count(model) {
      const { entity } = tableOf(model);
      return orm.em.fork({ disableContextResolution: true }).count(entity);
    },
    async pksAfter(model, after, limit) {
      const { entity, pk } = tableOf(model);
      const em = orm.em.fork({ disableContextResolution: true });
      const rows = (await em.find(entity, after === undefined ? {} : { [pk]: { $gt: after } }, {
        fields: [pk],
        orderBy: { [pk]: 'asc' },
        limit,
        disableIdentityMap: true,
      })) as Record<string, unknown>[];
      return rows.map((row) => row[pk] as Pk);
    },
  };
}
