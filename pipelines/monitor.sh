#!/bin/bash
# packd — few-shot visual anomaly detection
# Copyright (C) 2026 packd developers
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Line monitor: a live source through packdfilter (heatmap, boxes and score
# drawn on the frames) to a display.
#
# usage: monitor.sh --support A.png,B.png [options] [-- packdfilter-prop=value ...]
#   -s, --support LIST     support images of good parts (comma-separated, repeatable)
#   -S, --support-dir DIR  every image in DIR is a support image
#   -t, --threshold X      normalised threshold (0.5 = calibrated boundary)
#   -m, --model-file FILE  model (default: the element's)
#       --source 'DESC'    gst-launch fragment producing video, e.g.
#                          'videotestsrc is-live=true pattern=ball'   (default: v4l2src)
#   -f, --file VIDEO       play a video file instead (filesrc ! decodebin)
#   -d, --device DEV       camera device for v4l2src (default /dev/video0)
#       --sink 'DESC'      display sink fragment (default autovideosink)
#       --json FILE        one JSON line per analysed frame (- = stdout)
#       --no-overlay       leave the frames as they are
#   -n, --dry-run          print the gst-launch-1.0 command without running it
# Words after -- are further packdfilter properties (n-threads=2 ...).
# The gst-launch-1.0 command is printed before it runs; -e makes Ctrl-C end
# the stream cleanly.
set -euo pipefail
# shellcheck source=pipeline-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/pipeline-common.sh"

sink_desc="autovideosink"
monitor_option() {
  packd_shift=0
  case "$1" in
    --sink) sink_desc=${2:?--sink needs a gst-launch fragment}; packd_shift=2 ;;
  esac
}
packd_parse_args monitor_option "$@"

packd_use_build_tree
pipeline=()
packd_analysis_tokens pipeline
pipeline+=(!)
packd_split_words pipeline "$sink_desc"
packd_run gst-launch-1.0 -e "${pipeline[@]}"
