"""One Python runtime of `scripts/bench`, in a process of its own.

Usage: python bench_python.py RUNTIME MODEL_DIR SENTENCES_JSONL [ONNX_FILE]

RUNTIME is `torch`, `torch-unsorted`, `onnx-f32` or `onnx-int8`. Prints one
JSON line: runtime, sentences, load_s (process start to model ready, imports
included), best_s and median_s over 3 passes (tokenise + encode + argmax of
all sentences, batch 32, sorted by length unless `-unsorted`), peak_rss_mb,
and the predicted label ids of the last pass.
"""

import json
import os
import resource
import statistics
import sys
import time

START = time.perf_counter()
BATCH = 32
PASSES = 3


def main() -> None:
    runtime, model_dir, sentences_path = sys.argv[1:4]
    onnx_path = sys.argv[4] if len(sys.argv) > 4 else None
    with open(sentences_path, encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in f if line.strip()]

    import numpy as np
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    threads = os.cpu_count() or 1
    if runtime.startswith("torch"):
        import torch
        from transformers import AutoModelForSequenceClassification

        torch.set_num_threads(threads)
        model = AutoModelForSequenceClassification.from_pretrained(model_dir, dtype=torch.float32)
        model.eval()

        def logits(batch):
            with torch.inference_mode():
                enc = tokenizer(batch, padding=True, truncation=True, max_length=128, return_tensors="pt")
                return model(**enc).logits.numpy()

    else:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        session = ort.InferenceSession(onnx_path, options, providers=["CPUExecutionProvider"])
        wanted = {i.name for i in session.get_inputs()}

        def logits(batch):
            enc = tokenizer(batch, padding=True, truncation=True, max_length=128, return_tensors="np")
            feed = {k: v.astype(np.int64) for k, v in enc.items() if k in wanted}
            return session.run(None, feed)[0]

    # Warm-up on one batch, so that load time covers everything up to the first batch.
    logits(texts[:BATCH])
    load_s = time.perf_counter() - START

    if runtime.endswith("unsorted"):
        order = list(range(len(texts)))
    else:
        lengths = [len(ids) for ids in tokenizer(texts, truncation=True, max_length=128)["input_ids"]]
        order = sorted(range(len(texts)), key=lambda i: lengths[i])
    times = []
    labels = [0] * len(texts)
    for _ in range(PASSES):
        t0 = time.perf_counter()
        if not runtime.endswith("unsorted"):
            # Sorting needs the token counts: tokenising for them is part of the work.
            lengths = [len(ids) for ids in tokenizer(texts, truncation=True, max_length=128)["input_ids"]]
            order = sorted(range(len(texts)), key=lambda i: lengths[i])
        for start in range(0, len(order), BATCH):
            idx = order[start : start + BATCH]
            out = logits([texts[i] for i in idx])
            for i, row in zip(idx, out.argmax(axis=1)):
                labels[i] = int(row)
        times.append(time.perf_counter() - t0)
    print(
        json.dumps(
            {
                "runtime": runtime,
                "sentences": len(texts),
                "load_s": round(load_s, 3),
                "best_s": round(min(times), 3),
                "median_s": round(statistics.median(times), 3),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                "labels": labels,
            }
        )
    )


if __name__ == "__main__":
    main()
