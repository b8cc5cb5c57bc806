// User API keys (create, list, get, delete, enable, disable under /api/client/v2.0/auth/api_keys,
// as realm-web's ApiKeyAuth calls them): every route authenticates with the REFRESH token, not
// the access token. https://www.mongodb.com/docs/atlas/app-services/authentication/api-key/

import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { HttpDeps } from '../deps.js';
import { bearerToken, objectBody } from '../request.js';

export const apiKeyRoutes =
  ({ apiKeys, sessions }: HttpDeps): FastifyPluginAsync =>
  async (http) => {
    const owner = async (req: FastifyRequest) => (await sessions.verifyRefreshToken(bearerToken(req))).session.userId;
    const idOf = (req: FastifyRequest) => (req.params as { id: string }).id;
    const base = '/api/client/v2.0/auth/api_keys';

    http.post(base, { bodyLimit: 16 * 1024 }, async (req, reply) => {
      const userId = await owner(req);
      return reply.code(201).send(await apiKeys.createForUser(userId, objectBody(req).name));
    });
    http.get(base, async (req) => apiKeys.list(await owner(req)));
    http.get(`${base}/:id`, async (req) => apiKeys.get(await owner(req), idOf(req)));
    http.delete(`${base}/:id`, async (req, reply) => {
      await apiKeys.delete(await owner(req), idOf(req));
      return reply.code(204).send();
    });
    http.put(`${base}/:id/enable`, async (req, reply) => {
      await apiKeys.setDisabled(await owner(req), idOf(req), false);
      return reply.code(204).send();
    });
    http.put(`${base}/:id/disable`, async (req, reply) => {
      await apiKeys.setDisabled(await owner(req), idOf(req), true);
      return reply.code(204).send();
    });
  };
