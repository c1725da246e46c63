"""LanguageCodec (Ji et al. 2024): its one released checkpoint, 24 kHz, 8 codebooks of 1024 entries at 75 frames/s."""

from ..spec import CodecSpec

SPECS = [
    CodecSpec(
        name="languagecodec", family="languagecodec", sample_rate=24000, hop_length=320, n_codebooks=8,
        codebook_size=1024, bitrate_kbps=6.0, hub_repo=None,
        # The README's "Models(New)" link (the `languagecodec_paper_8nq` row of its table), jishengpeng/Languagecodec
        # f10ffa6: a Lightning checkpoint on Google Drive, beside no config; the config is the repository's file.
        weights_page="https://drive.google.com/file/d/1ENLyQzbJm2BTignliHHZl11DmQdWZAoX/view?usp=drive_link",
        hub_files=("languagecodec_mm.yaml", "languagecodec_paper_8nq.ckpt"),
        length_rule="padded up to a multiple of the hop (not trimmed): ceil(T / 320) * 320 samples",
        # CodecFake+'s labels (SAST_Net/utils.py of ResponsibleGenAI/CodecFake-Source-Tracing: AS 1 = none,
        # DS 2 = frequency, QS 1 = multi-codebook)
        quantizer="multi-codebook", auxiliary="none", decoder="frequency",
        aliases=("languagecodec_paper_8nq", "language-codec"),
        notes="Runs upstream's README inference: `encode_infer` (the masked-channel residual VQ: quantisers 0-2 each "
              "code one third of the latent's channels, quantisers 3-7 the residual; upstream's `infer` always codes "
              "with 8 of them, whatever the bandwidth) and `decode` (Vocos backbone and ISTFT head) at bandwidth id "
              "0. Config: the repository's `configs/languagecodec_mm.yaml` (12 ConvNeXt layers), which the April 2024 "
              "checkpoint goes with. Upstream's SEANet decoder, which that path never calls, is dropped from the "
              "checkpoint on loading. The weights are on Google Drive only: download `languagecodec_mm.yaml` from "
              "the repository and the checkpoint (saved as `languagecodec_paper_8nq.ckpt`) into one folder and "
              "point the config at it.",
        # jishengpeng/Languagecodec: MIT (its LICENSE and README)
        license="mit", public_sets=("CodecFake+",),
    ),
]
