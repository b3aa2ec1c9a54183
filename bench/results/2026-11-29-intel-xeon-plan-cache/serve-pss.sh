#!/usr/bin/env bash
# Two `serve` processes on VGG16 f32: combined PSS with and without the plan cache (smaps_rollup), after one request each.
set -u
root=/work/wt-cache; model=/tmp/m/vgg16; cache=/tmp/m/pss-cache
java=(/usr/lib/jvm/temurin-25-jdk-amd64/bin/java --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow -Dsnapscore.home=$root -jar $root/tools/target/snapscore.jar serve --model $model)
img=$root/samples/$(ls $root/samples | grep -i png | head -1)
start() { "${java[@]}" --port $1 "${@:2}" > /tmp/cachebench/serve-$1.log 2>&1 & echo $!; }
ready() { for i in $(seq 1 300); do curl -sf http://127.0.0.1:$1/healthz >/dev/null && return 0; sleep 1; done; return 1; }
field() { awk -v f="$2:" '$1==f {print $2}' /proc/$1/smaps_rollup; }
measure() {
  local label=$1; shift
  a=$(start 18081 "$@"); b=$(start 18082 "$@")
  ready 18081 && ready 18082 || { echo "not ready"; tail /tmp/cachebench/serve-*.log; }
  for p in 18081 18082; do curl -s -H 'Content-Type: image/png' --data-binary @$img http://127.0.0.1:$p/v1/score | head -c 80; echo; done
  sleep 2
  ta=0; tb=0
  for pid in $a $b; do
    echo "$label pid $pid: Rss $(field $pid Rss) kB, Pss $(field $pid Pss) kB (anon $(field $pid Pss_Anon), file $(field $pid Pss_File)), Anonymous $(field $pid Anonymous)"
  done
  echo "$label combined Pss: $(( $(field $a Pss) + $(field $b Pss) )) kB, combined Rss: $(( $(field $a Rss) + $(field $b Rss) )) kB"
  kill $a $b; wait $a $b 2>/dev/null
}
rm -rf $cache
measure "no cache" --no-cache
# Warm the cache once (the first load of a machine writes it), then two servers that both map it.
w=$(start 18083 --cache-dir $cache); ready 18083; kill $w; wait $w 2>/dev/null
measure "cache" --cache-dir $cache
