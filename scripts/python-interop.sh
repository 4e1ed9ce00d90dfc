#!/usr/bin/env bash
# Checks that stance's Parquet output opens cleanly in Python: labels a sample
# document, runs an eval with a report, reads both Parquet files with pandas
# (pyarrow), polars and DuckDB (scripts/check-readers.py), and executes
# notebooks/stance-results.ipynb headless against them.
#
# Usage: scripts/python-interop.sh [VENV]   (default: .venv-interop)
#
# Environment:
#   STANCE_BIN            use this stance binary instead of `cargo build` (dev profile)
#   PYTHON                interpreter for the venv (default: python3)
#   STANCE_INTEROP_KEEP   when set, keep the temporary folder and print its path
#
# Uses the shipped model when models/stance-minilm-l6/model.safetensors exists,
# else a tiny random model. Exits non-zero if any step fails.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
venv=${1:-.venv-interop}
python=${PYTHON:-python3}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/stance-interop.XXXXXX")
if [ -n "${STANCE_INTEROP_KEEP:-}" ]; then
  trap 'echo "interop: kept $tmp"' EXIT
else
  trap 'rm -rf "$tmp"' EXIT
fi

step() { echo "interop: $*"; }
die() { echo "interop: error: $*" >&2; exit 1; }

# 1. Python environment (PyPI only).
if [ ! -x "$venv/bin/python" ]; then
  step "creating $venv"
  "$python" -m venv "$venv"
fi
step "installing Python packages into $venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  pandas pyarrow polars duckdb matplotlib nbclient nbformat ipykernel
py="$venv/bin/python"
"$py" - <<'PY'
import duckdb, matplotlib, nbclient, pandas, polars, pyarrow
print("interop: pandas %s, pyarrow %s, polars %s, duckdb %s, matplotlib %s, nbclient %s" % (
    pandas.__version__, pyarrow.__version__, polars.__version__, duckdb.__version__,
    matplotlib.__version__, nbclient.__version__))
PY

# 2. The binary.
if [ -n "${STANCE_BIN:-}" ]; then
  bin=$STANCE_BIN
  [ -x "$bin" ] || die "STANCE_BIN=$bin is not an executable"
else
  step "building stance (dev profile)"
  cargo build --quiet --bin stance
  bin=${CARGO_TARGET_DIR:-$root/target}/debug/stance
fi

# 3. A model.
if [ -f models/stance-minilm-l6/model.safetensors ]; then
  model=models/stance-minilm-l6
  step "using the shipped model $model"
else
  model=$tmp/tiny
  step "no shipped model: writing a tiny random model"
  cargo run -q -p stance-model --example write_tiny_model -- "$model"
fi

# 4. Parquet files.
step "stance label"
"$bin" label datasets/examples/joint-statement-2025.txt -o "$tmp/labels.parquet" \
  --model "$model" --quiet
step "stance eval"
if ! "$bin" eval --gold tests/fixtures/interop-gold.jsonl --model "$model" \
  --report "$tmp/report" --quiet > "$tmp/eval.txt"; then
  cat "$tmp/eval.txt" >&2
  die "stance eval failed"
fi
[ -f "$tmp/labels.parquet" ] || die "stance label wrote no $tmp/labels.parquet"
[ -f "$tmp/report/predictions.parquet" ] || die "stance eval wrote no predictions.parquet"

# 5. Readers.
"$py" scripts/check-readers.py "$tmp/labels.parquet" "$tmp/report/predictions.parquet"

# 6. The notebook, headless. Import matplotlib once first so that a font-cache
# build message does not land in the notebook's output.
MPLBACKEND=Agg "$py" -c 'import matplotlib.pyplot' 2>/dev/null
step "executing notebooks/stance-results.ipynb"
STANCE_LABELS="$tmp/labels.parquet" \
STANCE_PREDICTIONS="$tmp/report/predictions.parquet" \
STANCE_NOTEBOOK_OUT="$tmp/notebook" \
  "$py" - notebooks/stance-results.ipynb "$tmp" <<'PY'
import sys
from pathlib import Path

import nbformat
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

path, tmp = sys.argv[1], Path(sys.argv[2])
nb = nbformat.read(path, as_version=4)
nbformat.validate(nb)
dirty = [c.get("id") for c in nb.cells if c.cell_type == "code"
         and (c.outputs or c.execution_count is not None)]
if dirty:
    sys.exit(f"interop: error: {path} is committed with outputs in cells {dirty}; clear them")
# IPC sockets under $tmp rather than unencrypted TCP on localhost.
km = KernelManager(kernel_name="python3", transport="ipc", ip=str(tmp / "kernel"))
client = NotebookClient(nb, km=km, timeout=120,
                        resources={"metadata": {"path": str(tmp)}})
try:
    client.execute()
finally:
    if km.has_kernel:
        km.shutdown_kernel()
    nbformat.write(nb, tmp / "stance-results.executed.ipynb")
stderr = [(c.get("id"), o.get("text", "")) for c in nb.cells if c.cell_type == "code"
          for o in c.outputs if o.get("output_type") == "stream" and o.get("name") == "stderr"]
if stderr:
    for cell, text in stderr:
        print(f"interop: notebook cell {cell} wrote to stderr:\n{text}", file=sys.stderr)
    sys.exit("interop: error: the notebook printed warnings or errors")
for png in ("label-shares.png", "confusion-matrix.png"):
    f = tmp / "notebook" / png
    if not f.is_file() or f.stat().st_size == 0:
        sys.exit(f"interop: error: the notebook did not write {f}")
print(f"interop: notebook ran {sum(c.cell_type == 'code' for c in nb.cells)} code cells")
PY

echo "interop: 3 readers and the notebook passed"
