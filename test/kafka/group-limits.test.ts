// Consumer-group state created by client input is bounded, as in Kafka: a member id handed out with
// MEMBER_ID_REQUIRED (JoinGroup v4+) and never used expires after the session timeout the join asked for,
// and a group left empty with no committed offsets is removed at the next retention check.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { defaultConfig } from '../../src/server/config.js';
import { configureLogger } from '../../src/lib/logger.js';
import type { KafkaWriter } from '../../src/protocols/kafka/codec/writer.js';
import { KafkaReader } from '../../src/protocols/kafka/codec/reader.js';
import { frameSplitter, requestFrame } from './raw-frames.js';
import * as g from '../../src/protocols/kafka/codec/generated/index.js';

const JOIN = 11;
const SYNC = 14;
const LEAVE = 13;
const LIST = 16;

/** A raw connection: pipelined requests, responses matched by correlation id (non-flexible versions only). */
class Raw {
  private next = 1;
  private readonly waiting = new Map<number, (r: KafkaReader) => void>();
  private constructor(private readonly s: Socket) {
    s.on('data', frameSplitter((f) => {
      const r = new KafkaReader(f);
      const id = r.int32();
      const w = this.waiting.get(id);
      this.waiting.delete(id);
      w?.(r);
    }));
  }
  static open(port: number): Promise<Raw> {
    return new Promise((resolve) => {
      const s = connect(port, '127.0.0.1', () => resolve(new Raw(s)));
    });
  }
  send(apiKey: number, version: number, body: (w: KafkaWriter) => void): Promise<KafkaReader> {
    const id = this.next++;
    const p = new Promise<KafkaReader>((resolve) => this.waiting.set(id, resolve));
    this.s.write(requestFrame(apiKey, version, id, body));
    return p;
  }
  close(): void {
    this.s.destroy();
  }
}

function start(): Promise<RunningServer> {
  configureLogger('silent');
  return startServer({
    ...defaultConfig,
    dataDir: join(mkdtempSync(join(tmpdir(), 'kgl-')), 'data'),
    host: '127.0.0.1',
    kafkaPort: 0,
    amqpPort: 'off',
    httpPort: 'off',
    fsync: 'never',
    groupInitialRebalanceDelayMs: 0,
    groupMinSessionTimeoutMs: 100,
    offsetsRetentionCheckIntervalMs: 100,
  });
}

const joinReq = (groupId: string, memberId: string, sessionTimeoutMs: number): g.JoinGroupRequest => ({
  ...g.defaultJoinGroupRequest(),
  groupId,
  memberId,
  sessionTimeoutMs,
  rebalanceTimeoutMs: 5000,
  protocolType: 'consumer',
  protocols: [{ name: 'range', metadata: Buffer.from([0, 0]) }],
});

async function listGroups(raw: Raw): Promise<string[]> {
  const r = await raw.send(LIST, 2, (w) => g.encodeListGroupsRequest(w, 2, g.defaultListGroupsRequest()));
  return g.decodeListGroupsResponse(r, 2).groups.map((x) => x.groupId);
}

async function until(cond: () => Promise<boolean> | boolean, what: string): Promise<void> {
  const end = Date.now() + 15_000;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('10,000 JoinGroups that never come back with their member id: the pending ids expire', { timeout: 60_000 }, async () => {
  const server = await start();
  const raw = await Raw.open(server.port('kafka')!);
  try {
    const N = 10_000;
    const answers = await Promise.all(
      Array.from({ length: N }, () => raw.send(JOIN, 4, (w) => g.encodeJoinGroupRequest(w, 4, joinReq('flood', '', 300))).then((r) => g.decodeJoinGroupResponse(r, 4))),
    );
    assert.ok(answers.every((a) => a.errorCode === 79 && a.memberId !== ''), 'MEMBER_ID_REQUIRED with an id each time');
    const coordinator = server.broker.groups();
    // Every id is pending for one session timeout (300 ms) after its join, then forgotten.
    await until(() => coordinator.stats().pendingMembers === 0, 'pending member ids expire');
    const late = g.decodeJoinGroupResponse(await raw.send(JOIN, 4, (w) => g.encodeJoinGroupRequest(w, 4, joinReq('flood', answers[0]!.memberId, 300))), 4);
    assert.equal(late.errorCode, 25, 'an expired pending id is an unknown member (the client starts over)');
    // The group they created holds nothing and goes too.
    await until(async () => !(await listGroups(raw)).includes('flood'), 'the flood group is removed');
    assert.equal(coordinator.stats().groups, 0);
  } finally {
    raw.close();
    await server.close();
  }
});

test('an empty group without committed offsets disappears from ListGroups; one with offsets stays', { timeout: 30_000 }, async () => {
  const server = await start();
  const raw = await Raw.open(server.port('kafka')!);
  try {
    for (const groupId of ['gone', 'kept']) {
      const j = g.decodeJoinGroupResponse(await raw.send(JOIN, 1, (w) => g.encodeJoinGroupRequest(w, 1, joinReq(groupId, '', 10_000))), 1);
      assert.equal(j.errorCode, 0);
      const s = g.decodeSyncGroupResponse(
        await raw.send(SYNC, 1, (w) => g.encodeSyncGroupRequest(w, 1, { ...g.defaultSyncGroupRequest(), groupId, generationId: j.generationId, memberId: j.memberId, assignments: [{ memberId: j.memberId, assignment: Buffer.from('a') }] })),
        1,
      );
      assert.equal(s.errorCode, 0);
      if (groupId === 'kept') {
        assert.equal(await server.broker.groups().commitOffsets('kept', j.generationId, j.memberId, [{ stream: 't', partition: 0, offset: 5 }]), 'none');
      }
      const l = g.decodeLeaveGroupResponse(await raw.send(LEAVE, 1, (w) => g.encodeLeaveGroupRequest(w, 1, { ...g.defaultLeaveGroupRequest(), groupId, memberId: j.memberId })), 1);
      assert.equal(l.errorCode, 0);
    }
    assert.equal(server.broker.groups().describeGroup('gone').state, 'Empty');
    await until(async () => !(await listGroups(raw)).includes('gone'), 'the empty group without offsets is removed');
    assert.ok((await listGroups(raw)).includes('kept'), 'a group with committed offsets stays (until offsets.retention.minutes)');
  } finally {
    raw.close();
    await server.close();
  }
});

test('OffsetCommit metadata over offset.metadata.max.bytes is refused for its partition; the others are committed', { timeout: 30_000 }, async () => {
  const server = await start();
  const raw = await Raw.open(server.port('kafka')!);
  try {
    const part = (partitionIndex: number, metadata: string) => ({ ...g.defaultOffsetCommitRequest_OffsetCommitRequestPartition(), partitionIndex, committedOffset: 7n, committedMetadata: metadata });
    const r = await raw.send(8, 2, (w) =>
      g.encodeOffsetCommitRequest(w, 2, { ...g.defaultOffsetCommitRequest(), groupId: 'meta', generationIdOrMemberEpoch: -1, memberId: '', topics: [{ name: 't', partitions: [part(0, 'x'.repeat(4097)), part(1, 'ok')] }] }),
    );
    assert.deepEqual(g.decodeOffsetCommitResponse(r, 2).topics[0]!.partitions.map((p) => p.errorCode), [12, 0]);
    assert.deepEqual(server.broker.groups().fetchOffsets('meta').map((o) => [o.partition, o.metadata]), [[1, 'ok']]);
  } finally {
    raw.close();
    await server.close();
  }
});
