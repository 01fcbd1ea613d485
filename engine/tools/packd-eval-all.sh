#!/usr/bin/env bash
# packd — few-shot visual anomaly detection
# Copyright (C) 2026 packd developers
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# packd-eval-all.sh: runs packd-eval on every category under a data root and
# writes one JSON file and one markdown page with the results table, the
# exact command and the machine it ran on (for docs/results-*.md).
#
#   packd-eval-all.sh --data ../shared/data --out-dir results/knn [--method knn]
#       [--shots 2,4,8] [--runs 10] [--model FILE | --model-pattern 'models/loo-%s.safetensors']
#       [--threads N] [--reports] [--packd-eval PATH] [-- extra packd-eval options]
#
# --model-pattern gives each category its own model (%s = category name), so
# leave-one-category-out models plug in.  Categories with a defective_p033
# folder (ELPV: uncertain labels) are evaluated a second time without it.
set -euo pipefail

usage() { sed -n '6,15p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

data="" out_dir="" method="knn" shots="2,4,8" runs=10 model="" pattern="" threads=""
reports=0 eval_bin="${PACKD_EVAL:-}"
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --data) data="$2"; shift 2 ;;
    --out-dir) out_dir="$2"; shift 2 ;;
    --method) method="$2"; shift 2 ;;
    --shots) shots="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --model) model="$2"; shift 2 ;;
    --model-pattern) pattern="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --reports) reports=1; shift ;;
    --packd-eval) eval_bin="$2"; shift 2 ;;
    -h|--help) usage 0 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "packd-eval-all.sh: unknown option $1" >&2; usage 2 >&2 ;;
  esac
done
[ -n "$data" ] && [ -n "$out_dir" ] || { echo "packd-eval-all.sh: --data and --out-dir are required" >&2; exit 2; }
if [ -z "$eval_bin" ]; then
  # Uninstalled build next to this script's source, else PATH.
  here="$(cd "$(dirname "$0")" && pwd)"
  for b in "$here"/../../build*/engine/tools/packd-eval; do
    [ -x "$b" ] && { eval_bin="$b"; break; }
  done
  eval_bin="${eval_bin:-packd-eval}"
fi

mkdir -p "$out_dir"
common=(--data "$data" --method "$method" --shots "$shots" --runs "$runs")
[ -n "$model" ] && common+=(--model "$model")
[ -n "$pattern" ] && common+=(--model-pattern "$pattern")
[ -n "$threads" ] && common+=(--threads "$threads")

# Every category folder (train/good + test) under the data root.
cats=()
for d in "$data"/*/; do
  [ -d "$d/train/good" ] && [ -d "$d/test" ] && cats+=("$(basename "$d")")
done
[ ${#cats[@]} -gt 0 ] || { echo "packd-eval-all.sh: no categories under $data" >&2; exit 1; }
uncertain=()
for c in "${cats[@]}"; do
  [ -d "$data/$c/test/defective_p033" ] && uncertain+=("$c")
done

run_eval() {   # name, categories (comma list), extra options...
  local name="$1" list="$2"; shift 2
  local opts=("${common[@]}" --category "$list" --json "$out_dir/$name.json"
              --scores "$out_dir/$name-scores.csv")
  [ "$reports" = 1 ] && opts+=(--report "$out_dir/$name.png")
  echo "+ $(basename "$eval_bin") ${opts[*]} $* ${extra[*]:-}" >&2
  "$eval_bin" "${opts[@]}" "$@" ${extra[@]+"${extra[@]}"} | tee "$out_dir/$name.md.part"
}

status=0
all=$(IFS=,; echo "${cats[*]}")
run_eval "results-$method" "$all" || status=1
if [ ${#uncertain[@]} -gt 0 ]; then
  list=$(IFS=,; echo "${uncertain[*]}")
  run_eval "results-$method-no-p033" "$list" --exclude defective_p033 || status=1
fi

md="$out_dir/results-$method.md"
{
  echo "# packd-eval: method \`$method\`, k = $shots, $runs support draws per k"
  echo
  echo "Measured $(date -u +%Y-%m-%d) on $(uname -m), $(nproc) cores"\
       "($(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//' || echo unknown CPU))."
  echo "Command: \`engine/tools/packd-eval-all.sh --data $data --out-dir $out_dir --method $method"\
       "--shots $shots --runs $runs${model:+ --model $model}${pattern:+ --model-pattern '$pattern'}\`"
  echo
  echo "Image AUROC over the test images (good = negative); pixel AUROC and AUPRO (FPR <= 0.3)"
  echo "over all test pixels at model resolution; precision, recall, F1 and the false-positive"
  echo "rate on good images at the threshold calibrated from the k support images alone."
  echo "All in %, mean ± sample std over the draws (seeds 0..$((runs - 1)), the draws of"
  echo "\`../shared/ref/eval.py\`)."
  echo
  cat "$out_dir/results-$method.md.part"
  if [ ${#uncertain[@]} -gt 0 ]; then
    echo
    echo "## Without the uncertain labels (\`defective_p033\` left out)"
    echo
    cat "$out_dir/results-$method-no-p033.md.part"
  fi
} > "$md"
rm -f "$out_dir"/*.md.part
echo "wrote $md and $out_dir/results-$method*.json" >&2
exit $status
