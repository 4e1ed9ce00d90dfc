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


def pairs(tok, model, context_tokens, max_positions):
    """Each sentence after the first with the one before it as the second
    segment, its first `context_tokens` tokens kept: what stance feeds a
    model that reads context. The sentence is cut first, to the positions
    the context leaves; when it is not cut, this is HF's own pair encoding
    cut only_second, which is checked."""
    sentence_max = min(128, max_positions - context_tokens - 1)
    rows = []
    for prev, text in zip(SENTENCES, SENTENCES[1:]):
        alone = tok(text, truncation=True, max_length=sentence_max)["input_ids"]
        context = tok(prev, add_special_tokens=False)["input_ids"][:context_tokens]
        ids = alone + context + [tok.sep_token_id]
        types = [0] * len(alone) + [1] * (len(context) + 1)
        if len(tok(text)["input_ids"]) == len(alone):
            hf = tok(text, prev, truncation="only_second", max_length=len(ids))
            assert hf["input_ids"] == ids and hf["token_type_ids"] == types, (text, prev)
        rows.append((ids, types))
    width = max(len(ids) for ids, _ in rows)
    pad = tok.pad_token_id
    input_ids = torch.tensor([ids + [pad] * (width - len(ids)) for ids, _ in rows])
    types = torch.tensor([t + [0] * (width - len(t)) for _, t in rows])
    mask = torch.tensor([[1] * len(ids) + [0] * (width - len(ids)) for ids, _ in rows])
    with torch.no_grad():
        logits = model(input_ids=input_ids, token_type_ids=types, attention_mask=mask).logits
    return {
        "pair_context_tokens": context_tokens,
        "pair_input_ids": [ids for ids, _ in rows],
        "pair_token_type_ids": [t for _, t in rows],
        "pair_logits": logits.tolist(),
    }


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
        if classifier:
            # A model trained with context says how much; others are checked
            # as if told to read 8 tokens of it.
            context_tokens = model.config.to_dict().get("stance_context_tokens") or 8
            out.update(pairs(tok, model, context_tokens, model.config.max_position_embeddings))
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
