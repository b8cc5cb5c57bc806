// The ceiling: a bare Fastify hello-world JSON route, no logging, no plugins, in its own
// process. Every Baste scenario is reported as a ratio to what this serves in the same run.
// Prints `listening <port>` once ready.

import Fastify from 'fastify';

const http = Fastify({ logger: false });
http.get('/', async () => ({ hello: 'world' }));

await http.listen({ port: 0, host: '127.0.0.1' });
const address = http.server.address();
process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : 0}\n`);

process.once('SIGTERM', () => {
  void http.close().then(() => process.exit(0));
});
