#!/bin/bash
# packd — few-shot visual anomaly detection
# Copyright (C) 2026 packd developers
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Exercises the ready pipelines of pipelines/ without camera or display:
# videotestsrc / multifilesrc sources, fakesink, files and a loopback
# receiver.  Fixtures are made here with videotestsrc and compositor: a
# checkerboard texture is the good part, the same texture with a red square
# painted on it the defective one.
#
# usage: test-pipelines.sh SOURCE_ROOT BUILD_ROOT
# PACKD_PIPELINE_TESTS="monitor stream" runs a subset.
# JSON is checked with node (a test-only dependency, never the product's).
set -uo pipefail

src_root=$(cd "${1:?source root}" && pwd)
build_root=$(cd "${2:?build root}" && pwd)
pipelines=$src_root/pipelines
inspect=$build_root/pipelines/packd-inspect-folder
record=$build_root/pipelines/packd-record-on-anomaly
export PACKD_BUILD_DIR=$build_root
export GST_PLUGIN_PATH="$build_root/gst-plugin${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"

work=$(mktemp -d "$build_root/pipelines-test.XXXXXX")
n_passed=0
n_failed=0
failures=()

note() { printf '# %s\n' "$*"; }
fail() { printf '  FAIL: %s\n' "$*"; return 1; }

run_test() {
  local name=$1
  # PACKD_PIPELINE_TESTS="stream monitor" runs only those.
  [[ -z "${PACKD_PIPELINE_TESTS:-}" || " $PACKD_PIPELINE_TESTS " == *" $name "* ]] || return 0
  local log="$work/$name.log"
  local start=$SECONDS rc
  # Not in an if: errexit would be off inside the test.
  (set -e; "test_$name") >"$log" 2>&1
  rc=$?
  if (( rc == 0 )); then
    n_passed=$((n_passed + 1))
    printf 'ok - %s (%ds)\n' "$name" $((SECONDS - start))
  else
    n_failed=$((n_failed + 1))
    failures+=("$name")
    printf 'not ok - %s (%ds)\n' "$name" $((SECONDS - start))
    sed 's/^/    /' "$log"
  fi
}

# node -e with the JSON helpers; the script gets the file as process.argv[1].
json() {
  local file=$1 script=$2
  node -e "
    const fs = require('fs');
    const text = fs.readFileSync(process.argv[1], 'utf8');
    const lines = () => text.split('\n').filter(l => l.length > 0).map(l => JSON.parse(l));
    const doc = () => JSON.parse(text);
    $script" "$file"
}

# Width and height of a PNG, from its IHDR chunk.
png_size() {
  local bytes
  [[ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" == 89504e470d0a1a0a ]] || return 1
  read -r -a bytes <<<"$(od -An -tu1 -j16 -N8 "$1")"
  echo "$(( (bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3] ))x$((
    (bytes[4] << 24) | (bytes[5] << 16) | (bytes[6] << 8) | bytes[7] ))"
}

have() { gst-inspect-1.0 --exists "$1" 2>/dev/null; }

# ---------------------------------------------------------------------------
# Fixtures

make_fixtures() {
  local f=$work/fixtures
  mkdir -p "$f"
  gst-launch-1.0 -q videotestsrc num-buffers=1 pattern=checkers-8 \
    ! video/x-raw,width=320,height=240 ! videoconvert ! pngenc ! filesink location="$f/good.png"
  gst-launch-1.0 -q compositor name=c sink_1::xpos=140 sink_1::ypos=100 \
    ! videoconvert ! pngenc ! filesink location="$f/defect.png" \
    videotestsrc num-buffers=1 pattern=checkers-8 ! video/x-raw,width=320,height=240 ! c. \
    videotestsrc num-buffers=1 pattern=solid-color foreground-color=0xffff2020 \
    ! video/x-raw,width=40,height=40 ! c.
  # A second support image: the texture shifted by a few pixels.
  gst-launch-1.0 -q videotestsrc num-buffers=1 pattern=checkers-8 \
    ! video/x-raw,width=336,height=256 ! videocrop left=3 top=5 right=13 bottom=11 \
    ! videoconvert ! pngenc ! filesink location="$f/good2.png"
  [[ -s "$f/good.png" && -s "$f/defect.png" && -s "$f/good2.png" ]]
}

# ---------------------------------------------------------------------------
# monitor.sh

