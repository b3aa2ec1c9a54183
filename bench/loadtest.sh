#!/usr/bin/env bash
# Load test of `snapscore serve` on loopback with wrk (Debian package `wrk`): throughput and latency at
# concurrency 1, 8 and 64, micro-batching on (--max-batch 8) and off (--max-batch 1), and the server's
# RSS before and after. Usage: bench/loadtest.sh [--model DIR] [--photo FILE] [--seconds N]
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
model="$root/models/vgg-mini" photo="$root/samples/astronaut.png" seconds=10
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model=$2; shift 2 ;;
    --photo) photo=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    -h|--help) sed -n '2,4p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
command -v wrk >/dev/null || { echo "needs wrk: apt-get install wrk" >&2; exit 2; }
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
cat > "$work/post.lua" <<LUA
local f = assert(io.open("$photo", "rb"))
wrk.method = "POST"
wrk.body = f:read("*all")
f:close()
wrk.headers["Content-Type"] = "application/octet-stream"
done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d errors=%d rps=%.1f p50_ms=%.1f p99_ms=%.1f\n",
    summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.timeout,
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
LUA
rss() { awk '/VmRSS/ {printf "%.0f MB", $2 / 1024}' "/proc/$1/status"; }
port=18080
echo "| micro-batching | concurrency | requests/s | p50 ms | p99 ms | non-2xx or socket errors |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
for batch in 8 1; do
  "$root/snapscore" serve --model "$model" --port "$port" --max-batch "$batch" --queue 128 2>"$work/serve.log" &
  server=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
  before=$(rss "$server")
  total=0
  for c in 1 8 64; do
    line=$(wrk -t"$([ "$c" = 1 ] && echo 1 || echo 2)" -c"$c" -d"${seconds}s" --timeout 10s -s "$work/post.lua" "http://127.0.0.1:$port/v1/score" | grep RESULT)
    eval "${line#RESULT }"
    total=$((total + requests))
    echo "| $([ "$batch" = 1 ] && echo off || echo "on (max $batch)") | $c | $rps | $p50_ms | $p99_ms | $errors |"
  done
  echo "RSS with --max-batch $batch: $before before, $(rss "$server") after $total requests" >&2
  kill "$server"; wait "$server" 2>/dev/null || true
  port=$((port + 1))
done
