"""VibeVoice's acoustic tokenizer: one config (the released checkpoint, its latent mean)."""

from ..spec import CodecSpec

_NOTE = (
    "VibeVoice acoustic tokenizer (microsoft/VibeVoice-AcousticTokenizer, the transformers conversion of "
    "VibeVoice-1.5B's) on transformers' VibeVoiceAcousticTokenizerModel: continuous 64-dim σ-VAE latents at 7.5 Hz, "
    "no quantiser. As transformers' documentation runs it: its feature extractor scales each utterance to -25 dB FS "
    "RMS (and below full scale) and pads it with zeros to whole 3200-sample frames; encode(sample=False), i.e. the "
    "latent mean, not the σ-VAE's noisy sample, so the output is deterministic; decode; cut to the input length. The "
    "output keeps the -25 dB FS level of the normalised input."
)

SPECS = [
    CodecSpec(
        name="vibevoice-acoustic", family="vibevoice", sample_rate=24000, hop_length=3200, n_codebooks=0,
        codebook_size=0, bitrate_kbps=0.0, hub_repo="microsoft/VibeVoice-AcousticTokenizer",
        hub_files=("config.json", "model.safetensors"),
        length_rule="same as input (zero-padded to whole 3200-sample frames; the output is cut to the input length)",
        aliases=("vibevoice", "vibevoice-acoustic-tokenizer", "vibevoice-1.5b-acoustic"), notes=_NOTE,
        backend="transformers",
        # no quantiser (a VAE's continuous latents); trained as DAC is, with no semantic teacher (VibeVoice's
        # semantic tokenizer is a separate model); ConvNeXt decoder on the waveform
        quantizer="continuous", auxiliary="none", decoder="time",
        license="mit",  # microsoft/VibeVoice-1.5B and its tokenizer: "license: mit"
    )
]
