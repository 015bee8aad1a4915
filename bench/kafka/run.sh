#!/usr/bin/env bash
# Kafka produce/consume throughput with kcat (librdkafka) against Junction, beside this machine's limits.
# Usage: bash bench/kafka/run.sh [records]   (ONLY_BIG=1: only the 1 MB-batch part; BIG_MB: its size)   (after npm run build; needs kcat, and iperf3 for the loopback line)
# Prints a markdown table. Starts its own broker on port 19092 with a temp data dir and stops it after.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-1000000}
PORT=19092
WORK=$(mktemp -d)
trap 'kill $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT

# cpu: the broker's CPU seconds so far (user + system, all threads).
cpu() { awk '{ printf "%.2f", ($14 + $15) / 100 }' /proc/$PID/stat; }

# consumed FILE: records read by a kcat -C -e run, from its "Reached end ... at offset N" lines (each
# partition was read from offset 0 of a fresh topic, so the end offsets add up to the records read).
consumed() { awk '/Reached end/ && match($0, /at offset [0-9]+/) { n += substr($0, RSTART + 10, RLENGTH - 10) } END { print n + 0 }' "$1"; }

# create_topic NAME PARTITIONS (with kafkajs, against the broker this script started)
create_topic() {
  node --input-type=module -e "import k from 'kafkajs'; const a = new k.Kafka({ brokers: ['127.0.0.1:$PORT'], logLevel: 0 }).admin(); await a.connect(); await a.createTopics({ topics: [{ topic: '$1', numPartitions: $2 }] }); await a.disconnect();"
}

# 100-byte records, one per line.
head -c $((N * 75)) /dev/urandom | base64 -w 100 | head -n "$N" > "$WORK/records.txt"
sync

echo "| test | partitions | fsync | records | seconds | records/s | MB/s | broker CPU s |"
echo "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |"
for FSYNC in never always; do
  [ -n "${ONLY_BIG:-}" ] && break
  rm -rf "$WORK/data"
  node dist/src/cli/main.js serve --data-dir "$WORK/data" --host 127.0.0.1 --kafka-port $PORT --amqp-port off --http-port off --fsync $FSYNC --log-level warn &
  PID=$!
  sleep 1
  for P in 1 8; do
    T=bench-$P
    create_topic $T $P
    C=$(cpu); S=$(date +%s.%N)
    kcat -b 127.0.0.1:$PORT -P -t $T -X linger.ms=20 -X batch.num.messages=10000 -X queue.buffering.max.messages=1000000 -X topic.partitioner=random -l "$WORK/records.txt"
    E=$(date +%s.%N)
    awk -v s="$S" -v e="$E" -v n="$N" -v p="$P" -v f="$FSYNC" -v c="$(cpu)" -v c0="$C" 'BEGIN { t = e - s; printf "| produce (kcat -P) | %d | %s | %d | %.2f | %d | %.1f | %.2f |\n", p, f, n, t, n / t, n * 100 / t / 1e6, c - c0 }'
    # The consumer keeps up to 1M records queued ahead (librdkafka's default of 100k makes it pause
    # between fetches), fetches up to 8 MB per partition, and waits at most 10 ms at the end of a partition
    # (the default 500 ms would be timed as part of the run); output goes to /dev/null, the count comes from
    # kcat's end-of-partition lines.
    C=$(cpu); S=$(date +%s.%N)
    kcat -b 127.0.0.1:$PORT -C -t $T -o beginning -e -X fetch.max.bytes=52428800 -X max.partition.fetch.bytes=8388608 -X fetch.wait.max.ms=10 -X queued.min.messages=1000000 >/dev/null 2>"$WORK/eof"
    E=$(date +%s.%N)
    GOT=$(consumed "$WORK/eof")
    awk -v s="$S" -v e="$E" -v n="$GOT" -v p="$P" -v f="$FSYNC" -v c="$(cpu)" -v c0="$C" 'BEGIN { t = e - s; printf "| consume (kcat -C) | %d | %s | %d | %.2f | %d | %.1f | %.2f |\n", p, f, n, t, n / t, n * 100 / t / 1e6, c - c0 }'
    if [ "$P" -gt 1 ]; then
      # One kcat per partition, in parallel (as the members of a consumer group would read them).
      C=$(cpu); S=$(date +%s.%N); KP=()
      for ((i = 0; i < P; i++)); do
        kcat -b 127.0.0.1:$PORT -C -t $T -p $i -o beginning -e -X fetch.max.bytes=52428800 -X max.partition.fetch.bytes=8388608 -X fetch.wait.max.ms=10 -X queued.min.messages=1000000 >/dev/null 2>"$WORK/eof.$i" &
        KP+=($!)
      done
      wait "${KP[@]}"
      E=$(date +%s.%N)
      GOT=$(cat "$WORK"/eof.* > "$WORK/eof"; consumed "$WORK/eof")
      awk -v s="$S" -v e="$E" -v n="$GOT" -v p="$P" -v f="$FSYNC" -v c="$(cpu)" -v c0="$C" 'BEGIN { t = e - s; printf "| consume (%d × kcat -C -p) | %d | %s | %d | %.2f | %d | %.1f | %.2f |\n", p, p, f, n, t, n / t, n * 100 / t / 1e6, c - c0 }'
    fi
  done
  kill $PID
  wait $PID 2>/dev/null || true
