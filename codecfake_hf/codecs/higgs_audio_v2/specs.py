"""The Higgs Audio v2 tokenizer's configs: its lowest and highest bandwidth (2 and 8 of its 8 codebooks)."""

from ..spec import CodecSpec

_NOTE = (
    "Higgs Audio v2 tokenizer (Boson AI; transformers' HiggsAudioV2TokenizerModel, mirrored in codecfake-hf because "
    "transformers' module imports torchaudio) at {kbps:g} kbps ({nq} of 8 codebooks). Input zero-padded to whole "
    "960-sample frames as DacFeatureExtractor(hop_length=960) does, output cut to the input length. Its semantic "
    "teacher (HuBERT base) hears the input resampled 24 -> 16 kHz by torchaudio's windowed-sinc rule "
    "(codecfake_hf.resample). Weights: transformers' conversion of bosonai/higgs-audio-v2-tokenizer's model.pth, "
    "published as {repo} (the checkpoint transformers' documentation loads); licence of the original: Boson AI's "
    "own (the Hub's `license: other`). 1 and 1.5 kbps: `bandwidth=` option."
)
_REPO = "eustlb/higgs-audio-v2-tokenizer"

SPECS = [
    CodecSpec(
        name=f"higgs-audio-v2-nq{nq}", family="higgs_audio_v2", sample_rate=24000, hop_length=960, n_codebooks=nq,
        codebook_size=1024, bitrate_kbps=kbps, hub_repo=_REPO, hub_files=("config.json", "model.safetensors"),
        length_rule="same as input (zero-padded to whole 960-sample frames; the output is cut to the input length)",
        aliases=(f"higgs-audio-v2-{kbps:g}kbps", *extra),
        notes=_NOTE.format(kbps=kbps, nq=nq, repo=_REPO), backend="codecfake-hf",
        # RVQ over DAC acoustic + HuBERT semantic features, trained to rebuild the teacher's (X-Codec's recipe);
        # DAC decoder on the waveform
        quantizer="multi-codebook", auxiliary="semantic-distillation", decoder="time",
        license="other",  # bosonai/higgs-audio-v2-tokenizer: "license: other" (its LICENSE file, Boson AI's terms)
    )
    for nq, kbps, extra in ((2, 0.5, ()), (8, 2.0, ("higgs-audio-v2", "higgs-audio-v2-tokenizer")))
]
