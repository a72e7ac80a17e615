import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { codecs, defineModel, defineStrategy, InstanceCache, type Pk } from '../../../src/index.js';
import { storeCases, type TestStore } from '../../support/stores.js';

describe('codecs', () => {
  it('datetime keeps the instant to the millisecond, whatever zone the input was written in', () => {
    const encoded = codecs.datetime.encode(new Date('2024-03-10T01:59:59.999-05:00'));
    expect(encoded).toBe('2024-03-10T06:59:59.999Z');
    expect((codecs.datetime.decode(encoded) as Date).getTime()).toBe(Date.parse('2024-03-10T06:59:59.999Z'));
    expect(codecs.datetime.encode(0)).toBe('1970-01-01T00:00:00.000Z');
    expect(() => codecs.datetime.encode(new Date('nope'))).toThrow(/codecs.datetime: expected a valid Date/);
    expect(() => codecs.datetime.decode(12)).toThrow(/expected an ISO string/);
  });

  it('dateOnly stores the calendar date and is not shifted by time zones', () => {
    expect(codecs.dateOnly.encode('2024-02-29')).toBe('2024-02-29');
    expect(codecs.dateOnly.encode(new Date('2024-02-29T23:30:00Z'))).toBe('2024-02-29');
    expect(codecs.dateOnly.decode('2024-02-29')).toBe('2024-02-29');
    expect(() => codecs.dateOnly.encode('29/02/2024')).toThrow(/expected a Date or a 'YYYY-MM-DD' string/);
  });

  it('bigint round-trips beyond 2^53', () => {
    const big = 2n ** 63n - 1n;
    expect(codecs.bigint.encode(big)).toBe('9223372036854775807');
    expect(codecs.bigint.decode('9223372036854775807')).toBe(big);
    expect(() => codecs.bigint.encode(1.5)).toThrow(/expected a bigint/);
  });

  it('decimal keeps every digit as a string', () => {
    expect(codecs.decimal.encode('12345678901234567890.123456789')).toBe('12345678901234567890.123456789');
    expect(codecs.decimal.encode(0.5)).toBe('0.5');
    expect(() => codecs.decimal.encode(Number.NaN)).toThrow(/expected a decimal string/);
    // String(1e21) is '1e+21', which decode could never read back: refused at encode.
    expect(() => codecs.decimal.encode(1e21)).toThrow(/a number that prints without an exponent, got/);
    expect(() => codecs.decimal.encode(1e-7)).toThrow(/without an exponent/);
  });

  it('buffer round-trips bytes as base64', () => {
    const bytes = Buffer.from([0, 255, 10, 13, 58]);
    const back = codecs.buffer.decode(codecs.buffer.encode(bytes)) as Buffer;
    expect(Buffer.isBuffer(back)).toBe(true);
    expect([...back]).toEqual([0, 255, 10, 13, 58]);
    expect([...(codecs.buffer.decode(codecs.buffer.encode(new Uint8Array([1, 2]))) as Buffer)]).toEqual([
      1, 2,
    ]);
  });

  it('json rejects what JSON would silently change', () => {
    expect(codecs.json.encode({ a: [1, 'b', null, { c: true }] })).toEqual({
      a: [1, 'b', null, { c: true }],
    });
    expect(() => codecs.json.encode({ when: new Date() } as never)).toThrow(/use a codec for Dates/);
    expect(() => codecs.json.encode({ n: Number.POSITIVE_INFINITY } as never)).toThrow(/finite number/);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => codecs.json.encode(cyclic as never)).toThrow(/acyclic/);
  });

  it('pkList sorts and de-duplicates so the same set always encodes the same way', () => {
    expect(codecs.pkList.encode([10, 2, 2, 33])).toEqual([2, 10, 33]);
    expect(codecs.pkList.encode(['b', 'a', 'b'])).toEqual(['a', 'b']);
    expect(() => codecs.pkList.encode([1.5])).toThrow(/expected a safe integer or string/);
  });
});

interface Everything {
  id: number;
  at: Date;
  day: string;
  big: bigint;
  price: string;
  bytes: Buffer;
  meta: { tags: string[]; nested: { ok: boolean } };
  ownerId: number;
  memberIds: number[];
  nothing: Date | null;
}

const row: Everything = {
  id: 1,
  at: new Date('2024-05-01T10:00:00.123Z'),
  day: '2024-05-01',
  big: 2n ** 60n,
  price: '19.99',
  bytes: Buffer.from('héllo'),
  meta: { tags: ['a', 'b'], nested: { ok: true } },
  ownerId: 7,
  memberIds: [3, 1, 2],
  nothing: null,
};

// A record must read back identical from every store, and identical to a fresh load.
for (const storeCase of storeCases) {
  describe.runIf(storeCase.available)(`records round-trip through ${storeCase.name}`, () => {
    let handle: TestStore;
    beforeEach(async () => {
      handle = await storeCase.create('codecs');
    });
    afterEach(async () => {
      await handle.cleanup();
    });

    it('every codec reads back the same value and type, from a fill and from a hit', async () => {
      const model = defineModel('Thing', {
        load: (pks: readonly Pk[]) => pks.map(() => row),
        serialize: (entity: Everything) => entity,
        invalidate: () => [],
        codecs: {
          at: codecs.datetime,
          day: codecs.dateOnly,
          big: codecs.bigint,
          price: codecs.decimal,
          bytes: codecs.buffer,
          meta: codecs.json,
          ownerId: codecs.pk,
          memberIds: codecs.pkList,
          nothing: codecs.datetime,
        },
      });
      const cache = new InstanceCache(defineStrategy({ versions: ['v1'], models: [model] }), {
        store: handle.store,
      });
      const [fresh] = await cache.getInstances('Thing', [1]);
      const [cached] = await cache.getInstances('Thing', [1]);
      const expected = { ...row, memberIds: [1, 2, 3] };
      expect(fresh).toEqual(expected);
      expect(cached).toEqual(expected);
      expect(cached!.at).toBeInstanceOf(Date);
      expect(typeof cached!.big).toBe('bigint');
      expect(Buffer.isBuffer(cached!.bytes)).toBe(true);
      expect(cache.stats).toMatchObject({ hits: 1, misses: 1 });
    });

    it('a Date without a codec is refused at fill time, naming the field and the fix', async () => {
      const model = defineModel('Thing', {
        load: (pks: readonly Pk[]) => pks.map((id) => ({ id, at: new Date() })),
        serialize: (entity: { id: Pk; at: Date }) => entity,
        invalidate: () => [],
      });
      const cache = new InstanceCache(defineStrategy({ versions: ['v1'], models: [model] }), {
        store: handle.store,
      });
      await expect(cache.getInstances('Thing', [1])).rejects.toMatchObject({
        code: 'E_UNENCODABLE_VALUE',
        message: expect.stringMatching(
          /Thing@v1: field "at" cannot be stored as JSON \(declare a codec for it\)/,
        ),
      });
    });
  });
}
