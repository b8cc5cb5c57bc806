// The client API's login and link (`login?link=true`), profile, session refresh (refresh token in,
// access token out), logout and self-delete, as the SDKs call them; and a user's own session list
// (Baste's, not the platform's).

import { EJSON, ObjectId } from 'bson';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { DeviceInfo } from '../../auth/service.js';
import { badRequest } from '../../errors.js';
import type { HttpDeps } from '../deps.js';
import { bearerToken, objectBody, requireApp } from '../request.js';
import { publicBaseUrl } from './location.js';

/** Login bodies are canonical EJSON: decode them, refusing what EJSON itself refuses. */
function decodeEjson(body: Record<string, unknown>): Record<string, unknown> {
  let decoded: unknown;
  try {
    decoded = EJSON.deserialize(body, { relaxed: true });
  } catch (err) {
    throw badRequest(`request body is not valid extended JSON: ${(err as Error).message}`);
  }
  // `{"$undefined": true}`, `{"$date": ...}` and the like decode to something that holds no credentials.
  if (decoded === null || typeof decoded !== 'object' || Array.isArray(decoded) || Object.getPrototypeOf(decoded) !== Object.prototype) {
    throw badRequest('request body must be an extended JSON object');
  }
  return decoded as Record<string, unknown>;
}

const shortString = (v: unknown): string | undefined => (typeof v === 'string' ? v.slice(0, 128) : undefined);

/** `options.device`; `deviceId` arrives as a hex string (Stitch) or an ObjectId (realm-web). */
function deviceOf(options: unknown): DeviceInfo {
  const device = (options as { device?: Record<string, unknown> } | undefined)?.device;
  if (!device || typeof device !== 'object') return {};
  const rawId = device.deviceId;
  return {
    deviceId: rawId instanceof ObjectId ? rawId.toHexString() : shortString(rawId),
    platform: shortString(device.platform),
    platformVersion: shortString(device.platformVersion),
    sdkVersion: shortString(device.sdkVersion),
    appId: shortString(device.appId),
    appVersion: shortString(device.appVersion),
  };
}

const isLink = (req: FastifyRequest) => (req.query as { link?: string }).link === 'true';

/** Credentials are small; a custom JWT may reach 1 MB on the platform. */
const LOGIN_BODY_LIMIT = 2 * 1024 * 1024;

export const authRoutes =
  ({ app, auth, sessions, options: httpOptions }: HttpDeps): FastifyPluginAsync =>
  async (http) => {
    http.post('/api/client/v2.0/app/:appId/auth/providers/:provider/login', { bodyLimit: LOGIN_BODY_LIMIT }, async (req) => {
      requireApp(app, req);
      const { provider } = req.params as { provider: string };
      const { options, ...payload } = decodeEjson(objectBody(req));
      // The base URL names our OAuth callback, the `redirect_uri` of a Google authCode exchange.
      const ctx = { clientAddress: req.ip, publicBaseUrl: publicBaseUrl(req, httpOptions.baseUrl) };
      if (isLink(req)) {
        const caller = await sessions.verifyAccessToken(bearerToken(req));
        return auth.link(caller, provider, payload, ctx);
      }
      return auth.login(provider, payload, deviceOf(options), ctx);
    });

    http.get('/api/client/v2.0/auth/profile', async (req) => {
      const { user } = await sessions.verifyAccessTokenWithUser(bearerToken(req));
      return auth.profileOf(user);
    });

    http.post('/api/client/v2.0/auth/session', async (req, reply) => {
      const result = await auth.refresh(bearerToken(req));
      return reply.code(201).send(result);
    });

    http.delete('/api/client/v2.0/auth/session', async (req, reply) => {
      await auth.logout(bearerToken(req));
      return reply.code(204).send();
    });

    // A user's own sessions (Baste's; access token): list them, end one (see README, Sessions).
    http.get('/api/client/v2.0/auth/sessions', async (req) => sessions.listOwn(await sessions.verifyAccessToken(bearerToken(req))));
    http.delete('/api/client/v2.0/auth/sessions/:sessionId', async (req, reply) => {
      const caller = await sessions.verifyAccessToken(bearerToken(req));
      await sessions.revokeOwn(caller, (req.params as { sessionId: string }).sessionId);
      return reply.code(204).send();
    });

    http.delete('/api/client/v2.0/auth/delete', async (req, reply) => {
      const caller = await sessions.verifyAccessToken(bearerToken(req));
      await auth.users.delete(caller.userId);
      return reply.code(204).send();
    });
  };
