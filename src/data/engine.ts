// The document store behind the data service: namespaces (`<db>.<collection>`) of BSON documents.
// Engines only keep documents; queries, updates and rules happen above them, in one place.

export type Doc = Record<string, unknown>;

export interface WriteBatch {
  readonly inserts?: readonly Doc[];
  /** Whole documents replacing those with the same `_id`. */
  readonly replaces?: readonly Doc[];
  readonly removes?: readonly unknown[];
}

export class DuplicateKeyError extends Error {
  override readonly name = 'DuplicateKeyError';
}

export interface DocumentEngine {
  /** Every document of the namespace, in insertion order. */
  all(ns: string): Promise<Doc[]>;
  /** Applies the batch atomically: all of it or (on a duplicate `_id`) none of it. */
  write(ns: string, batch: WriteBatch): Promise<void>;
  close(): Promise<void>;
}
