#!/usr/bin/env bash
# Soak test of `snapscore serve` on loopback with wrk (Debian package `wrk`): a warm-up, then rounds of
# --round seconds until at least --requests requests, the server's RSS after each round, and every error
# (non-2xx, socket errors, timeouts). Ends non-zero on any error or if RSS after warm-up grows more than 10%.
# Usage: bench/soak.sh [--model DIR] [--photo FILE] [--requests N] [--concurrency C] [--round S] [--warmup S]
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
model="$root/models/vgg-mini" photo="$root/samples/astronaut.png" goal=10000 concurrency=8 round=15 warmup=60
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model=$2; shift 2 ;;
    --photo) photo=$2; shift 2 ;;
    --requests) goal=$2; shift 2 ;;
    --concurrency) concurrency=$2; shift 2 ;;
    --round) round=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
command -v wrk >/dev/null || { echo "needs wrk: apt-get install wrk" >&2; exit 2; }
work=$(mktemp -d)
server=
trap '[ -n "$server" ] && { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; }; rm -rf "$work"' EXIT
cat > "$work/post.lua" <<LUA
local f = assert(io.open("$photo", "rb"))
wrk.method = "POST"
wrk.body = f:read("*all")
f:close()
wrk.headers["Content-Type"] = "application/octet-stream"
done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d errors=%d rps=%.1f p99_ms=%.1f\n", summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.requests / (summary.duration / 1e6), latency:percentile(99) / 1000))
end
LUA
rss_mb() { awk '/VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }
port=18180
"$root/snapscore" serve --model "$model" --port "$port" --queue 128 2>"$work/serve.log" &
server=$!
# The launcher may build the jars first: wait as long as the server lives.
until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; do
  kill -0 "$server" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
  sleep 0.5
done
pid=$(pgrep -P "$server" java || echo "$server") # the launcher execs java, or runs it as a child
run() { wrk -t2 -c"$concurrency" -d"${1}s" --timeout 10s -s "$work/post.lua" "http://127.0.0.1:$port/v1/score" | grep RESULT; }
echo "RSS at start: $(rss_mb "$pid") MB"
line=$(run "$warmup"); eval "${line#RESULT }"
base=$(rss_mb "$pid")
echo "warm-up: $requests requests, $errors errors; RSS $base MB"
total=0 errs=0 max=$base
echo "| requests so far | requests/s | p99 ms | errors | RSS MB |"
echo "| ---: | ---: | ---: | ---: | ---: |"
while [ "$total" -lt "$goal" ]; do
  line=$(run "$round"); eval "${line#RESULT }"
  total=$((total + requests)); errs=$((errs + errors))
  now=$(rss_mb "$pid"); [ "$now" -gt "$max" ] && max=$now
  echo "| $total | $rps | $p99_ms | $errors | $now |"
done
growth=$(awk -v a="$base" -v b="$max" 'BEGIN {printf "%.1f", (b - a) * 100 / a}')
echo "soak: $total requests after warm-up, $errs errors; RSS $base MB after warm-up, at most $max MB after ($growth%)"
kill "$server"; wait "$server" 2>/dev/null || true; server=
[ "$errs" -eq 0 ] && awk -v g="$growth" 'BEGIN {exit !(g <= 10)}'
