"""GPU check, run on a lent CUDA machine: batched generation and fine-tuning, with recorded results.

1. `bench.resynth` over every codec (official architectures, random weights) on CUDA: the engine
   against the batch-size-1 loop, same process -> `resynth-cuda.md`.
2. Batch agreement on CUDA: each codec's batched PCM against one-by-one PCM (in 16-bit steps).
3. Fine-tuning on CUDA through `eval.finetune`'s `CodecFakeTrainer` (class-weighted loss, EER
   metric) with a wav2vec2-base-sized classifier from a config, on genuine vs EnCodec-resynthesised
   speech-like audio made here. Checks 2 and 3 -> `device-check.json` (recorded as
   `bench/results/device-check-cuda.json`). Audio decoding through `datasets`/torchcodec is
   not exercised (the machine has no FFmpeg); the arrays go to the Trainer directly.

    python -m bench.device_check --out bench/results
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from bench.resynth import main as resynth_main
from bench.resynth import vctk_like_utterances
from bench.timing import machine
from codecfake_hf import codecs
from codecfake_hf.files import write_json_atomic
from codecfake_hf.resynth import Result, resynthesize_stream


def batch_agreement(names: list[str], device: torch.device) -> list[dict]:
    utts = vctk_like_utterances(4, seed=1)
    rows = []
    for name in names:
        codec = codecs.load(name, random_weights=True, device=device)
        batched = list(resynthesize_stream(codec, utts, batch_seconds=120, progress=False))
        single = list(resynthesize_stream(codec, utts, batch_seconds=1e-3, progress=False))
        diffs = [int(np.abs(b.pcm.astype(np.int32) - s.pcm.astype(np.int32)).max())
                 for b, s in zip(batched, single, strict=True)
                 if isinstance(b, Result) and isinstance(s, Result)]
        rows.append({"codec": name, "max_pcm_step_diff": max(diffs) if diffs else None, "compared": len(diffs)})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def finetune_check(device: torch.device, steps: int) -> dict:
    from transformers import TrainingArguments, Wav2Vec2Config, Wav2Vec2ForSequenceClassification

    from codecfake_hf.audio import from_pcm16, resample
    from eval.data import LabelInfo
    from eval.finetune import CodecFakeTrainer, class_weights, eer_metrics

    rate, length = 16000, 64600  # CodecFake's 4 s window
    genuine = vctk_like_utterances(48, seed=2)
    codec = codecs.load("encodec_24khz", random_weights=True, device=device)
    fakes = [r for r in resynthesize_stream(codec, genuine[:12], progress=False) if isinstance(r, Result)]
    waves = [u.wave for u in genuine[12:]] + [resample(from_pcm16(r.pcm), r.sample_rate, rate) for r in fakes] * 3
    labels = [0] * (len(genuine) - 12) + [1] * (len(fakes) * 3)
    # Plain examples, not a `datasets.Dataset`: the Trainer path is what runs on the GPU here.
    rows = [{"input_values": np.resize(w, length).astype(np.float32), "labels": y}
            for w, y in zip(waves, labels, strict=True)]
    order = np.random.default_rng(0).permutation(len(rows))
    split = {"train": [rows[i] for i in order[: len(rows) * 3 // 4]],
             "test": [rows[i] for i in order[len(rows) * 3 // 4:]]}
    info = LabelInfo(names=("bonafide", "spoof"), bonafide_id=0)
    config = Wav2Vec2Config(num_labels=2, label2id=info.label2id, id2label=info.id2label)  # base size
    model = Wav2Vec2ForSequenceClassification(config)
    model.freeze_feature_encoder()
    args = TrainingArguments(
        output_dir="/tmp/finetune-check", max_steps=steps, per_device_train_batch_size=8,
        per_device_eval_batch_size=8, learning_rate=3e-5, bf16=device.type == "cuda", report_to=[],
        logging_steps=10, eval_strategy="no", save_strategy="no", dataloader_num_workers=2,
        use_cpu=device.type != "cuda")
    trainer = CodecFakeTrainer(
        model=model, args=args, train_dataset=split["train"], eval_dataset=split["test"],
        compute_metrics=eer_metrics(info.bonafide_id),
        class_weights=class_weights(np.array([r["labels"] for r in split["train"]]), info, "balanced"))
    start = time.perf_counter()
    train = trainer.train()
    seconds = time.perf_counter() - start
    evaluation = trainer.evaluate()
    return {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
            "model": "Wav2Vec2ForSequenceClassification, base-size config, random init, feature encoder frozen",
            "steps": steps, "batch": 8, "window_samples": length, "train_seconds": round(seconds, 2),
            "steps_per_second": round(steps / seconds, 2), "train_loss": round(train.training_loss, 4),
            "eval_eer": round(evaluation["eval_eer"], 4), "eval_rows": len(split["test"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="bench/results", help="where the result files go")
    parser.add_argument("--codecs", default="all", help="codecs for parts 1 and 2 (default: all)")
    parser.add_argument("--steps", type=int, default=60, help="fine-tuning steps (default: %(default)s)")
    parser.add_argument("--utterances", type=int, default=16, help="utterances for part 1 (default: %(default)s)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    names = codecs.parse_codec_list(args.codecs)

    resynth_main(["--codecs", args.codecs, "--utterances", str(args.utterances), "--device", str(device),
                  "--out", "resynth-cuda" if device.type == "cuda" else "resynth-device-check-cpu"])
    agreement = batch_agreement(names, device)
    tuned = finetune_check(device, args.steps)
    print(json.dumps(tuned), flush=True)
    write_json_atomic(out / "device-check.json", {"batch_agreement": agreement, "finetune": tuned,
                                                  "recorded_on": machine()})  # the load, as bench.record adds it


if __name__ == "__main__":
    main()
