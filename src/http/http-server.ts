// The HTTP listener (design.md §4): management API, metrics and UI arrive with their issue; for now it
// serves /api/health. Routes are a plain table over node:http: the surface is small and fixed.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Broker } from '../core/broker.js';

/** Request line and header bytes node:http accepts before answering 431. */
const HEADER_BYTES_MAX = 16 * 1024;

type Handler = (req: IncomingMessage, res: ServerResponse, broker: Broker) => void;

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

const routes: Record<string, Handler> = {
  'GET /api/health': (_req, res, broker) => {
    const h = broker.health();
    sendJson(res, h.status === 'ok' ? 200 : 503, h);
  },
};

export function createHttpServer(broker: Broker): Server {
  const server = createServer({ maxHeaderSize: HEADER_BYTES_MAX }, (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const handler = routes[`${req.method} ${path}`];
    if (handler) return handler(req, res, broker);
    const known = Object.keys(routes).some((r) => r.endsWith(` ${path}`));
    if (known) {
      res.setHeader('allow', Object.keys(routes).filter((r) => r.endsWith(` ${path}`)).map((r) => r.split(' ')[0]).join(', '));
      return sendJson(res, 405, { error: 'method_not_allowed', reason: `${req.method} is not allowed on ${path}` });
    }
    sendJson(res, 404, { error: 'not_found', reason: `no route ${path}` });
  });
  server.keepAliveTimeout = 5_000;
  server.requestTimeout = 30_000;
  return server;
}
