"""NVIDIA NeMo's released audio codecs: the low-frame-rate speech codec and the two mel (spectral) codecs."""

import math

from ..spec import CodecSpec

_NOTE = ("NeMo `AudioCodecModel` ({what}), run without NeMo: the `.nemo` archive's `model_config.yaml` and generator "
         "weights are read directly. Input zero-padded to whole frames; output of the padded length, as upstream "
         "returns it. Each utterance runs alone. Weights under NVIDIA's NSCLv1 (the Hub card's `license_name`).")

SPECS = [
    CodecSpec(
        name="nvidia-low-frame-rate-speech-codec-22khz", family="nemo_codec", sample_rate=22050, hop_length=1024,
        n_codebooks=8, codebook_size=2016, bitrate_kbps=8 * math.log2(2016) * 22050 / 1024 / 1000,
        hub_repo="nvidia/low-frame-rate-speech-codec-22khz", hub_files=("low-frame-rate-speech-codec-22khz.nemo",),
        length_rule="whole 1024-sample frames (the input zero-padded up to them; the output keeps that length)",
        # FSQ, 8 groups of levels [8, 7, 6, 6]; a WavLM discriminator in training only (no distillation into the
        # codes, hence `none`); HiFi-GAN generator on the waveform.
        quantizer="scalar", auxiliary="none", decoder="time",
        aliases=("low-frame-rate-speech-codec-22khz", "nemo-low-frame-rate-codec", "nemo-lfr-22khz"),
        notes=_NOTE.format(what="HiFi-GAN encoder, FSQ 8 x [8, 7, 6, 6] at 21.5 frames/s, HiFi-GAN decoder"),
        # nvidia/low-frame-rate-speech-codec-22khz: "license: other, license_name: nsclv1"
        license="nsclv1",
    ),
    *(CodecSpec(
        name=f"nvidia-mel-codec-{khz}khz", family="nemo_codec", sample_rate=rate, hop_length=hop, n_codebooks=8,
        codebook_size=1000, bitrate_kbps=8 * math.log2(1000) * rate / hop / 1000,
        hub_repo=f"nvidia/mel-codec-{khz}khz", hub_files=(f"mel-codec-{khz}khz.nemo",),
        length_rule=f"whole {hop}-sample frames (the input zero-padded up to them; the output keeps that length)",
        # Spectral Codecs (Langman et al. 2024, arXiv 2406.05298): FSQ over mel bands; HiFi-GAN decoder
        quantizer="scalar", auxiliary="none", decoder="time",
        aliases=(f"mel-codec-{khz}khz", f"nemo-mel-codec-{khz}khz", *cors),
        notes=_NOTE.format(what=f"the Spectral Codecs paper's multi-band mel encoder (80 mel bands in 8 bands of 10, "
                                f"one FSQ group each), FSQ 8 x [8, 5, 5, 5] at {rate / hop:.1f} frames/s, HiFi-GAN "
                                "decoder") + extra,
        # nvidia/mel-codec-*khz: "license: other, license_name: nsclv1"
        license="nsclv1", public_sets=sets,
    ) for khz, rate, hop, cors, sets, extra in (
        (22, 22050, 256, (), (), ""),
        (44, 44100, 512, ("spectralcodecs", "spectral-codecs"), ("CodecFake+",),
         " CodecFake+'s CoRS `spectralcodecs` (NVIDIA's Spectral Codec) is this config: its files name no rate and "
         "both mel codecs are that paper's architecture; the alias picks the 44.1 kHz checkpoint, the full-band one "
         "(a choice, not a fact of the release). CodecFake+ labels it `frequency` in decoder domain (DS_CORS_dict); "
         "here it is `time`: its spectrum is the encoder's input, while the decoder is a HiFi-GAN generator whose "
         "transposed convolutions output the waveform (no inverse STFT). `builder import --layout cors` keeps the "
         "release's label on the rows it imports."),
    )),
]