done

# 1 MB batches: 10,000-byte records, librdkafka batches of up to 1 MB (batch.size), 1 partition; MB/s
# against the disk and loopback figures below.
BIG=${BIG_MB:-1000}
head -c $((BIG * 750000)) /dev/urandom | base64 -w 10000 > "$WORK/big.txt"
sync # the input file's dirty pages are written back now, not during the first run
NB=$(wc -l < "$WORK/big.txt")
echo
echo "| 1 MB batches | fsync | records | MB | seconds | MB/s | broker CPU s |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: |"
for FSYNC in never always; do
  rm -rf "$WORK/data"
  node dist/src/cli/main.js serve --data-dir "$WORK/data" --host 127.0.0.1 --kafka-port $PORT --amqp-port off --http-port off --fsync $FSYNC --log-level warn &
  PID=$!
  sleep 1
  create_topic big 1
  C=$(cpu); S=$(date +%s.%N)
  kcat -b 127.0.0.1:$PORT -P -t big -X linger.ms=50 -X batch.size=1000000 -X message.max.bytes=2000000 -X queue.buffering.max.kbytes=1048576 -l "$WORK/big.txt"
  E=$(date +%s.%N)
  awk -v s="$S" -v e="$E" -v n="$NB" -v f="$FSYNC" -v c="$(cpu)" -v c0="$C" 'BEGIN { t = e - s; printf "| produce (kcat -P) | %s | %d | %.0f | %.2f | %.0f | %.2f |\n", f, n, n * 10000 / 1e6, t, n * 10000 / t / 1e6, c - c0 }'
  C=$(cpu); S=$(date +%s.%N)
  kcat -b 127.0.0.1:$PORT -C -t big -o beginning -e -X fetch.max.bytes=52428800 -X max.partition.fetch.bytes=8388608 -X fetch.wait.max.ms=10 -X queued.min.messages=1000000 -X queued.max.messages.kbytes=2000000 >/dev/null 2>"$WORK/eof"
  E=$(date +%s.%N)
  GOT=$(consumed "$WORK/eof")
  awk -v s="$S" -v e="$E" -v n="$GOT" -v f="$FSYNC" -v c="$(cpu)" -v c0="$C" 'BEGIN { t = e - s; printf "| consume (kcat -C, from cache) | %s | %d | %.0f | %.2f | %.0f | %.2f |\n", f, n, n * 10000 / 1e6, t, n * 10000 / t / 1e6, c - c0 }'
  kill $PID
  wait $PID 2>/dev/null || true
done

DD=$(dd if=/dev/zero of="$WORK/dd" bs=1M count=1024 conv=fdatasync 2>&1 | tail -1)
echo
echo "disk: dd if=/dev/zero bs=1M count=1024 conv=fdatasync → ${DD##*, }"
if command -v iperf3 >/dev/null; then
  iperf3 -s -1 -p 15201 >/dev/null 2>&1 &
  sleep 0.5
  echo "loopback: iperf3 -c 127.0.0.1 -t 3 → $(iperf3 -c 127.0.0.1 -p 15201 -t 3 | grep receiver | awk '{print $7, $8}')"
fi
