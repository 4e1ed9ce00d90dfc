#!/usr/bin/env python3
"""Check that stance's Parquet files open cleanly in pandas, polars and DuckDB.

Usage: scripts/check-readers.py LABELS PREDICTIONS

LABELS is a file written by `stance label -o FILE.parquet`; PREDICTIONS is the
predictions.parquet written by `stance eval --report DIR`. Every warning is an
error. Each file is read with pandas (pyarrow engine), polars and DuckDB; the
column types, the `label`-style columns (dictionary/categorical, categories in
the codebook's order), the probabilities, the file metadata and the row counts
are checked. Exits 1 with a message naming the reader and its version on the
first problem.
"""

import json
import math
import sys
import warnings

warnings.simplefilter("error")

LABELS = ["condemnation", "commitment", "diplomatic-opening", "other"]
PROB_COLUMNS = ["p_condemnation", "p_commitment", "p_diplomatic_opening", "p_other"]

LABELLED_COLUMNS = [
    "doc_id", "source", "paragraph", "sentence", "char_start", "char_end",
    "text", "label", "confidence", *PROB_COLUMNS,
]
PREDICTION_COLUMNS = [
    "doc_id", "source", "text", "gold", "secondary", "predicted",
    "confidence", *PROB_COLUMNS, "correct",
]

# Expected types per column: "str", "u32", "u64", "f32", "bool", "label".
LABELLED_TYPES = {
    "doc_id": "str", "source": "str", "paragraph": "u32", "sentence": "u32",
    "char_start": "u64", "char_end": "u64", "text": "str", "label": "label",
    "confidence": "f32", **{c: "f32" for c in PROB_COLUMNS},
}
PREDICTION_TYPES = {
    "doc_id": "str", "source": "str", "text": "str", "gold": "label",
    "secondary": "label", "predicted": "label", "confidence": "f32",
    **{c: "f32" for c in PROB_COLUMNS}, "correct": "bool",
}

LABELLED_META = [
    "stance.version", "stance.model", "stance.model_sha256",
    "stance.labels", "stance.schema_version",
]
PREDICTION_META = LABELLED_META


class Failure(Exception):
    pass


def fail(msg):
    raise Failure(msg)


def versions():
    import duckdb
    import pandas
    import polars
    import pyarrow

    return {
        "pandas": pandas.__version__,
        "pyarrow": pyarrow.__version__,
        "polars": polars.__version__,
        "duckdb": duckdb.__version__,
    }


def reading(reader, version, path, fn):
    """Runs fn(); turns any exception or warning into a Failure naming the reader."""
    try:
        return fn()
    except Failure:
        raise
    except Exception as e:  # warnings are exceptions here
        kind = "warned" if isinstance(e, Warning) else "failed"
        fail(f"{reader} {version} {kind} on {path}: {type(e).__name__}: {e}")


def check_arrow(path, columns, types, meta_keys, v):
    import pyarrow as pa
    import pyarrow.parquet as pq

    who = f"pyarrow {v['pyarrow']}"
    md = reading("pyarrow", v["pyarrow"], path, lambda: pq.read_metadata(path))
    schema = reading("pyarrow", v["pyarrow"], path, lambda: pq.read_schema(path))
    if schema.names != columns:
        fail(f"{path}: {who}: columns {schema.names}, expected {columns}")

    def is_str(t):
        return (pa.types.is_string(t) or pa.types.is_large_string(t)
                or (hasattr(pa.types, "is_string_view") and pa.types.is_string_view(t)))

    checks = {
        "str": is_str,
        "u32": lambda t: t == pa.uint32(),
        "u64": lambda t: t == pa.uint64(),
        "f32": lambda t: t == pa.float32(),
        "bool": lambda t: t == pa.bool_(),
        "label": lambda t: pa.types.is_dictionary(t) and is_str(t.value_type),
    }
    for name in columns:
        t = schema.field(name).type
        if not checks[types[name]](t):
            fail(f"{path}: {who}: column {name} has Arrow type {t}, expected {types[name]}"
                 + (" (dictionary of strings)" if types[name] == "label" else ""))

    kv = {k.decode(): val.decode() for k, val in (md.metadata or {}).items()}
    missing = [k for k in meta_keys if k not in kv]
    if missing:
        fail(f"{path}: file metadata lacks {missing}; has {sorted(kv)}")
    if not kv["stance.version"]:
        fail(f"{path}: stance.version is empty")
    if not kv["stance.model"]:
        fail(f"{path}: stance.model is empty")
    sha = kv["stance.model_sha256"]
    baseline = kv["stance.model"].startswith("baseline:")  # eval --baseline: no weights
    if not (baseline and sha == "") and (
            len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha)):
        fail(f"{path}: stance.model_sha256 is not a sha256 hex digest: {sha!r}")
    if "stance.labels" in meta_keys:
        try:
            labels = json.loads(kv["stance.labels"])
        except ValueError as e:
            fail(f"{path}: stance.labels is not JSON: {e}")
        if labels != LABELS:
            fail(f"{path}: stance.labels is {labels}, expected {LABELS}")
    if "stance.schema_version" in meta_keys and kv["stance.schema_version"] != "1":
        fail(f"{path}: stance.schema_version is {kv['stance.schema_version']!r}, expected '1'")
    return md.num_rows, kv


