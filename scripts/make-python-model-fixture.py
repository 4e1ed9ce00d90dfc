#!/usr/bin/env python3
"""Write crates/stance-model/tests/python-model/: a tiny BertForSequenceClassification
created and saved by transformers itself (save_pretrained), with the logits
PyTorch computes for a few sentences. The Rust test `python_model.rs` checks
that stance loads a model saved by Python and computes the same logits.

Usage: scripts/make-python-model-fixture.py   (needs: pip install torch transformers)
"""
import json
import os

import torch
from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "crates", "stance-model", "tests", "python-model")
TOKENIZER = os.path.join(ROOT, "crates", "stance-model", "src", "testing", "tiny-tokenizer.json")
LABELS = ["condemnation", "commitment", "diplomatic-opening", "other"]
SENTENCES = [
    "We condemn the attack.",
    "The ministers will continue to work together.",
    "Ready for dialogue and talks on peace!",
    "It was held in 2008.",
]


def main():
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=132, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=64, max_position_embeddings=64,
        id2label=dict(enumerate(LABELS)), label2id={l: i for i, l in enumerate(LABELS)},
    )
    config.initializer_range = 0.2
    model = BertForSequenceClassification(config).eval()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_file=TOKENIZER, unk_token="[UNK]", sep_token="[SEP]", pad_token="[PAD]",
        cls_token="[CLS]", mask_token="[MASK]",
    )
    os.makedirs(OUT, exist_ok=True)
    model.save_pretrained(OUT, safe_serialization=True)
    tokenizer.save_pretrained(OUT)
    tok = AutoTokenizer.from_pretrained(OUT)
    enc = tok(SENTENCES, padding=True, return_tensors="pt")
    with torch.no_grad():
        logits = model(**enc).logits.tolist()
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump({"sentences": SENTENCES, "logits": logits}, f)
        f.write("\n")
    for name in os.listdir(OUT):
        print(name, os.path.getsize(os.path.join(OUT, name)))


if __name__ == "__main__":
    main()
