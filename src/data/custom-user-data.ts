// Custom user data: the document of the configured collection whose user id field holds the
// user's id, as a string or an ObjectId (the string form wins; among equals, the first inserted).

import { EJSON, ObjectId } from 'bson';
import type { CustomUserDataConfig } from '../app/model.js';
import type { Doc, DocumentEngine } from './engine.js';

export function customUserDataLookup(config: CustomUserDataConfig, documents: DocumentEngine) {
  const ns = `${config.database}.${config.collection}`;
  /** The document, typed (for functions), or undefined. */
  const find = async (userId: string): Promise<Doc | undefined> => {
    const docs = await documents.all(ns);
    const byString = docs.find((d) => d[config.userIdField] === userId);
    if (byString) return byString;
    return docs.find((d) => {
      const v = d[config.userIdField];
      return v instanceof ObjectId && v.toHexString() === userId;
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