def check_pandas(path, columns, types, v):
    import pandas as pd
    from pandas.api import types as pt

    who = f"pandas {v['pandas']} (pyarrow {v['pyarrow']})"
    df = reading("pandas", v["pandas"], path,
                 lambda: pd.read_parquet(path, engine="pyarrow"))
    if list(df.columns) != columns:
        fail(f"{path}: {who}: columns {list(df.columns)}, expected {columns}")
    checks = {
        "str": lambda s: pt.is_string_dtype(s.dtype) or (
            s.dtype == object and s.dropna().map(type).eq(str).all()),
        "u32": lambda s: s.dtype == "uint32",
        "u64": lambda s: s.dtype == "uint64",
        "f32": lambda s: s.dtype == "float32",
        "bool": lambda s: s.dtype == bool,
        "label": lambda s: isinstance(s.dtype, pd.CategoricalDtype)
        and list(s.dtype.categories) == LABELS,
    }
    for name in columns:
        s = df[name]
        if not checks[types[name]](s):
            detail = s.dtype
            if isinstance(s.dtype, pd.CategoricalDtype):
                detail = f"category with categories {list(s.dtype.categories)}"
            fail(f"{path}: {who}: column {name} has dtype {detail}, expected "
                 + ("CategoricalDtype with categories " + str(LABELS)
                    if types[name] == "label" else types[name]))
    return df


def check_polars(path, columns, types, v):
    import polars as pl

    who = f"polars {v['polars']}"
    df = reading("polars", v["polars"], path, lambda: pl.read_parquet(path))
    if df.columns != columns:
        fail(f"{path}: {who}: columns {df.columns}, expected {columns}")
    for name in columns:
        dt = df.schema[name]
        want = types[name]
        ok = {
            "str": dt == pl.String,
            "u32": dt == pl.UInt32,
            "u64": dt == pl.UInt64,
            "f32": dt == pl.Float32,
            "bool": dt == pl.Boolean,
            "label": isinstance(dt, (pl.Enum, pl.Categorical)),
        }[want]
        if ok and isinstance(dt, pl.Enum) and list(dt.categories) != LABELS:
            fail(f"{path}: {who}: column {name} is an Enum with categories "
                 f"{list(dt.categories)}, expected {LABELS}")
        if ok and want == "label":
            values = set(df[name].drop_nulls().cast(pl.String).to_list())
            if not values <= set(LABELS):
                fail(f"{path}: {who}: column {name} holds {sorted(values - set(LABELS))}")
        if not ok:
            fail(f"{path}: {who}: column {name} has dtype {dt}, expected {want}")
    return df


