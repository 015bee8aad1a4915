"""Kafka interop driver for the Debian Python clients (run with /usr/bin/python3).

usage: python_kafka.py (kafka-python|confluent) BOOTSTRAP TOPIC COUNT
Produces COUNT messages, then consumes them with a consumer group from the beginning and prints one
JSON line: {"produced": n, "consumed": n, "first": ..., "last": ...}.
"""
import json
import sys
import time

client, bootstrap, topic, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
values = [f"py-{i}".encode() for i in range(count)]
consumed = []

if client == "kafka-python":
    from kafka import KafkaConsumer, KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, batch_size=64 * 1024)
    for v in values:
        producer.send(topic, v, key=v[-1:])
    producer.flush()
    producer.close()
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=f"g-{client}", auto_offset_reset="earliest", consumer_timeout_ms=10000)
    for m in consumer:
        consumed.append(m.value)
        if len(consumed) >= count:
            break
    consumer.commit()
    consumer.close()
else:
    from confluent_kafka import Consumer, Producer

    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "compression.type": "gzip"})
    for i, v in enumerate(values):
        producer.produce(topic, v, key=v[-1:])
        if i % 10000 == 0:
            producer.poll(0)
    producer.flush(30)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"g-{client}", "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    deadline = time.time() + 60
    while len(consumed) < count and time.time() < deadline:
        for m in consumer.consume(10000, 1.0):
            if m.error() is None:
                consumed.append(m.value())
    consumer.commit(asynchronous=False)
    consumer.close()

print(json.dumps({"produced": count, "consumed": len(consumed), "distinct": len(set(consumed)), "all": set(consumed) == set(values)}))
