"""HILCodec (Ahn et al. 2024, arXiv 2405.04752): the speech model of aask1357/hilcodec, 24 kHz, 8 residual
codebooks of 1024 at 75 frames/s (6 kbps, the codebooks upstream's inference runs with)."""

from ..spec import CodecSpec

SPECS = [
    CodecSpec(
        name="hilcodec_speech", family="hilcodec", sample_rate=24000, hop_length=320, n_codebooks=8,
        codebook_size=1024, bitrate_kbps=6.0,
        # Not on the Hub: the README of aask1357/hilcodec links the PyTorch checkpoints' Google Drive folder (one .zip
        # per model, holding the training run's `config.yaml` and its last checkpoint `00150.pth`: upstream's
        # `{epoch:05d}.pth` naming, `max_epochs: 150` in configs/hilcodec_speech.yaml; lucadellalib/hilcodec, a
        # packaging of upstream, reads the same two files from that folder).
        hub_repo=None, weights_page="https://drive.google.com/drive/folders/1og7uw_t1oJd7qcg-sjjuJ4Pn7t1TArsW",
        hub_files=("config.yaml", "00150.pth"),
        length_rule="cut to whole frames, as upstream's inference.ipynb cuts its input (T // 320 * 320 samples); the "
                    "causal model then returns as many: floor(T / 320) * 320 samples",
        # CodecFake+'s labels (SAST_Net/utils.py of ResponsibleGenAI/CodecFake-Source-Tracing: AS 1 = none,
        # DS 1 = time, QS 1 = multi-codebook)
        quantizer="multi-codebook", auxiliary="none", decoder="time",
        aliases=("hilcodec", "hil_speech"),
        notes="Runs upstream's scripts/inference.ipynb: the input clamped to [-1, 1] and cut to whole 320-sample "
              "frames, then `HILCodec(x, n=8)`: all 8 codebooks (6 kbps), as the notebook, test_onnx.py's default "
              "and the 8 quantiser graphs of the repository's ONNX release run it (training validated at n=4, 3 "
              "kbps; the CoRS name carries no bitrate). The released model is causal (streaming); it runs here on "
              "whole utterances, which a causal model computes the same way.",
        # aask1357/hilcodec: MIT (its LICENSE); the checkpoints are linked from its README
        license="mit", public_sets=("CodecFake+",),
    ),
]
