import { randomBytes } from 'node:crypto';
import { ObjectId } from 'bson';

/** A new time-ordered 24-hex id (ObjectId layout): the SDKs require device ids in this form. */
export const newObjectIdHex = (): string => new ObjectId().toHexString();

export const isObjectIdHex = (value: unknown): value is string =>
  typeof value === 'string' && /^[0-9a-f]{24}$/i.test(value);

/** Random URL-safe token with `bytes` bytes of entropy; never contains `$` (the OAuth fragment's separator). */
export const randomToken = (bytes = 32): string => randomBytes(bytes).toString('base64url');
