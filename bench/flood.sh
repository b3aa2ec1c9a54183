#!/usr/bin/env bash
# Upload flood against `snapscore serve` on loopback: --clients concurrent clients each POST a --body-mb MB body
# (random bytes: the server must cope with any body) over and over for --seconds, against a --heap heap, while
# /healthz is polled every 100 ms. Prints /healthz latency (max, p99, over 1 s), the flood's status counts, the
# longest GC pause, then checks that the server recovers: the budget back at 0 and a real photo scored 200.
# Ends non-zero if /healthz ever took 1 s or more or failed, or if the server did not recover.
# All clients share 127.0.0.1, so the server runs with --max-connections-per-address --per-address (default 0: no
# limit, as for --clients distinct clients; the poller shares the address too).
# Usage: bench/flood.sh [--model DIR] [--photo FILE] [--clients 128] [--body-mb 19] [--seconds 40] [--heap 512m] [--per-address 0]
#        [--keep DIR: keep the polls (time since start, status, seconds), GC log and server log there]
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
model="$root/models/vgg-mini" photo="$root/samples/astronaut.png" clients=128 body_mb=19 seconds=40 heap=512m per_address=0 keep=
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model=$2; shift 2 ;;
    --photo) photo=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --body-mb) body_mb=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --heap) heap=$2; shift 2 ;;
    --per-address) per_address=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
work=$(mktemp -d)
server= loops=()
cleanup() {
  for p in "${loops[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -n "$server" ] && { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; }
  [ -n "$keep" ] && mkdir -p "$keep" && cp "$work"/{health,gc.log,serve.log} "$keep"/ 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
head -c $((body_mb * 1000000)) /dev/urandom > "$work/body.bin"
port=18190 url="http://127.0.0.1:18190"
# -Xlog:gc: the longest pause, to tell a GC stall from the server's own doing.
SNAPSCORE_JAVA_OPTS="-Xmx$heap -Xlog:gc:file=$work/gc.log" "$root/snapscore" serve --model "$model" --port "$port" --max-connections-per-address "$per_address" 2>"$work/serve.log" &
server=$!
until curl -sf "$url/healthz" >/dev/null 2>&1; do
  kill -0 "$server" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
  sleep 0.5
done
# Each client is one curl that streams the file (-T: not held in memory) to the server again as soon as it is
# answered: the same -T, URL and output many times in a config file (a process per request would load the machine
# more than the server does). Status codes go to stderr, which is unbuffered, so that none are lost at the kill.
awk -v f="$work/body.bin" -v u="$url/v1/score" \
  'BEGIN {for (i = 0; i < 5000; i++) printf "upload-file = \"%s\"\nurl = \"%s\"\noutput = \"/dev/null\"\n", f, u}' > "$work/flood.conf"
# The clients run at the lowest CPU priority: on the server's own machine they would otherwise measure how
# they starve it of CPU, which clients elsewhere do not.
for i in $(seq "$clients"); do
  nice -n 19 curl -s -w '%{stderr}%{http_code}\n' --max-time 60 -X POST -H 'Content-Type: application/octet-stream' \
    -K "$work/flood.conf" 2>"$work/codes.$i" &
  loops+=($!)
done
start=$(date +%s.%N) end=$(($(date +%s) + seconds))
touch "$work/health"
# The health poller: status and seconds of each /healthz, a failure or a 5 s timeout counted as such.
while [ "$(date +%s)" -lt "$end" ]; do
  at=$(awk -v t="$(date +%s.%N)" -v s="$start" 'BEGIN {printf "%.2f", t - s}')
  curl -s -o /dev/null -w "%{http_code} %{time_total} %{time_connect} $at\n" --max-time 5 "$url/healthz" >> "$work/health" || true
  sleep 0.1
done
metrics_during=$(curl -s --max-time 5 "$url/metrics" || true)
for p in "${loops[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
loops=()
echo "flood: $clients clients x ${body_mb} MB bodies for ${seconds} s, heap $heap"
echo "flood answers by status:"
cat "$work"/codes.* | sort | uniq -c | awk '{printf "  %s: %d\n", $2, $1}'
sort -k2 -g "$work/health" | awk '{t[NR] = $2; if ($3 > c) c = $3; if ($1 != 200) bad++; if ($2 >= 1) slow++}
  END {p99 = t[int(NR * 0.99) > 0 ? int(NR * 0.99) : 1];
       printf "healthz: %d polls, max %.3f s, p99 %.3f s, median %.3f s, %d at 1 s or more, %d not 200; connecting took at most %.3f s\n", NR, t[NR], p99, t[int((NR + 1) / 2)], slow, bad, c
       printf "%s %d\n", t[NR], slow + bad + (NR == 0) > "/dev/stderr"}' 2>"$work/health.verdict"
awk '$1 != 200 {n[$1]++} END {for (c in n) printf "  healthz answered %s: %d times\n", c, n[c]}' "$work/health"
echo "$metrics_during" | grep -E '^snapscore_(body_bytes_in_flight|connections_open|requests_rejected_total|slow_bodies_total|connections_refused_per_address_total) ' \
  | sed 's/^/  during the flood: /' || true
grep -E 'Pause' "$work/gc.log" | awk '{ms = $NF + 0; if (ms > max) max = ms; n++} END {printf "GC: %d pauses, longest %.1f ms\n", n, max}' || true
rss=$(awk '/VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$(pgrep -P "$server" java || echo "$server")/status" 2>/dev/null || echo "?")
# Recovery: the budget empties and a real photo is scored.
inflight=
for _ in $(seq 50); do
  inflight=$(curl -s --max-time 5 "$url/metrics" | awk '/^snapscore_body_bytes_in_flight / {print $2}')
  [ "$inflight" = 0 ] && break
  sleep 0.2
done
photo_status=$(curl -s -o "$work/photo.json" -w '%{http_code}' --max-time 30 -H 'Content-Type: application/octet-stream' \
  --data-binary "@$photo" "$url/v1/score" || true)
echo "after: body bytes in flight $inflight, $(basename "$photo") -> $photo_status $(cat "$work/photo.json"), server RSS $rss MB"
kill -0 "$server" 2>/dev/null || { echo "the server died:" >&2; tail -5 "$work/serve.log" >&2; exit 1; }
read -r _ failed < "$work/health.verdict"
[ "$inflight" = 0 ] && [ "$photo_status" = 200 ] && [ "$failed" = 0 ]
