// HTTPS endpoints (`/app/{appId}/endpoint/...`) and incoming webhooks
// (`/api/client/v2.0/app/{app}/service/{svc}/incoming_webhook/{name}`). Plain HTTP callers, any
// method and content type: the body is kept as raw bytes (signatures cover exactly those).

import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { HttpAnswer, HttpCall } from '../../functions/http-functions.js';
import type { HttpDeps } from '../deps.js';
import { publicBaseUrl } from './location.js';
import { requireApp } from '../request.js';

const BODY_LIMIT = 18 * 1024 * 1024;
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'] as const;

function callOf(req: FastifyRequest, baseUrl?: string): HttpCall {
  const [, rawQuery = ''] = req.url.split(/\?(.*)/s);
  return {
    method: req.method,
    rawQuery,
    headers: req.headers as HttpCall['headers'],
    rawHeaders: req.raw.rawHeaders,
    body: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0),
    ip: req.ip,
    url: `${publicBaseUrl(req, baseUrl)}${req.url}`,
  };
}

function send(reply: FastifyReply, answer: HttpAnswer): FastifyReply {
  reply.code(answer.status);
  for (const [name, values] of Object.entries(answer.headers)) reply.header(name, values.length === 1 ? values[0] : values);
  return answer.body === undefined ? reply.send() : reply.send(answer.body);
}

export const endpointRoutes =
  ({ app, httpFunctions, options }: HttpDeps): FastifyPluginAsync =>
  async (http) => {
    // This plugin's own parsers: every body stays a Buffer.
    http.removeAllContentTypeParsers();
    http.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: BODY_LIMIT }, (_req, body, done) => done(null, body));

    http.route({
      method: [...METHODS],
      url: '/app/:appId/endpoint/*',
      bodyLimit: BODY_LIMIT,
      handler: async (req, reply) => {
        requireApp(app, req);
        const route = `/${(req.params as { '*': string })['*']}`;
        return send(reply, await httpFunctions.endpoint(route, callOf(req, options.baseUrl)));
      },
    });

    http.route({
      method: [...METHODS],
      url: '/api/client/v2.0/app/:appId/service/:service/incoming_webhook/:name',
      bodyLimit: BODY_LIMIT,
      handler: async (req, reply) => {
        requireApp(app, req);
        const { service, name } = req.params as { service: string; name: string };
        return send(reply, await httpFunctions.webhook(service, name, callOf(req, options.baseUrl)));
      },
    });
  };
