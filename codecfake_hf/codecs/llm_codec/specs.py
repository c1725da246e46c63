"""LLM-Codec's released config (UniAudio 1.5, Yang et al. 2024, arXiv 2406.10056; yangdongchao/LLM-Codec): CodecFake+
CoRS's `llm_codec`."""

import math

from ..spec import CodecSpec

# Codebook k: its entries and the latent frames (480 samples at 16 kHz) one of its codes spans. The first holds the
# 3248 words of the repository's `layer1.npy`, the other two LLaMA-2's 32000 token embeddings (config.yaml's
# `global_embedding_path` / `local_embedding_path`, `vq_strides` [4, 2, 1]).
SIZES = (3248, 32000, 32000)
STRIDES = (4, 2, 1)
RATE, HOP = 16000, 480
BITS_PER_FRAME = sum(math.log2(size) / stride for size, stride in zip(SIZES, STRIDES, strict=True))

SPECS = [
    CodecSpec(
        name="llm_codec_16khz", family="llm_codec", sample_rate=RATE, hop_length=HOP, n_codebooks=len(SIZES),
        codebook_size=max(SIZES), codebook_sizes=SIZES, codebook_strides=STRIDES,
        bitrate_kbps=BITS_PER_FRAME * RATE / HOP / 1000,
        hub_repo="Dongchao/2024", hub_files=("semantic_acoustic.pth",),
        length_rule="same as input (zero-padded to whole 3840-sample windows, decoded, cut to the input length)",
        # SNAC's network with frozen LLM-vocabulary codebooks, the first pulled towards T5 text features (semantic
        # loss) and the second towards Whisper features (consistency loss), a waveform decoder: CodecFake+'s labels
        # for `llm_codec` (AS/DS/QS_CORS_dict: SEM, Time, MVQ).
        quantizer="multi-codebook", auxiliary="semantic-distillation", decoder="time",
        aliases=("llm_codec", "llm-codec", "uniaudio_1.5"),
        notes=(
            "LLM-Codec (UniAudio 1.5) as its `MSCodecLM.forward` runs it, each utterance alone: SNAC's encoder and "
            "decoder over three frozen codebooks at 8.3, 16.7 and 33.3 Hz (the 3248 words of layer1.npy, then "
            "LLaMA-2's 32000 token embeddings twice), about 58 codes per second. The decoder's noise blocks draw "
            "standard normal noise at inference (upstream: torch's global generator); here each utterance draws it "
            "from a CPU generator seeded with the build's random-weight seed, else registry.weight_seed(name) (the "
            "`noise_seed` option overrides it), so rows are reproducible. Licence: the repository and the Hub "
            "repository Dongchao/2024 state none, and two of the codebooks are LLaMA-2 7B's token embeddings: the "
            "Llama 2 Community License may bind the weights."
        ),
        license="",  # yangdongchao/LLM-Codec has no licence file; Dongchao/2024 states none that could be read here
        public_sets=("CodecFake+",),
    ),
]
