// The first steps of an AMQP connection (README §2): the connection.start the broker sends, and the
// credentials a connection.start-ok carries (PLAIN, AMQPLAIN).
import type { FieldTable } from '../../core/message.js';
import { decodeFieldTableEntries } from './codec/field-table.js';
import { encodeConnectionStartFrame } from './codec/generated/methods.js';
import type { AmqpSettings } from './context.js';
import { lookup, stringValue } from './queue-arguments.js';

/** connection.start: server properties with every capability Junction implements, and its mechanisms. */
export function encodeStart(s: AmqpSettings): Buffer {
  const longstr = (v: string) => ({ type: 'longstr' as const, value: Buffer.from(v) });
  const bool = (value: boolean) => ({ type: 'bool' as const, value });
  const capabilities: FieldTable = [
    ['publisher_confirms', bool(true)],
    ['exchange_exchange_bindings', bool(true)],
    ['basic.nack', bool(true)],
    ['consumer_cancel_notify', bool(true)],
    ['connection.blocked', bool(true)],
    ['consumer_priorities', bool(true)],
    ['authentication_failure_close', bool(true)],
    ['per_consumer_qos', bool(true)],
    ['direct_reply_to', bool(true)],
  ];
  return encodeConnectionStartFrame(0, {
    versionMajor: 0,
    versionMinor: 9,
    serverProperties: [
      ['capabilities', { type: 'table', value: capabilities }],
      ['cluster_name', longstr(s.clusterName)],
      ['copyright', longstr('Junction contributors')],
      ['information', longstr('Licensed under the Apache License 2.0')],
      ['platform', longstr(`Node.js ${process.version}`)],
      ['product', longstr('Junction')],
      ['version', longstr(s.version)],
    ],
    mechanisms: Buffer.from('PLAIN AMQPLAIN'),
    locales: Buffer.from('en_US'),
  });
}

/** The user and password of a start-ok response, or the reason it has none (a string). */
export function credentialsOf(mechanism: string, response: Buffer): { user: string; password: string } | string {
  if (mechanism === 'PLAIN') {
    const parts = response.toString('utf8').split('\0');
    if (parts.length !== 3) return `PLAIN response is not authzid NUL user NUL password`;
    return { user: parts[1]!, password: parts[2]! };
  }
  if (mechanism === 'AMQPLAIN') {
    let t: FieldTable;
    try {
      t = decodeFieldTableEntries(response);
    } catch {
      return 'malformed AMQPLAIN response';
    }
    const u = lookup(t, 'LOGIN');
    const p = lookup(t, 'PASSWORD');
    return { user: (u && stringValue(u)) ?? '', password: (p && stringValue(p)) ?? '' };
  }
  return `unsupported authentication mechanism '${mechanism}' (PLAIN and AMQPLAIN are)`;
}

/** The capabilities a client announced as true in its client properties. */
export function capabilitiesOf(clientProperties: FieldTable): Set<string> {
  const out = new Set<string>();
  const caps = lookup(clientProperties, 'capabilities');
  if (caps?.type === 'table') for (const [k, v] of caps.value) if (v.type === 'bool' && v.value) out.add(k);
  return out;
}
