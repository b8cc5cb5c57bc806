// The BSON type names (`bsonType` in schemas, `%type` in expressions) that a decoded value
// satisfies. Numbers arrive decoded (src/util/ejson.ts): Int32 and Double become plain JS numbers
// and Longs within 2^53 do too, so the wire type is lost. An integral JS number therefore
// satisfies "int" (within 32 bits), "long" and "double"; a fractional one "double".

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;

/** bson values are told apart by `_bsontype`, which survives a second copy of the bson library. */
export const bsonTag = (v: unknown): string | undefined =>
  typeof v === 'object' && v !== null ? ((v as { _bsontype?: unknown })._bsontype as string | undefined) : undefined;

/** The `bsonType` names a value satisfies (see the header for numbers). */
export function bsonTypesOf(v: unknown): string[] {
  if (v === null) return ['null'];
  if (v === undefined) return ['undefined'];
  switch (typeof v) {
    case 'string':
      return ['string'];
    case 'boolean':
      return ['bool'];
    case 'number':
      if (!Number.isInteger(v)) return ['double', 'number'];
      return Math.abs(v) <= 2 ** 31 ? ['int', 'long', 'double', 'number'] : ['long', 'double', 'number'];
    case 'bigint':
      return ['long', 'number'];
  }
  if (Array.isArray(v)) return ['array'];
  if (v instanceof Date) return ['date'];
  if (v instanceof RegExp) return ['regex'];
  switch (bsonTag(v)) {
    case 'ObjectId':
      return ['objectId'];
    case 'Int32':
      return ['int', 'long', 'double', 'number'];
    case 'Double':
      return Number.isInteger((v as { value: number }).value) ? ['int', 'long', 'double', 'number'] : ['double', 'number'];
    case 'Long':
      return ['long', 'number'];
    case 'Decimal128':
      return ['decimal', 'number'];
    case 'Binary':
      return (v as { sub_type?: number }).sub_type === 4 ? ['binData', 'uuid'] : ['binData'];
    case 'Timestamp':
      return ['timestamp'];
    case 'BSONRegExp':
      return ['regex'];
    case 'BSONSymbol':
      return ['symbol'];
    case 'Code':
      return ['javascript'];
    case 'MinKey':
      return ['minKey'];
    case 'MaxKey':
      return ['maxKey'];
    case undefined:
      return isPlainObject(v) ? ['object'] : [];
  }
  return [];
}

