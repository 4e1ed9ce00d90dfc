"""Exports a model directory to ONNX (f32) and a dynamically quantised int8
copy, for `scripts/bench`.

Usage: python export_onnx.py MODEL_DIR OUT_DIR
Writes OUT_DIR/model.onnx and OUT_DIR/model-int8.onnx.
"""

import os
import sys

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer


def main() -> None:
    model_dir, out_dir = sys.argv[1:3]
    os.makedirs(out_dir, exist_ok=True)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, dtype=torch.float32)
    model.eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    enc = tokenizer(["A first sentence.", "And a second, longer sentence."], padding=True, return_tensors="pt")
    f32 = os.path.join(out_dir, "model.onnx")
    args = (enc["input_ids"], enc["attention_mask"], enc["token_type_ids"])
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {n: {0: "batch", 1: "sequence"} for n in names}
    axes["logits"] = {0: "batch"}
    try:
        torch.onnx.export(model, args, f32, input_names=names, output_names=["logits"],
                          dynamic_axes=axes, opset_version=17, dynamo=False)
    except Exception as legacy_error:  # the TorchScript exporter may be gone
        print(f"legacy exporter failed ({legacy_error}); trying dynamo", file=sys.stderr)
        batch = torch.export.Dim("batch")
        sequence = torch.export.Dim("sequence")
        shapes = {n: {0: batch, 1: sequence} for n in names}
        torch.onnx.export(model, args, f32, input_names=names, output_names=["logits"],
                          dynamic_shapes=shapes, dynamo=True)
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(f32, os.path.join(out_dir, "model-int8.onnx"), weight_type=QuantType.QInt8)


if __name__ == "__main__":
    main()
