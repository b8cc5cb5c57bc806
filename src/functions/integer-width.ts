// Which width a client call's integer results are written in. Inside a function every integer is
// a JS number (so `a + b` and `n === 1` work on them as on the platform), which loses whether a
// client sent it as Int32 or Int64. realm-core's SDKs read results with exact casts: Swift's and
// Dart's `Int`, .NET's `long` and Kotlin's `Long` are Int64 on the wire and read back as Int64
// (`AnyBSON.int64Value` is nil for an Int32). So a call whose arguments spell their integers only
// as `$numberLong` gets its integer results as `$numberLong` too; any other call (the web SDKs
// send `$numberInt` for every integer in the Int32 range) gets the narrowest type, as before.
// `BSON.Long` values a function returns are `$numberLong` either way.

const INT32_WRAPPER = '{"$numberInt":"';
const INT64_WRAPPER = '{"$numberLong":"';

/**
 * True when canonical EJSON `argsEjson` holds Int64 integers and no Int32 ones. The text is JSON,
 * so `{"$numberInt":"` with unescaped quotes can only be a wrapper, never part of a string.
 */
export const prefersInt64 = (argsEjson: string): boolean => argsEjson.includes(INT64_WRAPPER) && !argsEjson.includes(INT32_WRAPPER);

/** Canonical EJSON `resultEjson` with every Int32 written as an Int64 of the same value. */
export const widenIntegers = (resultEjson: string): string => resultEjson.replaceAll(INT32_WRAPPER, INT64_WRAPPER);
