#!/usr/bin/env bash
# Peak memory of `stance label` as the input grows: labelling streams, so peak
# RSS should stay flat (target: under 600 MB whatever the input size).
#
# Usage: scripts/bench-memory.sh [SENTENCES ...]   (default: 2000 20000 200000)
#
# Inputs are the real communiqués of ../shared/corpus (or $STANCE_CORPUS),
# repeated as JSONL documents until the run has at least SENTENCES sentences.
# Prints, per size: sentences, documents, input MB, wall seconds,
# sentences/s and peak RSS (from GNU time). 200,000 sentences take about
# 20 minutes on 2 cores.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
corpus=${STANCE_CORPUS:-../shared/corpus/docs}
[ -d "$corpus" ] || { echo "error: $corpus not found (set STANCE_CORPUS to a folder of .txt communiqués)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "error: GNU time (/usr/bin/time) is needed: apt-get install time" >&2; exit 2; }
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(2000 20000 200000)

cargo build --release --quiet
bin=$root/target/release/stance
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Sentences per pass over the corpus, counted by the segmenter itself.
"$bin" label "$corpus" -o "$work/once.jsonl" --quiet
per_pass=$(wc -l < "$work/once.jsonl")
rm "$work/once.jsonl"

printf '%-10s %-9s %-9s %-8s %-12s %-12s\n' sentences documents input_MB wall_s sentences/s peak_RSS_MB
for want in "${sizes[@]}"; do
  passes=$(( (want + per_pass - 1) / per_pass ))
  input="$work/input-$want.jsonl"
  python3 - "$corpus" "$passes" "$want" "$per_pass" > "$input" <<'PY'
import json, pathlib, sys
corpus, passes, want, per_pass = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
docs = sorted(pathlib.Path(corpus).glob("*.txt"))
# The last pass takes only as many documents as the target needs (roughly).
for p in range(passes):
    share = 1.0 if (p + 1) * per_pass <= want else (want - p * per_pass) / per_pass
    for path in docs[: max(1, round(len(docs) * share))]:
        print(json.dumps({"id": f"{path.stem}#{p}", "text": path.read_text(encoding="utf-8", errors="replace")}))
PY
  docs=$(wc -l < "$input")
  mb=$(du -m "$input" | cut -f1)
  /usr/bin/time -f '%e %M' -o "$work/time" "$bin" label "$input" -o "$work/out.parquet" --quiet
  read -r wall rss_kb < "$work/time"
  got=$("$bin" summarize "$work/out.parquet" 2>/dev/null | awk '$1 == "all" {print $2}')
  rate=$(python3 -c "print(f'{$got / $wall:.0f}')")
  printf '%-10s %-9s %-9s %-8s %-12s %-12s\n' "$got" "$docs" "$mb" "$wall" "$rate" "$((rss_kb / 1024))"
done
