// The HTTP listener (design.md §4): management API, metrics and UI arrive with their issue; for now it
// serves /api/health. Routes are a plain table over node:http: the surface is small and fixed.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Broker } from '../core/broker.js';
import type { ResourceAlarms } from '../core/resource-alarms.js';

/** Request line and header bytes node:http accepts before answering 431. */
const HEADER_BYTES_MAX = 16 * 1024;

export interface HttpServerOptions {
  /** Resource alarms in force: while one is on, /api/health answers 503 naming it. */
  alarms?: ResourceAlarms;
}

type Handler = (req: IncomingMessage, res: ServerResponse, broker: Broker, opts: HttpServerOptions) => void;

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

const routes: Record<string, Handler> = {
  // 200 {"status":"ok",...} while the broker runs; 503 with "status":"stopping" while it shuts down, or
  // "status":"alarm" and the alarms named while a resource alarm holds publishers.
  'GET /api/health': (_req, res, broker, opts) => {
    const h = broker.health();
    const alarms = opts.alarms?.active ?? [];
    if (h.status === 'ok' && alarms.length > 0) {
      return sendJson(res, 503, { ...h, status: 'alarm', alarms, reason: `resource alarm in effect: ${alarms.join(', ')} (publishers are held until it clears)` });
    }
    sendJson(res, h.status === 'ok' ? 200 : 503, { ...h, alarms });
  },
};

export function createHttpServer(broker: Broker, opts: HttpServerOptions = {}): Server {
  const server = createServer({ maxHeaderSize: HEADER_BYTES_MAX }, (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const handler = routes[`${req.method} ${path}`];
    if (handler) return handler(req, res, broker, opts);
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