test_monitor() {
  local out=$work/monitor
  mkdir -p "$out"
  timeout 60 "$pipelines/monitor.sh" --support "$work/fixtures/good.png" --threshold 0.6 \
    --source 'videotestsrc num-buffers=8 ! video/x-raw,width=160,height=120' \
    --sink fakesink --json "$out/frames.jsonl" >"$out/stdout" 2>&1 ||
    { cat "$out/stdout"; fail "monitor.sh exited with an error"; }
  grep -q '^gst-launch-1.0 -e videotestsrc .* packdfilter .*threshold=0.6.* fakesink$' "$out/stdout" ||
    fail "the gst-launch line is not printed"
  # One JSON line per frame, each with the threshold given.
  json "$out/frames.jsonl" '
    const l = lines();
    if (l.length != 8) throw new Error(l.length + " JSON lines, expected 8");
    for (const o of l)
      if (o.threshold != 0.6 || typeof o.score != "number") throw new Error("bad line");'
  # Defaults: a camera and a display.
  "$pipelines/monitor.sh" --dry-run --support "$work/fixtures/good.png" >"$out/dry" 2>&1
  grep -q '^gst-launch-1.0 -e v4l2src .* autovideosink$' "$out/dry" ||
    { cat "$out/dry"; fail "default pipeline is not v4l2src ... autovideosink"; }
}

test_monitor_file() {
  local out=$work/monitor-file
  mkdir -p "$out"
  gst-launch-1.0 -q videotestsrc num-buffers=5 pattern=checkers-8 \
    ! video/x-raw,width=160,height=120,framerate=10/1 ! vp8enc deadline=1 ! webmmux \
    ! filesink location="$out/clip.webm"
  timeout 60 "$pipelines/monitor.sh" --support "$work/fixtures/good.png" --file "$out/clip.webm" \
    --sink fakesink --json "$out/frames.jsonl" >"$out/stdout" 2>&1 ||
    { cat "$out/stdout"; fail "monitor.sh --file failed"; }
  json "$out/frames.jsonl" '
    const l = lines();
    if (l.length != 5) throw new Error(l.length + " JSON lines, expected 5");'
}

# ---------------------------------------------------------------------------
# record-on-anomaly: good -> defective -> good

