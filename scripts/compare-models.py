#!/usr/bin/env python3
"""Paired comparison of two models on the same gold set.

Usage: scripts/compare-models.py A/predictions.parquet B/predictions.parquet [--resamples N] [--seed S]

Each file is the predictions.parquet that `stance eval --report DIR` writes.
Prints each model's macro-F1 and per-label F1, then the difference B - A in
macro-F1 with a 95% interval from a paired cluster bootstrap: documents
(doc_id) are resampled with replacement, and both models are scored on the
same resample, so the interval reflects how much the comparison depends on
which documents happened to be in the gold set. Also prints the share of
resamples where B is ahead.

Needs polars (`pip install polars`).
"""
import argparse
import random
import sys

import polars as pl

LABELS = ["condemnation", "commitment", "diplomatic-opening", "other"]


def counts(rows):
    """Per-label (true positives, predicted, gold) for a list of (gold, a, b) rows, for a and b."""
    out = []
    for which in (1, 2):
        tp = {l: 0 for l in LABELS}
        pred = {l: 0 for l in LABELS}
        gold = {l: 0 for l in LABELS}
        for row in rows:
            g, p = row[0], row[which]
            gold[g] += 1
            pred[p] += 1
            if g == p:
                tp[g] += 1
        out.append((tp, pred, gold))
    return out


def f1s(tp, pred, gold):
    scores = {}
    for l in LABELS:
        p = tp[l] / pred[l] if pred[l] else 0.0
        r = tp[l] / gold[l] if gold[l] else 0.0
        scores[l] = 2 * p * r / (p + r) if p + r else 0.0
    return scores


def macro(scores):
    return sum(scores.values()) / len(scores)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--resamples", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    a = pl.read_parquet(args.a)
    b = pl.read_parquet(args.b)
    if a.height != b.height or a["text"].to_list() != b["text"].to_list():
        sys.exit("error: the two files do not hold the same gold sentences in the same order")
    if a["gold"].cast(pl.String).to_list() != b["gold"].cast(pl.String).to_list():
        sys.exit("error: the two files disagree on the gold labels")
    gold = a["gold"].cast(pl.String).to_list()
    pa = a["predicted"].cast(pl.String).to_list()
    pb = b["predicted"].cast(pl.String).to_list()
    docs = a["doc_id"].to_list() if "doc_id" in a.columns else list(range(a.height))

    by_doc = {}
    for row in zip(docs, gold, pa, pb):
        by_doc.setdefault(row[0], []).append(row[1:])
    groups = list(by_doc.values())

    rows = [r for g in groups for r in g]
    (ca, cb) = counts(rows)
    fa, fb = f1s(*ca), f1s(*cb)
    print(f"{'':20} {'A':>7} {'B':>7} {'B - A':>7}")
    for l in LABELS:
        print(f"{l:20} {fa[l]:7.4f} {fb[l]:7.4f} {fb[l] - fa[l]:+7.4f}")
    print(f"{'macro-F1':20} {macro(fa):7.4f} {macro(fb):7.4f} {macro(fb) - macro(fa):+7.4f}")
    agree = sum(x == y for x, y in zip(pa, pb)) / len(pa)
    print(f"labels agree on {agree:.1%} of {len(pa)} sentences ({len(groups)} documents)")

    rng = random.Random(args.seed)
    diffs = []
    for _ in range(args.resamples):
        sample = [r for _ in groups for r in rng.choice(groups)]
        (ca, cb) = counts(sample)
        diffs.append(macro(f1s(*cb)) - macro(f1s(*ca)))
    diffs.sort()
    lo = diffs[int(0.025 * len(diffs))]
    hi = diffs[int(0.975 * len(diffs)) - 1]
    ahead = sum(d > 0 for d in diffs) / len(diffs)
    print(
        f"macro-F1 B - A: {macro(fb) - macro(fa):+.4f}, 95% paired document bootstrap "
        f"[{lo:+.4f}, {hi:+.4f}]; B ahead in {ahead:.0%} of {len(diffs)} resamples"
    )


if __name__ == "__main__":
    main()
