# packd — few-shot visual anomaly detection
# Copyright (C) 2026 packd developers
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Sourced by monitor.sh and stream.sh: the options they share and the pieces
# of gst-launch-1.0 command lines around packdfilter.  Pipelines are built
# as bash arrays, one gst-launch token per element, so paths with spaces
# survive (gst-launch escapes them); support images are the exception: the
# '<a,b>' array syntax of gst-launch takes neither commas nor spaces in paths.

packd_die() { printf '%s: error: %s\n' "${0##*/}" "$*" >&2; exit 2; }

# Prints the script's help: its comment block after the licence lines.
packd_usage() { awk 'NR > 5 { if (!/^#/) exit; sub(/^# ?/, ""); print }' "$0"; }

# Run from a source tree: use its freshly built plugin (PACKD_BUILD_DIR, or
# ./build next to pipelines/) ahead of an installed one.
packd_use_build_tree() {
  local here build
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  build=${PACKD_BUILD_DIR:-$here/../build}
  if [[ -f "$build/gst-plugin/libgstpackd.so" ]]; then
    export GST_PLUGIN_PATH="$build/gst-plugin${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
  fi
}

packd_have_element() { gst-inspect-1.0 --exists "$1" 2>/dev/null; }

# State filled by packd_parse_common.
packd_support=()
packd_detector_props=()
packd_source_desc=""
packd_source_file=""
packd_device=""
packd_dry_run=0

# packd_parse_common OPTION [VALUE]: handles an option shared by the scripts
# and sets packd_shift to the number of words it used (0 when not shared).
packd_parse_common() {
  packd_shift=2
  case "$1" in
    -s|--support)
      [[ $# -ge 2 ]] || packd_die "$1 needs a value"
      local -a items
      IFS=',' read -r -a items <<<"$2"
      packd_support+=("${items[@]}") ;;
    -S|--support-dir)
      [[ -d "$2" ]] || packd_die "$1: no folder '$2'"
      local f
      for f in "$2"/*; do
        case "${f,,}" in *.png|*.jpg|*.jpeg|*.bmp|*.tif|*.tiff) packd_support+=("$f") ;; esac
      done ;;
    -t|--threshold) packd_detector_props+=("threshold=${2:?$1 needs a value}") ;;
    -m|--model-file) packd_detector_props+=("model-file=${2:?$1 needs a value}") ;;
    --json) packd_detector_props+=("json-location=${2:?$1 needs a value}") ;;
    --source) packd_source_desc=${2:?$1 needs a gst-launch fragment} ;;
    -f|--file) packd_source_file=${2:?$1 needs a file} ;;
    -d|--device) packd_device=${2:?$1 needs a device} ;;
    --no-overlay) packd_detector_props+=("overlay=false"); packd_shift=1 ;;
    -n|--dry-run) packd_dry_run=1; packd_shift=1 ;;
    *) packd_shift=0 ;;
  esac
}

# packd_parse_args SCRIPT_OPTION "$@": the whole command line.  Options
# shared by the scripts go to packd_parse_common, words after -- are further
# packdfilter properties, -h/--help prints the help; any other option goes to
# the script's function SCRIPT_OPTION, which takes "$@" like
# packd_parse_common and sets packd_shift (0 for an unknown option).
packd_parse_args() {
  local script_option=$1
  shift
  while (( $# > 0 )); do
    packd_parse_common "$@"
    if (( packd_shift == 0 )); then
      case "$1" in
        --) shift; packd_detector_props+=("$@"); return ;;
        -h|--help) packd_usage; exit 0 ;;
        *) "$script_option" "$@" ;;
      esac
      (( packd_shift > 0 )) || packd_die "unknown option '$1' (see --help)"
    fi
    shift "$packd_shift"
  done
}

# packd_split_words ARRAY FRAGMENT: appends the words of a gst-launch
# fragment such as 'videotestsrc pattern=ball ! video/x-raw,width=640' to
# the named array, split on white space, globbing off.
packd_split_words() {
  local -n dest=$1
  local -a words
  set -f
  read -r -a words <<<"$2"
  set +f
  dest+=("${words[@]}")
}

# Appends the source tokens to the named array.
packd_source_tokens() {
  local -n out=$1
  if [[ -n "$packd_source_desc" && -n "$packd_source_file" ]]; then
    packd_die "give --source or --file, not both"
  elif [[ -n "$packd_source_desc" ]]; then
    packd_split_words "$1" "$packd_source_desc"
  elif [[ -n "$packd_source_file" ]]; then
    [[ -f "$packd_source_file" ]] || packd_die "no file '$packd_source_file'"
    out+=(filesrc "location=$packd_source_file" ! decodebin)
  else
    # A camera does not wait for a slow analysis: drop the oldest frames.
    out+=(v4l2src ${packd_device:+"device=$packd_device"} ! queue leaky=downstream
      max-size-buffers=2)
  fi
}

# Appends 'videoconvert ! packdfilter ... ! videoconvert' to the named array.
packd_detector_tokens() {
  local -n out=$1
  local p list=""
  (( ${#packd_support[@]} > 0 )) ||
    packd_die "no support images: give --support good1.png,good2.png or --support-dir DIR"
  for p in "${packd_support[@]}"; do
    [[ -f "$p" ]] || packd_die "support image '$p' not found"
    [[ "$p" != *[,\ ]* ]] ||
      packd_die "support image path '$p' has a comma or a space, which gst-launch arrays cannot hold: rename it, or use packd-record-on-anomaly / packd-inspect-folder"
    list+="${list:+,}$p"
  done
  out+=(videoconvert ! packdfilter name=detector "support-images=<$list>" overlay=true
    "${packd_detector_props[@]}" ! videoconvert)
}

# Appends 'SOURCE ! videoconvert ! packdfilter ... ! videoconvert' to the
# named array.
packd_analysis_tokens() {
  local -n tokens=$1
  packd_source_tokens "$1"
  tokens+=(!)
  packd_detector_tokens "$1"
}

# Prints a command so that it can be pasted into a shell, then runs it
# (unless --dry-run, which exits).
packd_run() {
  local word line=""
  for word in "$@"; do
    if [[ "$word" == '!' || "$word" =~ ^[A-Za-z0-9_./:=,+@%-]+$ ]]; then
      line+="$word "
    else
      line+="'${word//\'/\'\\\'\'}' "
    fi
  done
  printf '%s\n' "${line% }"
  (( packd_dry_run )) && exit 0
  exec "$@"
}
