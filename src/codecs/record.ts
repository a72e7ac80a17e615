import { CodecError, RecordEncodingError } from '../errors.js';
import { assertJson, type Codec, type JsonValue } from './codec.js';

/** Field name → codec, for the fields of a record that are not plain JSON. */
export type FieldCodecs = Readonly<Record<string, Codec<unknown>>>;

/**
 * Encodes records of one model version to the JSON text that is stored, and decodes it back.
 * Built once per model version at definition time.
 */
export interface RecordCodec<R> {
  /** Record → JSON text (fields with a codec encoded, the rest checked to be plain JSON). */
  encode(record: R): string;
  /** JSON text → record, codecs applied once. Throws on text that is not a record this codec wrote. */
  decode(text: string): R;
}

/**
 * Creates the record codec of a model version. `where` names the model and version in errors.
 */
export function createRecordCodec<R extends object>(fields: FieldCodecs, where: string): RecordCodec<R> {
  const entries = Object.entries(fields) as [string, Codec<unknown>][];
  return {
    encode(record) {
      if (record === null || typeof record !== 'object' || Array.isArray(record)) {
        throw new RecordEncodingError(`${where}: serialize() must return a plain object or null`);
      }
      const out: Record<string, JsonValue> = {};
      for (const [name, value] of Object.entries(record)) {
        if (value === undefined) continue;
        const codec = fields[name] as Codec<unknown> | undefined;
        try {
          if (value === null) out[name] = null;
          else if (codec) out[name] = codec.encode(value);
          else {
            assertJson(value, `${where}.${name}`);
            out[name] = value;
          }
        } catch (error) {
          throw new RecordEncodingError(
            `${where}: field "${name}" cannot be stored as JSON${codec ? ` with codecs.${codec.name}` : ' (declare a codec for it)'}: ${(error as Error).message}`,
            { context: { field: name }, cause: error },
          );
        }
      }
      return JSON.stringify(out);
    },
    decode(text) {
      const record = JSON.parse(text) as Record<string, JsonValue>;
      if (record === null || typeof record !== 'object' || Array.isArray(record)) {
        throw new CodecError(`${where}: stored record is not an object`);
      }
      for (const [name, codec] of entries) {
        const value = record[name];
        if (value !== null && value !== undefined) record[name] = codec.decode(value) as JsonValue;
      }
      return record as R;
    },
  };
}
