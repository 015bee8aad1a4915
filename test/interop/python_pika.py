"""pika (Debian's python3-pika) against Junction: run by python-pika.test.ts with the AMQP port as argv[1].
Prints one JSON line of results; the TypeScript test asserts on them."""
import json
import sys
import time

import pika
from pika.exceptions import ChannelClosedByBroker

port = int(sys.argv[1])
N = int(sys.argv[2]) if len(sys.argv) > 2 else 100000
params = pika.ConnectionParameters(host="127.0.0.1", port=port, credentials=pika.PlainCredentials("guest", "guest"), heartbeat=30)
out = {}

conn = pika.BlockingConnection(params)
caps = conn._impl.server_capabilities
out["caps"] = sorted(k for k, v in caps.items() if v)
ch = conn.channel()
ch.confirm_delivery()
ch.queue_declare("pika-q", durable=True)
ch.queue_purge("pika-q")
body = b"x" * 100
t0 = time.time()
props = pika.BasicProperties(delivery_mode=2, headers={"n": 1, "s": "v"}, correlation_id="c1")
# On a confirm channel BlockingChannel.basic_publish waits for each confirm: one confirmed publish here,
# the rest on a second channel without confirms, then a round trip to count them.
ch.basic_publish("", "pika-q", body, props, mandatory=True)
pub = conn.channel()
for i in range(1, N):
    pub.basic_publish("", "pika-q", body, props)
out["publish_s"] = round(time.time() - t0, 3)
# A round trip on the publishing channel: everything before it has been handled.
declared = pub.queue_declare("pika-q", durable=True, passive=True)
out["declared_count"] = declared.method.message_count

received = 0
first = None
t0 = time.time()
ch.basic_qos(prefetch_count=500)
for method, properties, body_ in ch.consume("pika-q", inactivity_timeout=5):
    if method is None:
        break
    if first is None:
        first = {"headers": properties.headers, "correlation_id": properties.correlation_id, "delivery_mode": properties.delivery_mode}
    received += 1
    if received % 100 == 0 or received == N:
        ch.basic_ack(method.delivery_tag, multiple=True)
    if received == N:
        break
ch.cancel()
out["consume_s"] = round(time.time() - t0, 3)
out["received"] = received
out["first"] = first

# Topic routing and basic.get
ch.exchange_declare("pika-topic", exchange_type="topic")
r = ch.queue_declare("", exclusive=True)
qname = r.method.queue
ch.queue_bind(qname, "pika-topic", routing_key="a.#")
ch.basic_publish("pika-topic", "a.b.c", b"routed")
ch.basic_publish("pika-topic", "b.c", b"dropped")
m, p, b = ch.basic_get(qname, auto_ack=True)
out["get"] = b.decode() if b else None
m2 = ch.basic_get(qname, auto_ack=True)
out["get_empty"] = m2[0] is None

# Errors: 404 closes the channel with RabbitMQ's reply text
try:
    ch.queue_declare("no-such-queue", passive=True)
    out["passive_error"] = None
except ChannelClosedByBroker as e:
    out["passive_error"] = [e.reply_code, e.reply_text]

# Transactions
ch2 = conn.channel()
ch2.tx_select()
ch2.basic_publish("", qname, b"tx1")
ch2.tx_rollback()
ch2.basic_publish("", qname, b"tx2")
ch2.tx_commit()
m, p, b = ch2.basic_get(qname, auto_ack=True)
out["tx"] = b.decode() if b else None

ch2.queue_delete("pika-q")
conn.close()
print(json.dumps(out))
