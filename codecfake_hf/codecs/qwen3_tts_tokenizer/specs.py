"""The Qwen3-TTS 12 Hz tokenizer's config (Qwen/Qwen3-TTS-Tokenizer-12Hz, the codec of every Qwen3-TTS-12Hz model)."""

from ..spec import CodecSpec

SPECS = [
    CodecSpec(
        name="qwen3-tts-tokenizer-12hz", family="qwen3_tts_tokenizer", sample_rate=24000, hop_length=1920,
        n_codebooks=16, codebook_size=2048, bitrate_kbps=16 * 11 * 12.5 / 1000,
        hub_repo="Qwen/Qwen3-TTS-Tokenizer-12Hz",
        hub_files=("config.json", "model.safetensors"),
        length_rule="whole 1920-sample frames: ceil(T / 1920) code frames decoded in full (not cut to the input)",
        # Mimi's split RVQ (its first codebook distilled from WavLM, `semantic-distillation`, as Mimi's) kept to 16
        # codebooks; a causal transformer + ConvNeXt + SnakeBeta convolutional decoder on the waveform (`time`).
        quantizer="multi-codebook", auxiliary="semantic-distillation", decoder="time",
        aliases=("qwen3-tts-tokenizer", "qwen3_tts_tokenizer_12hz", "Qwen3-TTS-Tokenizer-12Hz"),
        notes="Qwen3-TTS's speech tokenizer: transformers' Mimi encoder (16 of 32 codebooks of 2048) at 12.5 Hz and "
              "Qwen's decoder (written here from the qwen-tts code; transformers 5.23 has no class for it), run as "
              "`Qwen3TTSTokenizer.decode(encode(wav))`: the decoder in chunks of 300 frames with 25 frames of left "
              "context, the output in whole 1920-sample frames. Its encoder attends over the whole input, as on the "
              "transformers upstream pins (4.57.3), whose Mimi does not apply the config's 250-step window. Each "
              "utterance runs alone.",
        backend="codecfake-hf",
        license="apache-2.0",  # Qwen/Qwen3-TTS-Tokenizer-12Hz: "license: apache-2.0"
    ),
]