def check_duckdb(path, columns, label_columns, v):
    import duckdb

    who = f"duckdb {v['duckdb']}"
    con = duckdb.connect()
    try:
        described = reading("duckdb", v["duckdb"], path, lambda: con.execute(
            "DESCRIBE SELECT * FROM read_parquet(?)", [path]).fetchall())
        names = [r[0] for r in described]
        if names != columns:
            fail(f"{path}: {who}: columns {names}, expected {columns}")
        rows = reading("duckdb", v["duckdb"], path, lambda: con.execute(
            "SELECT count(*) FROM read_parquet(?)", [path]).fetchone()[0])
        counts = {}
        for col in label_columns:
            result = reading("duckdb", v["duckdb"], path, lambda: con.execute(
                f'SELECT "{col}", count(*) FROM read_parquet(?) GROUP BY "{col}"',
                [path]).fetchall())
            counts[col] = {k: n for k, n in result}
            unknown = [k for k in counts[col] if k is not None and k not in LABELS]
            if unknown:
                fail(f"{path}: {who}: column {col} holds {unknown}")
    finally:
        con.close()
    return rows, counts


def check_file(path, kind, v):
    if kind == "labels":
        columns, types, meta, label_columns = (
            LABELLED_COLUMNS, LABELLED_TYPES, LABELLED_META, ["label"])
    else:
        columns, types, meta, label_columns = (
            PREDICTION_COLUMNS, PREDICTION_TYPES, PREDICTION_META,
            ["gold", "secondary", "predicted"])

    arrow_rows, kv = check_arrow(path, columns, types, meta, v)
    pdf = check_pandas(path, columns, types, v)
    pldf = check_polars(path, columns, types, v)
    duck_rows, duck_counts = check_duckdb(path, columns, label_columns, v)

    rows = {"pyarrow metadata": arrow_rows, "pandas": len(pdf),
            "polars": pldf.height, "duckdb": duck_rows}
    if len(set(rows.values())) != 1:
        fail(f"{path}: row counts disagree: {rows}")
    if arrow_rows == 0:
        fail(f"{path}: no rows")

    # Per-label counts agree between pandas, polars and DuckDB.
    for col in label_columns:
        from_pandas = {k: int(n) for k, n in
                       pdf[col].value_counts(dropna=True).items() if n}
        nulls = int(pdf[col].isna().sum())
        if nulls:
            from_pandas[None] = nulls
        from_polars = {k: n for k, n in
                       pldf[col].cast(str).value_counts().iter_rows()}
        if not (from_pandas == from_polars == duck_counts[col]):
            fail(f"{path}: counts of {col} disagree: pandas {from_pandas}, "
                 f"polars {from_polars}, duckdb {duck_counts[col]}")

    # Probabilities: in [0, 1], summing to ~1; confidence is the chosen label's.
    chosen = "label" if kind == "labels" else "predicted"
    for i, row in enumerate(pdf[PROB_COLUMNS + ["confidence", chosen]].itertuples(index=False)):
        probs = list(row[:4])
        if any(not (0.0 <= p <= 1.0) or math.isnan(p) for p in probs):
            fail(f"{path}: row {i}: probabilities out of [0, 1]: {probs}")
        if abs(sum(probs) - 1.0) > 1e-4:
            fail(f"{path}: row {i}: probabilities sum to {sum(probs)}")
        if abs(row[4] - probs[LABELS.index(row[5])]) > 1e-6:
            fail(f"{path}: row {i}: confidence {row[4]} is not p({row[5]}) = "
                 f"{probs[LABELS.index(row[5])]}")

    if kind == "labels":
        bad = pdf[pdf["char_end"] <= pdf["char_start"]]
        if len(bad):
            fail(f"{path}: {len(bad)} rows with char_end <= char_start")
        if pdf["text"].isna().any() or pdf["doc_id"].isna().any():
            fail(f"{path}: null text or doc_id")
    else:
        expected = (pdf["gold"].astype(str) == pdf["predicted"].astype(str))
        if not (pdf["correct"] == expected).all():
            fail(f"{path}: column correct is not gold == predicted")
    return arrow_rows, kv


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    try:
        v = versions()
    except Exception as e:
        print(f"check-readers: cannot import a reader: {type(e).__name__}: {e}",
              file=sys.stderr)
        return 1
    print("check-readers: " + ", ".join(f"{k} {val}" for k, val in v.items()))
    try:
        for path, kind in ((argv[1], "labels"), (argv[2], "predictions")):
            rows, kv = check_file(path, kind, v)
            print(f"check-readers: {kind}: {path}: {rows} rows, "
                  f"model {kv['stance.model']}: pandas, polars, duckdb agree")
    except Failure as e:
        print(f"check-readers: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
