#!/bin/bash
# packd — few-shot visual anomaly detection
# Copyright (C) 2026 packd developers
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The README's main job: inspects the bundled demo pictures (four printed
# circuit board areas from DeepPCB, two of them with defects, see
# demo/deeppcb/ATTRIBUTION.md) against four pictures of good boards, with the
# default model, and tells where the annotated images are.
#
# usage: pipelines/main-job.sh [BUILD_DIR [OUT_DIR]]
#   BUILD_DIR  meson build folder (default: build next to pipelines/)
#   OUT_DIR    output folder (default: BUILD_DIR/demo)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=$(cd "${1:-${PACKD_BUILD_DIR:-$here/../build}}" && pwd)
out=${2:-$build/demo}
demo=$here/demo/deeppcb
inspect=$build/pipelines/packd-inspect-folder

[[ -x "$inspect" ]] || { echo "main-job: $inspect is not built (run meson compile -C $build)" >&2; exit 1; }
export GST_PLUGIN_PATH="$build/gst-plugin${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"

echo "Inspecting the demo boards in $demo/test against the good boards in $demo/support"
"$inspect" --support-dir "$demo/support" --out-dir "$out" "$demo/test"
out=$(cd "$out" && pwd)
cat <<EOT

Annotated images (heatmap, boxes around anomalous regions, score): $out/annotated/
  defect_*.png are the boards with defects, good_*.png the defect-free ones.
Per-image results (JSON lines): $out/results.jsonl
Summary: $out/summary.json
EOT
