// Custom user data: the document of the configured collection whose user id field holds the
// user's id, as a string or an ObjectId (the string form wins; among equals, the first inserted).
// Looked up on every login and refresh, so the user id field is indexed.

import { EJSON, ObjectId } from 'bson';
import type { CustomUserDataConfig } from '../app/model.js';
import { collect, type Doc, type DocumentEngine } from './engine.js';

export function customUserDataLookup(config: CustomUserDataConfig, documents: DocumentEngine) {
  const ns = `${config.database}.${config.collection}`;
  const field = config.userIdField;
  let indexed: Promise<void> | undefined;
  /** The document, typed (for functions), or undefined. */
  const find = async (userId: string): Promise<Doc | undefined> => {
    indexed ??= documents.ensureIndexes(ns, [field]).catch((err: unknown) => {
      indexed = undefined;
      throw err;
    });
    await indexed;
    const asOid = /^[0-9a-fA-F]{24}$/.test(userId) ? [ObjectId.createFromHexString(userId)] : [];
    // `$in` also matches arrays holding the id: the exact checks below keep only the field itself.
    const docs = await collect(documents.find(ns, { [field]: { $in: [userId, ...asOid] } }));
    const byString = docs.find((d) => d[field] === userId);
    if (byString) return byString;
    return docs.find((d) => {
      const v = d[field];
      return v instanceof ObjectId && v.toHexString() === userId.toLowerCase();
    });
  };
  return {
    find,
    /** The document as plain JSON, for the access token's `user_data` claim. */
    async forToken(userId: string): Promise<Record<string, unknown> | undefined> {
      const doc = await find(userId);
      return doc && (EJSON.serialize(doc, { relaxed: true }) as Record<string, unknown>);
    },
  };
}
