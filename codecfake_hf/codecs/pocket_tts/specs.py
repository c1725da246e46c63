"""Pocket TTS's audio tokenizer: one config (the released English model's Mimi VAE)."""

from ..spec import CodecSpec

_NOTE = (
    "Pocket TTS audio tokenizer (Kyutai; the VAE-GAN of Continuous Audio Language Models, arXiv 2509.06926) on "
    "transformers' PocketTTSAudioTokenizerModel: a Mimi-architecture encoder/decoder whose residual VQ is replaced by "
    "a 32-dim continuous bottleneck at 12.5 Hz; no quantiser, no sampling at encode time (the encoder's latent is "
    "used as it is, as pocket-tts's encode_to_latent does). Input zero-padded to whole 1920-sample frames "
    "(pocket-tts's pad_for_conv1d; EncodecFeatureExtractor with 0.08 s chunks), output cut to the input length. "
    "Weights: transformers' conversion {repo} of kyutai/pocket-tts (CC-BY-4.0; the voice-cloning encoder is gated "
    "on the Hub behind Kyutai's terms: no cloning of a voice without its speaker's consent)."
)
_REPO = "eustlb/pocket-tts-audio-tokenizer"

SPECS = [
    CodecSpec(
        name="pocket-tts-audio-tokenizer", family="pocket_tts", sample_rate=24000, hop_length=1920, n_codebooks=0,
        codebook_size=0, bitrate_kbps=0.0, hub_repo=_REPO, hub_files=("config.json", "model.safetensors"),
        length_rule="same as input (zero-padded to whole 1920-sample frames; the output is cut to the input length)",
        aliases=("pocket-tts", "pocket-tts-mimi"), notes=_NOTE.format(repo=_REPO), backend="transformers",
        # no quantiser (continuous VAE latents); CALM distils WavLM into the speech VAE's latent as Mimi does into its
        # first codebook; SEANet + transformer decoder on the waveform
        quantizer="continuous", auxiliary="semantic-distillation", decoder="time",
        license="cc-by-4.0",  # kyutai/pocket-tts: "license: cc-by-4.0"
    )
]
