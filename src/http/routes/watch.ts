// GET functions/call: the data service's `watch` as a server-sent-event stream
// (src/watch/). realm-web sends `baas_request` with a bearer token; the Stitch SDKs
// send `stitch_request` with the token in `stitch_at`, first with `stitch_validate=true` (checked,
// answered 200 and closed: an InvalidSession there makes them refresh and retry), then for good.
// Everything wrong with the request is an ordinary Stitch error before the stream starts; once it
// has started (headers flushed at once, so the SDKs' listeners are attached before any event), an
// error is an `event: error` frame and the end of the stream.

import type { FastifyPluginAsync } from 'fastify';
import { BasteError } from '../../errors.js';
import { selection } from '../../watch/event.js';
import type { WatchHub } from '../../watch/hub.js';
import { decodeStreamCall, encodedBody, watchOptions } from '../../watch/request.js';
import { errorFrame } from '../../watch/sse.js';
import type { HttpDeps } from '../deps.js';
import { bearerToken, requireApp } from '../request.js';
import { toBasteError } from '../errors.js';
import { callRequestOf } from './functions.js';

/** Operators that would run code: refused in a stream's filter as in every query. */
const SCRIPT_OPERATORS = /"\$(where|function|accumulator)"/;

export const watchRoutes =
  ({ app, sessions, auth, mongo, watch }: HttpDeps & { watch: WatchHub }): FastifyPluginAsync =>
  async (http) => {
    http.get('/api/client/v2.0/app/:appId/functions/call', async (req, reply) => {
      requireApp(app, req);
      const query = req.query as Record<string, unknown>;
      const token = typeof query.stitch_at === 'string' ? query.stitch_at : bearerToken(req);
      const { caller, user } = await sessions.verifyAccessTokenWithUser(token);
      const call = decodeStreamCall(encodedBody(query));
      const options = watchOptions(call.args);
      if (options.filter && SCRIPT_OPERATORS.test(JSON.stringify(options.filter))) {
        throw new BasteError('InvalidParameter', 'filter: $where, $function and $accumulator are not supported: Baste never evaluates JavaScript in queries');
      }
      let sel;
      try {
        sel = selection(options);
      } catch (err) {
        throw new BasteError('InvalidParameter', `filter is not a valid query: ${(err as Error).message}`);
      }
      const target = mongo.watchTarget(call.service, call.args, { user: await auth.users.callUserFrom(user), system: false, request: callRequestOf(req) });
      watch.admit(caller.userId);
      if (query.stitch_validate === 'true') return reply.code(200).header('content-type', 'text/plain').send('');

      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        ...(reply.getHeaders() as Record<string, string>),
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache, no-transform',
        // Proxies that buffer responses (nginx) would hold events back.
        'x-accel-buffering': 'no',
      });
      res.flushHeaders();
      res.socket?.setNoDelay(true);
      const started = Date.now();
      const sink = {
        write: (frame: string) => void res.write(frame),
        buffered: () => res.writableLength,
        end: (frame?: string) => {
          if (!res.writableEnded) res.end(frame);
        },
        destroy: () => res.destroy(),
      };
      let close: (() => void) | undefined;
      let gone = false;
      res.on('close', () => {
        gone = true;
        close?.();
        req.log.info({ method: 'GET', path: req.url.split('?')[0], status: 200, stream: 'watch', ns: target.ns, ms: Date.now() - started, ip: req.ip }, 'stream closed');
      });
      try {
        close = await watch.open({ userId: caller.userId, sessionId: caller.sessionId, ns: target.ns, engine: target.engine, view: target.view, selection: sel, sink });
        if (gone) close();
      } catch (err) {
        const error = toBasteError(err);
        if (error.code === 'InternalServerError') req.log.error({ err }, 'watch stream failed to open');
        sink.end(errorFrame(error));
      }
    });
  };
