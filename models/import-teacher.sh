#!/bin/bash
# packd — few-shot visual anomaly detection
# Copyright (C) 2026 packd developers
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Imports the pretrained teacher: the Keras MobileNetV2 bundled in npm
# nsfwjs@4.4.0 (MIT, (c) Infinite Red), converted by packd-convert-teacher into
#   models/teacher-mobilenetv2.safetensors   (+ models/LICENSE.nsfwjs)
#
# usage: models/import-teacher.sh [--force] BUILD_DIR
#   BUILD_DIR  meson build directory holding engine/tools/packd-convert-teacher
#   --force    convert again even when the output is up to date
# The npm tarball is kept in models/.cache/ so later runs need no network;
# PACKD_NSFWJS_TGZ=/path/to/nsfwjs-4.4.0.tgz uses a tarball you already have.
set -euo pipefail

readonly NSFWJS_SPEC="nsfwjs@4.4.0"
readonly NSFWJS_TGZ_NAME="nsfwjs-4.4.0.tgz"
readonly NSFWJS_SHA1="706017d11e44de0803b73a568819f800a50ae470"
readonly MODEL_DIR_IN_TGZ="package/dist/models/mobilenet_v2"
# float32 payload after BN folding: 2,619,461 - 3 * 17,056 (BN channels) parameters.
readonly TEACHER_DATA_BYTES=$((2568293 * 4))

say() { printf 'import-teacher: %s\n' "$*"; }
die() { printf 'import-teacher: error: %s\n' "$*" >&2; exit 1; }

force=0
build_dir=""
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    -h|--help) sed -n '6,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $arg (see --help)" ;;
    *) [[ -z "$build_dir" ]] || die "more than one BUILD_DIR given"; build_dir="$arg" ;;
  esac
done
[[ -n "$build_dir" ]] || die "usage: $0 [--force] BUILD_DIR"

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$repo/models/teacher-mobilenetv2.safetensors"
licence_out="$repo/models/LICENSE.nsfwjs"
converter_src="$repo/engine/tools/packd-convert-teacher.c"
cache_dir="$repo/models/.cache"

# A relative BUILD_DIR is taken from the current directory, else from the repo.
if [[ -d "$build_dir" ]]; then
  build_dir="$(cd "$build_dir" && pwd)"
elif [[ -d "$repo/$build_dir" ]]; then
  build_dir="$repo/$build_dir"
else
  die "build directory '$build_dir' not found (run: meson setup build && meson compile -C build)"
fi
converter="$build_dir/engine/tools/packd-convert-teacher"

# Up to date: both outputs exist, the teacher is newer than the converter
# source and its size is 8 + header length + the float32 payload.
teacher_file_complete() {
  [[ -f "$out" && -f "$licence_out" && "$out" -nt "$converter_src" ]] || return 1
  local size header_len
  size=$(stat -c %s "$out")
  (( size > 8 )) || return 1
  # First 8 bytes: little-endian u64 header length.
  header_len=$(od -An -tu1 -N8 "$out" |
    awk '{ n = 0; for (i = NF; i >= 1; i--) n = n * 256 + $i; print n }')
  (( size == 8 + header_len + TEACHER_DATA_BYTES ))
}

if (( ! force )) && teacher_file_complete; then
  say "up to date: $out (use --force to convert again)"
  exit 0
fi

[[ -x "$converter" ]] || die "$converter not built (run: meson compile -C $build_dir)"
command -v node >/dev/null || die "node not found (Debian package nodejs)"

sha1_ok() { [[ "$(sha1sum "$1" | cut -d' ' -f1)" == "$NSFWJS_SHA1" ]]; }

tmp="$(mktemp -d "${TMPDIR:-/tmp}/packd-import-teacher.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

# Find the pinned tarball: PACKD_NSFWJS_TGZ, the cache, or npm.
if [[ -n "${PACKD_NSFWJS_TGZ:-}" ]]; then
  tgz="$PACKD_NSFWJS_TGZ"
  [[ -f "$tgz" ]] || die "PACKD_NSFWJS_TGZ=$tgz: no such file"
  sha1_ok "$tgz" || die "PACKD_NSFWJS_TGZ=$tgz: sha1 is not $NSFWJS_SHA1 (not $NSFWJS_SPEC)"
  say "using $tgz (PACKD_NSFWJS_TGZ)"
else
  tgz="$cache_dir/$NSFWJS_TGZ_NAME"
  if [[ -f "$tgz" ]] && ! sha1_ok "$tgz"; then
    say "cached $tgz has the wrong sha1, fetching it again"
    rm -f "$tgz"
  fi
  if [[ -f "$tgz" ]]; then
    say "using cached $tgz"
  else
    command -v npm >/dev/null || die "npm not found (Debian package npm) and no cached $NSFWJS_TGZ_NAME"
    say "fetching $NSFWJS_SPEC with npm pack"
    (cd "$tmp" && npm pack "$NSFWJS_SPEC" --ignore-scripts --loglevel=error >/dev/null) ||
      die "npm pack $NSFWJS_SPEC failed (network? set PACKD_NSFWJS_TGZ to a local copy)"
    [[ -f "$tmp/$NSFWJS_TGZ_NAME" ]] || die "npm pack did not produce $NSFWJS_TGZ_NAME"
    sha1_ok "$tmp/$NSFWJS_TGZ_NAME" ||
      die "downloaded $NSFWJS_TGZ_NAME has sha1 $(sha1sum "$tmp/$NSFWJS_TGZ_NAME" | cut -d' ' -f1), expected $NSFWJS_SHA1"
    mkdir -p "$cache_dir"
    mv "$tmp/$NSFWJS_TGZ_NAME" "$tgz"
    say "cached the tarball in $tgz"
  fi
fi

tar xzf "$tgz" -C "$tmp" "$MODEL_DIR_IN_TGZ" package/LICENSE ||
  die "$tgz does not contain $MODEL_DIR_IN_TGZ and package/LICENSE"

# model.min.js is a JS object literal, not JSON: let node serialise it.
(cd "$tmp/$MODEL_DIR_IN_TGZ" &&
  node -e 'console.log(JSON.stringify(require("./model.min.js")))' >"$tmp/model.json") ||
  die "node could not read $MODEL_DIR_IN_TGZ/model.min.js"

"$converter" \
  --model-json "$tmp/model.json" \
  --weights "$tmp/$MODEL_DIR_IN_TGZ/group1-shard1of1.min.js" \
  --out "$out" \
  --source-note "npm $NSFWJS_SPEC ${MODEL_DIR_IN_TGZ#package/}, tgz sha1 $NSFWJS_SHA1" ||
  die "conversion failed"
cp "$tmp/package/LICENSE" "$licence_out"

say "wrote $out ($(stat -c %s "$out") bytes) and $licence_out"
teacher_file_complete || die "$out does not have the expected size"
