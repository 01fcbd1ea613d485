#!/bin/bash
# packd — few-shot visual anomaly detection
# Copyright (C) 2026 packd developers
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# packd-bench-element.sh: the packdfilter element at 640x480 BGRx with the
# overlay on, videotestsrc ! packdfilter ! fakesink sync=false, timed with
# gst-launch-1.0 from a build directory.
#
#   packd-bench-element.sh [-b BUILDDIR] [-n FRAMES] [-t THREADS] [-s SUPPORT_DIR]
#                          [-m PACKD_MODEL] [-r RSS_FRAMES] [-M METHOD]
#     -b  build directory (default: ./build); the plugin is BUILDDIR/gst-plugin
#     -n  frames per timing run (default 300; 0: no timing runs)
#     -t  n-threads of the element (default 2)
#     -s  folder of good images; the first 8 (sorted) are the support set
#         (default: ../shared/data/mvtec3d_tire/train/good next to the tree)
#     -m  trained PACKD model: also time method=packd
#     -r  also run RSS_FRAMES frames with METHOD (-M, default packd if -m is
#         given, else knn) and sample VmRSS of the PLAYING pipeline once a second
#
# Per method it prints frames per second with the overlay on and off, the
# engine's mean latency (the element's packdfilter-stats: scoring, heatmap,
# regions) and what remains of the frame time: the source's own time
# (measured without packdfilter) and the rest, the element's work outside
# the engine (frame mapping, overlay, metas, messages).  Numbers are
# printed, never asserted; run it on a quiet machine and note `uptime`.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
build=./build
frames=300
threads=2
support_dir="$here/../../../shared/data/mvtec3d_tire/train/good"
model=""
rss_frames=0
method_rss=""

while getopts "b:n:t:s:m:r:M:h" opt; do
  case $opt in
    b) build=$OPTARG ;;
    n) frames=$OPTARG ;;
    t) threads=$OPTARG ;;
    s) support_dir=$OPTARG ;;
    m) model=$OPTARG ;;
    r) rss_frames=$OPTARG ;;
    M) method_rss=$OPTARG ;;
    *) sed -n '7,21p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
  esac
done

export GST_PLUGIN_PATH
GST_PLUGIN_PATH=$(cd "$build/gst-plugin" && pwd)
support=$(find "$support_dir" -maxdepth 1 -type f \( -name '*.png' -o -name '*.jpg' \) | sort | head -8 | paste -sd, -)
if [ -z "$support" ]; then
  echo "packd-bench-element: no images in $support_dir" >&2
  exit 1
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/packd-bench-element.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

source_caps="videotestsrc num-buffers=$frames ! video/x-raw,format=BGRx,width=640,height=480,framerate=30/1"

# Seconds between PLAYING and EOS, from gst-launch's "Execution ended after H:MM:SS.ns".
run_seconds () {
  gst-launch-1.0 -m "$@" > "$tmp/out.txt" 2>&1 || { cat "$tmp/out.txt" >&2; return 1; }
  sed -n 's/^Execution ended after \([0-9]*\):\([0-9]*\):\([0-9.]*\)$/\1 \2 \3/p' "$tmp/out.txt" \
    | awk '{ printf "%.4f", $1 * 3600 + $2 * 60 + $3 }'
}

# Mean of latency-avg (ns) over the packdfilter-stats messages of the last run, in ms.
mean_latency_ms () {
  grep -o 'latency-avg=(guint64)[0-9]*' "$tmp/out.txt" | sed 's/.*)//' \
    | awk '{ s += $1; n++ } END { if (n) printf "%.3f", s / n / 1e6; else print "nan" }'
}

echo "packd-bench-element: $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -m), $(nproc) cores," \
  "$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), n-threads=$threads, $frames frames"
echo "load: $(uptime | sed 's/.*load/load/')"

bench_method () {
  local name=$1; shift
  local on_s off_s lat
  off_s=$(run_seconds $source_caps ! packdfilter "$@" overlay=false n-threads="$threads" \
      "support-images=<$support>" ! fakesink sync=false)
  on_s=$(run_seconds $source_caps ! packdfilter "$@" overlay=true n-threads="$threads" \
      stats-interval=100000000 "support-images=<$support>" ! fakesink sync=false)
  lat=$(mean_latency_ms)
  awk -v name="$name" -v on="$on_s" -v off="$off_s" -v n="$frames" -v src="$src_ms" -v lat="$lat" 'BEGIN {
    f_on = 1000 * on / n; f_off = 1000 * off / n
    outside = f_on - src - lat
    printf "%s: %.1f FPS overlay on (%.2f ms/frame), %.1f FPS overlay off (%.2f ms/frame)\n",
        name, 1000 / f_on, f_on, 1000 / f_off, f_off
    printf "  engine latency %.2f ms, source %.2f ms, element outside the engine %.2f ms = %.1f %% of the frame (overlay %.2f ms)\n",
        lat, src, outside, 100 * outside / f_on, f_on - f_off
  }'
}

if [ "$frames" -gt 0 ]; then
  src_s=$(run_seconds $source_caps ! fakesink sync=false)
  src_ms=$(awk -v s="$src_s" -v n="$frames" 'BEGIN { printf "%.3f", 1000 * s / n }')
  echo "source alone (videotestsrc 640x480 BGRx): $src_ms ms/frame"
  bench_method "knn (exact)" method=knn
  if [ -n "$model" ]; then
    bench_method "packd ($(basename "$model"))" method=packd model-file="$model"
  fi
fi

if [ "$rss_frames" -gt 0 ]; then
  m=${method_rss:-$([ -n "$model" ] && echo packd || echo knn)}
  extra=""
  [ "$m" != knn ] && extra="model-file=$model"
  gst-launch-1.0 videotestsrc num-buffers="$rss_frames" pattern=ball \
    ! video/x-raw,format=BGRx,width=640,height=480,framerate=30/1 \
    ! packdfilter method="$m" $extra overlay=true n-threads="$threads" \
      "support-images=<$support>" ! fakesink sync=false > "$tmp/rss-run.txt" 2>&1 &
  pid=$!
  start=$(date +%s)
  echo "RSS of the PLAYING pipeline ($m, $rss_frames frames), VmRSS kB every second:"
  while kill -0 "$pid" 2> /dev/null; do
    rss=$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$pid/status" 2> /dev/null || true)
    [ -n "$rss" ] && echo "$(($(date +%s) - start)) $rss" >> "$tmp/rss.txt"
    sleep 1
  done
  wait "$pid" || { cat "$tmp/rss-run.txt" >&2; exit 1; }
  grep -o 'Execution ended after .*' "$tmp/rss-run.txt" || true
  awk '{ t[NR] = $1; r[NR] = $2; if ($2 > max) max = $2 }
    END {
      if (NR < 3) { print "  too few samples"; exit }
      # a tenth into the run (support set built, warmed up), the middle, the last
      s = int(NR / 10) + 1
      printf "  samples %d: t=%ds %.1f MB, t=%ds %.1f MB, t=%ds %.1f MB (end); max %.1f MB\n",
          NR, t[s], r[s] / 1024, t[int((s + NR) / 2)], r[int((s + NR) / 2)] / 1024, t[NR - 1],
          r[NR - 1] / 1024, max / 1024
      printf "  curve (t s, MB):"
      step = int(NR / 12) + 1
      for (i = 1; i <= NR; i += step) printf " %d:%.1f", t[i], r[i] / 1024
      printf "\n"
    }' "$tmp/rss.txt"
fi
