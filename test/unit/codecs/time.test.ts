import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codecs } from '../../../src/index.js';

// These run with the process in New York time: a codec that read a zone-less string in local
// time would give 21:40Z instead of 16:40Z here (and pass unnoticed on a UTC machine).
describe('codecs.datetime under TZ=America/New_York', () => {
  const savedTz = process.env.TZ;
  beforeAll(() => {
    process.env.TZ = 'America/New_York';
  });
  afterAll(() => {
    if (savedTz === undefined) delete process.env.TZ;
    else process.env.TZ = savedTz;
  });

  it('the process really is in New York time (else the tests below prove nothing)', () => {
    expect(new Date(2015, 10, 4).getTimezoneOffset()).toBe(300);
    expect(new Date('2015-11-04 16:40:04').toISOString()).toBe('2015-11-04T21:40:04.000Z');
  });

  it.each([
    ['2015-11-04 16:40:04.892566', '2015-11-04T16:40:04.892Z'],
    ['2015-11-04T16:40:04.892566', '2015-11-04T16:40:04.892Z'],
    ['2015-11-04T16:40:04', '2015-11-04T16:40:04.000Z'],
    ['2015-11-04T16:40', '2015-11-04T16:40:00.000Z'],
    ['2015-11-04', '2015-11-04T00:00:00.000Z'],
  ])('reads the zone-less %j as UTC: %s', (input, expected) => {
    expect(codecs.datetime.encode(input)).toBe(expected);
  });

  it.each([
    ['2015-11-04T16:40:04.892566Z', '2015-11-04T16:40:04.892Z'],
    ['2015-11-04T16:40:04.892566+05:30', '2015-11-04T11:10:04.892Z'],
    ['2015-11-04 16:40:04-0500', '2015-11-04T21:40:04.000Z'],
    ['2015-11-04T16:40:04+01', '2015-11-04T15:40:04.000Z'],
  ])('keeps the zone of %j', (input, expected) => {
    expect(codecs.datetime.encode(input)).toBe(expected);
  });

  it('cuts microseconds to milliseconds (never rounds up into the next millisecond)', () => {
    expect(codecs.datetime.encode('2015-11-04T16:40:04.999999Z')).toBe('2015-11-04T16:40:04.999Z');
  });

  it('decodes a stored string as the same instant, zone-less or not', () => {
    expect((codecs.datetime.decode('2015-11-04T16:40:04.892Z') as Date).toISOString()).toBe(
      '2015-11-04T16:40:04.892Z',
    );
    expect((codecs.datetime.decode('2015-11-04 16:40:04.892') as Date).toISOString()).toBe(
      '2015-11-04T16:40:04.892Z',
    );
  });

  it.each(['May 1, 2024', '2024-02-30T00:00:00Z', '2024-13-01', '04/11/2015', ''])(
    'refuses %j, whose meaning is engine- or zone-dependent or that is no date',
    (input) => {
      expect(() => codecs.datetime.encode(input)).toThrow(
        /codecs\.datetime: expected a valid Date, ISO-8601 string or epoch ms/,
      );
    },
  );
});

describe('codecs.duration', () => {
  it.each([
    [90_000, 90_000],
    [1.9, 1],
    [-1.9, -1],
    ['PT1H30M', 5_400_000],
    ['P2DT4H', 2 * 86_400_000 + 4 * 3_600_000],
    ['P1W', 7 * 86_400_000],
    ['PT0.5S', 500],
    ['PT0,0015S', 1],
    ['-PT1M', -60_000],
    ['P0D', 0],
  ])('encodes %j as %d milliseconds', (input, expected) => {
    expect(codecs.duration.encode(input)).toBe(expected);
  });

  it('reads back the number it stored', () => {
    expect(codecs.duration.decode(codecs.duration.encode('PT2H'))).toBe(7_200_000);
  });

  it.each(['P1M', 'P1Y', 'PT', 'P', '1h', 'PT1H30', '', Number.NaN, Number.POSITIVE_INFINITY])(
    'refuses %j (months and years have no fixed length)',
    (input) => {
      expect(() => codecs.duration.encode(input)).toThrow(
        /codecs\.duration: expected a number of milliseconds or an ISO-8601 duration/,
      );
    },
  );

  it('refuses a stored value it did not write', () => {
    expect(() => codecs.duration.decode('PT1H')).toThrow(/expected an integer number of milliseconds/);
    expect(() => codecs.duration.decode(1.5)).toThrow(/expected an integer number of milliseconds/);
  });
});
