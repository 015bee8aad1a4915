// queue.declare of an existing queue with other properties or arguments is refused in RabbitMQ's words,
// naming what the client sent (src/protocols/amqp/queue-equivalence.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import amqp from 'amqplib';
import { connect, startAmqp } from './helpers.js';

async function refusal(c: amqp.ChannelModel, fn: (ch: amqp.Channel) => Promise<unknown>): Promise<{ code: number; message: string }> {
  const ch = await c.createChannel();
  ch.on('error', () => undefined);
  try {
    await fn(ch);
  } catch (err) {
    return err as { code: number; message: string };
  }
  throw new Error('expected the redeclare to be refused');
}

const long = (value: number) => ({ '!': 'long', value });
const int = (value: number) => ({ '!': 'int', value });

test('inequivalent redeclares name the client\'s argument (durable, auto_delete, exclusive, every x- argument) in RabbitMQ\'s form', { timeout: 30_000 }, async () => {
  const server = await startAmqp();
  const c = await connect(server);
  try {
    const pre = (q: string, rest: string) => `PRECONDITION_FAILED - inequivalent arg ${rest.replace('{q}', `for queue '${q}' in vhost '/'`)}`;
    type Opts = amqp.Options.AssertQueue;
    const cases: Array<[string, Opts, Opts, string]> = [
      ['eq-durable', { durable: false }, { durable: true }, "'durable' {q}: received 'true' but current is 'false'"],
      ['eq-autodelete', { autoDelete: true }, { autoDelete: false }, "'auto_delete' {q}: received 'false' but current is 'true'"],
      ['eq-dlx', { arguments: { 'x-dead-letter-exchange': 'dlx' } }, {}, "'x-dead-letter-exchange' {q}: received none but current is the value 'dlx' of type 'longstr'"],
      ['eq-dlx2', { arguments: { 'x-dead-letter-exchange': 'dlx' } }, { arguments: { 'x-dead-letter-exchange': 'other' } }, "'x-dead-letter-exchange' {q}: received 'other' but current is 'dlx'"],
      ['eq-dlrk', { arguments: { 'x-dead-letter-exchange': 'dlx', 'x-dead-letter-routing-key': 'k' } }, { arguments: { 'x-dead-letter-exchange': 'dlx' } }, "'x-dead-letter-routing-key' {q}: received none but current is the value 'k' of type 'longstr'"],
      ['eq-ttl', { arguments: { 'x-message-ttl': long(200) } }, { arguments: { 'x-message-ttl': long(100) } }, "'x-message-ttl' {q}: received '100' but current is '200'"],
      ['eq-expires', {}, { arguments: { 'x-expires': int(1000) } }, "'x-expires' {q}: received the value '1000' of type 'signedint' but current is none"],
      ['eq-maxlen', { arguments: { 'x-max-length': long(5) } }, {}, "'x-max-length' {q}: received none but current is the value '5' of type 'long'"],
      ['eq-maxbytes', { arguments: { 'x-max-length-bytes': long(5000) } }, { arguments: { 'x-max-length-bytes': long(6000) } }, "'x-max-length-bytes' {q}: received '6000' but current is '5000'"],
      ['eq-prio', { arguments: { 'x-max-priority': int(5) } }, { arguments: { 'x-max-priority': int(9) } }, "'x-max-priority' {q}: received '9' but current is '5'"],
      ['eq-overflow', { arguments: { 'x-overflow': 'reject-publish' } }, { arguments: { 'x-overflow': 'drop-head' } }, "'x-overflow' {q}: received 'drop-head' but current is 'reject-publish'"],
      ['eq-sac', {}, { arguments: { 'x-single-active-consumer': true } }, "'x-single-active-consumer' {q}: received the value 'true' of type 'bool' but current is none"],
      ['eq-type', { durable: true }, { durable: true, arguments: { 'x-queue-type': 'quorum' } }, "'x-queue-type' {q}: received the value 'quorum' of type 'longstr' but current is none"],
      ['eq-dlimit', { durable: true, arguments: { 'x-queue-type': 'quorum', 'x-delivery-limit': long(5) } }, { durable: true, arguments: { 'x-queue-type': 'quorum', 'x-delivery-limit': long(7) } }, "'x-delivery-limit' {q}: received '7' but current is '5'"],
      ['eq-stream', { durable: true }, { durable: true, arguments: { 'x-queue-type': 'stream' } }, "'x-queue-type' {q}: received the value 'stream' of type 'longstr' but current is none"],
      ['eq-isstream', { durable: true, arguments: { 'x-queue-type': 'stream' } }, { durable: true }, "'x-queue-type' {q}: received none but current is the value 'stream' of type 'longstr'"],
    ];
    const ch = await c.createChannel();
    for (const [q, first, second, text] of cases) {
      await ch.assertQueue(q, first);
      await ch.assertQueue(q, first); // the same declare again is fine
      const err = await refusal(c, (x) => x.assertQueue(q, second));
      assert.equal(err.code, 406, q);
      assert.ok(err.message.includes(`"${pre(q, text)}"`), `${q}: ${err.message}`);
      assert.doesNotMatch(err.message, /undefined|deadLetter|messageTtl|maxLength/, q);
    }
    // exclusive: a different value is 405 RESOURCE_LOCKED, as in RabbitMQ.
    await ch.assertQueue('eq-excl', { exclusive: true });
    const locked = await refusal(c, (x) => x.assertQueue('eq-excl', { exclusive: false }));
    assert.equal(locked.code, 405);
    assert.match(locked.message, /RESOURCE_LOCKED - cannot obtain exclusive access to locked queue 'eq-excl' in vhost '\/'. It could be originally declared on another connection or the exclusive property value does not match that of the original declaration./);
    await ch.assertQueue('eq-notexcl', {});
    assert.equal((await refusal(c, (x) => x.assertQueue('eq-notexcl', { exclusive: true }))).code, 405);
  } finally {
    await c.close().catch(() => undefined);
    await server.close();
  }
});