test_record_on_anomaly() {
  local out=$work/record seq=$work/record/frames
  local fps=5 first_defect=10 last_defect=17 n_frames=35
  local min_frames=2 hold=1 pre=1 post=1
  mkdir -p "$seq"
  for ((i = 0; i < n_frames; i++)); do
    if ((i >= first_defect && i <= last_defect)); then
      cp "$work/fixtures/defect.png" "$seq/$(printf 'f_%03d.png' "$i")"
    else
      cp "$work/fixtures/good.png" "$seq/$(printf 'f_%03d.png' "$i")"
    fi
  done
  timeout 90 "$record" \
    --source "multifilesrc location=$seq/f_%03d.png caps=image/png,framerate=$fps/1 ! pngdec" \
    --support "$work/fixtures/good.png,$work/fixtures/good2.png" \
    --alert-min-frames $min_frames --alert-hold-time $hold --pre-roll $pre --post-roll $post \
    --keyframe-interval 5 --out-dir "$out/clips" --events "$out/events.jsonl" \
    >"$out/stdout" 2>&1 || { cat "$out/stdout"; fail "packd-record-on-anomaly failed"; }
  cat "$out/stdout"

  local clips=("$out"/clips/anomaly-*)
  (( ${#clips[@]} == 1 )) && [[ -s "${clips[0]}" ]] ||
    fail "expected exactly one clip, got: ${clips[*]}"

  # Times in ns.  The episode begins on the min_frames-th defective frame and
  # ends on the first frame hold seconds after the last defective one.
  local frame=$((1000000000 / fps))
  local expect_begin=$(( (first_defect + min_frames - 1) * frame ))
  local expect_end=$(( last_defect * frame + hold * 1000000000 ))
  local defect_start=$((first_defect * frame)) defect_stop=$(( (last_defect + 1) * frame ))
  json "$out/events.jsonl" "
    const l = lines();
    if (l.length != 1) throw new Error(l.length + ' episodes logged, expected 1');
    const e = l[0], frame = $frame;
    const near = (v, want, what) => {
      if (Math.abs(v - want) > frame)
        throw new Error(what + ' ' + v + ' is not within a frame of ' + want);
    };
    near(e.begin_running_time, $expect_begin, 'begin');
    near(e.end_running_time, $expect_end, 'end');
    if (e.clip != '${clips[0]}') throw new Error('clip ' + e.clip + ' is not ${clips[0]}');
    if (!(e.peak_score >= e.threshold)) throw new Error('peak below threshold');
    if (e.clip_start_running_time > e.begin_running_time - $pre * 1e9)
      throw new Error('pre-roll missing: clip starts at ' + e.clip_start_running_time);
    if (e.clip_start_running_time > $defect_start || e.clip_end_running_time < $defect_stop)
      throw new Error('clip does not cover the defective frames');
    near(e.clip_end_running_time, e.end_running_time + $post * 1e9 + frame, 'clip end');
    console.log(e.clip_end_running_time - e.clip_start_running_time);" >"$out/span"

  # Playable: it decodes to one frame per recorded frame.
  local span n_decoded
  span=$(cat "$out/span")
  n_decoded=$(timeout 30 gst-launch-1.0 -v filesrc location="${clips[0]}" ! decodebin \
    ! fakesink silent=false 2>&1 | grep -c 'last-message = chain' || true)
  (( n_decoded == span / frame )) ||
    fail "decoded $n_decoded frames, the log says $((span / frame))"
  if command -v gst-discoverer-1.0 >/dev/null; then
    gst-discoverer-1.0 "${clips[0]}" >"$out/discover" 2>&1 || fail "gst-discoverer failed"
    grep -q "Duration: 0:00:0$((span / 1000000000))\.$(printf '%09d' $((span % 1000000000)))" \
      "$out/discover" || { cat "$out/discover"; fail "clip duration is not $span ns"; }
  fi
}

# The gst-plugins-good fallback (VP8 in Matroska), and --max-frames ending
# the run inside the episode: the clip is closed at EOS.
test_record_vp8_max_frames() {
  local out=$work/record-vp8 seq=$work/record/frames
  timeout 90 "$record" \
    --source "multifilesrc location=$seq/f_%03d.png caps=image/png,framerate=5/1 ! pngdec" \
    --support "$work/fixtures/good.png" --encoder vp8 --max-frames 15 \
    --alert-min-frames 1 --pre-roll 0 --keyframe-interval 5 --out-dir "$out" \
    >"$out.stdout" 2>&1 || { cat "$out.stdout"; fail "packd-record-on-anomaly failed"; }
  local clips=("$out"/anomaly-*.mkv)
  (( ${#clips[@]} == 1 )) && [[ -s "${clips[0]}" ]] || fail "expected one mkv clip"
  # Frames 10..14 (2.0 s .. 3.0 s) were recorded: the run stopped after 15.
  json "$out/events.jsonl" "
    const e = lines()[0];
    if (e.begin_running_time != 2000000000 || e.end_running_time != 2800000000)
      throw new Error('episode ' + e.begin_running_time + ' - ' + e.end_running_time);
    if (e.clip_start_running_time != 2000000000 || e.clip_end_running_time != 3000000000)
      throw new Error('clip ' + e.clip_start_running_time + ' - ' + e.clip_end_running_time);"
  local n_decoded
  n_decoded=$(timeout 30 gst-launch-1.0 -v filesrc location="${clips[0]}" ! decodebin \
    ! fakesink silent=false 2>&1 | grep -c 'last-message = chain' || true)
  (( n_decoded == 5 )) || fail "decoded $n_decoded frames, expected 5"
}

# ---------------------------------------------------------------------------
# stream.sh: sender -> loopback -> receiver that decodes frames

test_stream() {
  local out=$work/stream codec=vp8 port=$((20000 + RANDOM % 20000))
  mkdir -p "$out"
  if have x264enc && { have avdec_h264 || have openh264dec; }; then
    codec=h264
  fi
  note "codec $codec, port $port"
  # The receiver ends after 5 decoded frames.
  timeout 60 "$pipelines/stream.sh" --receive --codec $codec --port $port \
    --sink 'identity eos-after=5 ! fakesink' >"$out/receiver" 2>&1 &
  local receiver=$!
  sleep 1
  timeout 60 "$pipelines/stream.sh" --support "$work/fixtures/good.png" --codec $codec \
    --source 'videotestsrc num-buffers=30 ! video/x-raw,width=160,height=120,framerate=10/1' \
    --host 127.0.0.1 --port $port >"$out/sender" 2>&1 ||
    { cat "$out/sender"; kill $receiver; fail "sender failed"; }
  wait $receiver || { cat "$out/receiver"; fail "the receiver did not decode 5 frames"; }
  grep -q 'Got EOS' "$out/receiver" || fail "receiver ended without EOS"
  grep -q '^gst-launch-1.0 -e videotestsrc .* packdfilter .* udpsink host=127.0.0.1' \
    "$out/sender" || fail "sender line not printed"
}

# ---------------------------------------------------------------------------
# inspect-folder

test_inspect_folder() {
  local out=$work/inspect in=$work/inspect/in
  mkdir -p "$in"
  cp "$work/fixtures/good.png" "$in/a_good.png"
  cp "$work/fixtures/defect.png" "$in/b_defect.png"
  # Another size, and JPEG.
  gst-launch-1.0 -q videotestsrc num-buffers=1 pattern=checkers-8 \
    ! video/x-raw,width=200,height=150 ! videoconvert ! jpegenc ! filesink location="$in/c_small.jpg"
  echo "not an image" >"$in/d_broken.png"
  timeout 90 "$inspect" --support "$work/fixtures/good.png" --support "$work/fixtures/good2.png" \
    --out-dir "$out/result" "$in" >"$out/stdout" 2>&1 || { cat "$out/stdout"; fail "failed"; }
  cat "$out/stdout"

  json "$out/result/results.jsonl" "
    const l = lines();
    if (l.length != 4) throw new Error(l.length + ' lines, expected 4');
    const by = {};
    for (const o of l) by[o.file.replace(/.*\//, '')] = o;
    if (!by['d_broken.png'].error) throw new Error('broken image has no error');
    for (const n of ['a_good.png', 'b_defect.png', 'c_small.jpg'])
      if (typeof by[n].score != 'number' || !Array.isArray(by[n].regions))
        throw new Error(n + ' has no score');
    if (by['c_small.jpg'].resolution.width != 200) throw new Error('wrong resolution');
    if (!(by['b_defect.png'].score > by['a_good.png'].score))
      throw new Error('the defect does not score above the good image');
    if (!by['b_defect.png'].anomalous || by['a_good.png'].anomalous)
      throw new Error('wrong verdicts');"
  json "$out/result/summary.json" "
    const s = doc();
    if (s.images != 4 || s.failed != 1 || s.anomalous + s.normal != 3)
      throw new Error('counts ' + JSON.stringify(s));
    if (!s.worst[0].file.endsWith('b_defect.png')) throw new Error('worst is not the defect');"
  [[ "$(png_size "$out/result/annotated/a_good.png")" == 320x240 ]] || fail "a_good.png"
  [[ "$(png_size "$out/result/annotated/b_defect.png")" == 320x240 ]] || fail "b_defect.png"
  [[ "$(png_size "$out/result/annotated/c_small.png")" == 200x150 ]] || fail "c_small.png"
  [[ ! -e "$out/result/annotated/d_broken.png" ]] || fail "annotated a broken image"
  # The overlay changed the pixels.
  ! cmp -s "$in/b_defect.png" "$out/result/annotated/b_defect.png" || fail "no overlay"
}

# ---------------------------------------------------------------------------
# main-job.sh: the bundled demo

test_main_job() {
  local out=$work/main-job
  timeout 90 "$pipelines/main-job.sh" "$build_root" "$out" >"$work/main-job.out" 2>&1 ||
    { cat "$work/main-job.out"; fail "main-job.sh failed"; }
  cat "$work/main-job.out"
  grep -q "Annotated images .*: $out/annotated/" "$work/main-job.out" ||
    fail "the output folder is not named"
  local f
  for f in good_50600052 good_50600068 defect_50600052 defect_50600068; do
    [[ "$(png_size "$out/annotated/$f.png")" == 256x256 ]] || fail "$f.png missing"
  done
  json "$out/summary.json" "
    const s = doc();
    if (s.images != 4 || s.failed != 0 || s.support_images.length != 4)
      throw new Error('counts ' + JSON.stringify(s));"
}

note "work folder $work"
if ! make_fixtures >"$work/fixtures.log" 2>&1; then
  cat "$work/fixtures.log"
  echo "0 passed, 1 failed"
  exit 1
fi
run_test monitor
run_test monitor_file
run_test record_on_anomaly
run_test record_vp8_max_frames
run_test stream
run_test inspect_folder
run_test main_job

if (( n_failed == 0 )); then
  rm -rf "$work"
else
  note "failed: ${failures[*]}; files kept in $work"
fi
echo "$n_passed passed, $n_failed failed"
(( n_failed == 0 ))
