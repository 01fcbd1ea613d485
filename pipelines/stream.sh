#!/bin/bash
# packd — few-shot visual anomaly detection
# Copyright (C) 2026 packd developers
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Control-room stream: packdfilter with its overlay, encoded to H.264
# (x264enc, zerolatency) and sent as RTP over UDP; or, with --receive, the
# matching receiver.
#
# usage: stream.sh --support A.png,B.png [options] [-- packdfilter-prop=value ...]
#        stream.sh --receive [--port P] [--sink 'DESC']
#   -s, --support LIST     support images of good parts (comma-separated, repeatable)
#   -S, --support-dir DIR  every image in DIR is a support image
#   -t, --threshold X      normalised threshold (0.5 = calibrated boundary)
#   -m, --model-file FILE  model (default: the element's)
#       --source 'DESC'    gst-launch fragment producing video (default: v4l2src)
#   -f, --file VIDEO       stream a video file instead
#   -d, --device DEV       camera device for v4l2src
#       --host HOST        receiver address (default 127.0.0.1)
#       --port PORT        UDP port (default 5000)
#       --bitrate KBPS     H.264 bit rate (default 2000)
#       --codec h264|vp8   vp8 needs only gst-plugins-good (default h264)
#       --json FILE        one JSON line per analysed frame (- = stdout)
#       --receive          run the receiver instead of the sender
#       --sink 'DESC'      receiver's sink fragment (default autovideosink sync=false)
#   -n, --dry-run          print the gst-launch-1.0 command without running it
# Words after -- are further packdfilter properties (sender only).
# Receiver, on the control-room machine (what --receive runs):
#   gst-launch-1.0 udpsrc port=5000 caps='application/x-rtp,media=video,
#     clock-rate=90000,encoding-name=H264,payload=96' ! rtpjitterbuffer latency=100
#     ! rtph264depay ! avdec_h264 ! videoconvert ! autovideosink sync=false
set -euo pipefail
# shellcheck source=pipeline-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/pipeline-common.sh"

host=127.0.0.1
port=5000
bitrate=2000
codec=h264
receive=0
sink_desc="autovideosink sync=false"
stream_option() {
  packd_shift=2
  case "$1" in
    --host) host=${2:?--host needs a value} ;;
    --port) port=${2:?--port needs a value} ;;
    --bitrate) bitrate=${2:?--bitrate needs a value} ;;
    --codec) codec=${2:?--codec needs a value} ;;
    --receive) receive=1; packd_shift=1 ;;
    --sink) sink_desc=${2:?--sink needs a gst-launch fragment} ;;
    *) packd_shift=0 ;;
  esac
}
packd_parse_args stream_option "$@"
[[ "$port" =~ ^[0-9]+$ ]] || packd_die "--port must be a number"
[[ "$bitrate" =~ ^[0-9]+$ ]] || packd_die "--bitrate must be a number (kbit/s)"

case "$codec" in
  h264)
    encoder=(x264enc tune=zerolatency speed-preset=ultrafast "bitrate=$bitrate" key-int-max=30
      ! video/x-h264,profile=constrained-baseline ! rtph264pay config-interval=-1 pt=96)
    rtp_caps="application/x-rtp,media=video,clock-rate=90000,encoding-name=H264,payload=96"
    depay=rtph264depay
    decoders=(avdec_h264 openh264dec)
    needed=x264enc ;;
  vp8)
    encoder=(vp8enc deadline=1 "target-bitrate=$((bitrate * 1000))" keyframe-max-dist=30
      ! rtpvp8pay pt=96)
    rtp_caps="application/x-rtp,media=video,clock-rate=90000,encoding-name=VP8,payload=96"
    depay=rtpvp8depay
    decoders=(vp8dec)
    needed=vp8enc ;;
  *) packd_die "--codec must be h264 or vp8" ;;
esac

if (( receive )); then
  decoder=""
  for d in "${decoders[@]}"; do
    if packd_have_element "$d"; then decoder=$d; break; fi
  done
  [[ -n "$decoder" ]] || packd_die "no $codec decoder (${decoders[*]}): install gstreamer1.0-libav"
  receiver=(udpsrc "port=$port" "caps=$rtp_caps" ! rtpjitterbuffer latency=100 ! "$depay"
    ! "$decoder" ! videoconvert !)
  packd_split_words receiver "$sink_desc"
  packd_run gst-launch-1.0 "${receiver[@]}"
fi

packd_use_build_tree
packd_have_element "$needed" || (( packd_dry_run )) ||
  packd_die "$needed is missing (h264: gstreamer1.0-plugins-ugly); or use --codec vp8"
pipeline=()
packd_analysis_tokens pipeline
pipeline+=(! "${encoder[@]}" ! udpsink "host=$host" "port=$port" sync=false)
packd_run gst-launch-1.0 -e "${pipeline[@]}"
