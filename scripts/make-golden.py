#!/usr/bin/env python3
"""Regenerate the golden fixtures of crates/stance-model/tests/golden/ with the
reference implementation (transformers + PyTorch).

For each model directory, writes the logits of BertForSequenceClassification
(when the directory is a classifier) and the mean-pooled last hidden states
for a fixed list of sentences. The Rust test `golden.rs` compares stance's
numbers with these within 1e-4, without needing Python.

Usage: scripts/make-golden.py            (needs: pip install torch transformers)
"""
import json
import os
import subprocess
import sys
import tempfile

import torch
from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "crates", "stance-model", "tests", "golden")

SENTENCES = [
    "The ministers strongly condemned North Korea's launch of a ballistic missile.",
    "We reaffirm our ironclad commitment to the defence of our allies.",
    "The door to dialogue remains open, and we call on all parties to return to negotiations.",
    "The talks were first held in 2008.",
    "Quick access to main page (top)",
    "“If a nuclear test is conducted, it will face a strong response,” the ministry said.",
    "Россия осуждает санкции.",
    "한미일 국방장관 회담",
]


def reference(model_dir, classifier):
    tok = AutoTokenizer.from_pretrained(model_dir)
    enc = tok(SENTENCES, padding=True, truncation=True, max_length=128, return_tensors="pt")
    out = {"sentences": SENTENCES}
    with torch.no_grad():
        if classifier:
            model = AutoModelForSequenceClassification.from_pretrained(model_dir, dtype=torch.float32).eval()
            result = model(**enc, output_hidden_states=True)
            out["logits"] = result.logits.tolist()
            hidden = result.hidden_states[-1]
        else:
            model = AutoModel.from_pretrained(model_dir, dtype=torch.float32).eval()
            hidden = model(**enc).last_hidden_state
        mask = enc["attention_mask"].unsqueeze(-1).float()
        out["mean_pooled"] = ((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)).tolist()
    out["input_ids"] = [ids[: int(m.sum())] for ids, m in zip(enc["input_ids"].tolist(), enc["attention_mask"])]
    return out


def write(name, data):
    path = os.path.join(OUT, name)
    with open(path, "w") as f:
        json.dump(data, f, ensure_ascii=False)
        f.write("\n")
    print("wrote", path)


def main():
    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tiny = os.path.join(tmp, "tiny")
        subprocess.run(
            ["cargo", "run", "-q", "-p", "stance-model", "--example", "write_tiny_model", "--", tiny, "7"],
            cwd=ROOT, check=True,
        )
        write("tiny-model.json", reference(tiny, classifier=True))
    shipped = os.path.join(ROOT, "models", "stance-minilm-l6")
    if os.path.isdir(shipped):
        write("shipped-model.json", reference(shipped, classifier=True))
    else:
        print("no shipped model in", shipped, "- skipped", file=sys.stderr)


if __name__ == "__main__":
    main()
