"""Cooperative rebalance with confluent-kafka (librdkafka), run with /usr/bin/python3.

usage: python_coop.py BOOTSTRAP TOPIC COUNT
COUNT messages are in TOPIC. Consumer A (partition.assignment.strategy=cooperative-sticky, manual
synchronous commits) consumes; after a quarter of them consumer B joins the group; both go on until every
message is consumed and committed. With cooperative-sticky, A keeps consuming and committing its
partitions while the group rebalances. Prints one JSON line: messages consumed, distinct, commits made,
commit errors by name, and the final assignment sizes.
"""
import json
import sys
import time

from confluent_kafka import Consumer, KafkaException, TopicPartition

bootstrap, topic, count = sys.argv[1], sys.argv[2], int(sys.argv[3])


def consumer(name):
    return Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": "coop",
        "client.id": name,
        "partition.assignment.strategy": "cooperative-sticky",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": 10000,
        "heartbeat.interval.ms": 100,
    })


consumed = []
commits = 0
errors = {}
members = [consumer("a")]
members[0].subscribe([topic])
deadline = time.time() + 60


def step(c):
    global commits
    msgs = c.consume(20, 0.05)
    good = [m for m in msgs if m.error() is None]
    if not good:
        return
    consumed.extend(m.value() for m in good)
    offsets = {}
    for m in good:
        offsets[(m.topic(), m.partition())] = m.offset() + 1
    try:
        c.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()], asynchronous=False)
        commits += 1
    except KafkaException as e:
        name = e.args[0].name()
        errors[name] = errors.get(name, 0) + 1


while time.time() < deadline and len(set(consumed)) < count:
    for c in list(members):
        step(c)
    if len(members) == 1 and len(consumed) >= count // 4:
        b = consumer("b")
        b.subscribe([topic])
        members.append(b)

# Both members keep polling until the rebalance has settled and each holds some partitions.
settle = time.time() + 20
while time.time() < settle and not all(len(c.assignment()) > 0 for c in members):
    for c in members:
        step(c)
sizes = [len(c.assignment()) for c in members]
for c in members:
    c.close()
print(json.dumps({"consumed": len(consumed), "distinct": len(set(consumed)), "commits": commits, "errors": errors, "assignment": sizes}))
