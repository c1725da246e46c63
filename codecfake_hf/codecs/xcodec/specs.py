"""X-Codec's configs: the five released checkpoints (hf-audio/xcodec-*) at their lowest and highest bandwidth."""

from ..spec import CodecSpec

_NOTE = (
    "transformers XcodecModel ({repo}, semantic model {semantic}) at {kbps:g} kbps ({nq} of 8 codebooks); input "
    "zero-padded to a multiple of the 320-sample hop as DacFeatureExtractor(hop_length=320) does, output cut to "
    "the input length. Config: XcodecConfig defaults with that semantic model, not compared offline with the Hub's "
    "config.json or preprocessor_config.json."
)
_CHECKPOINTS = (
    ("hubert-librispeech", "HuBERT base (facebook/hubert-base-ls960)"),
    ("wavlm-mls", "WavLM base+"),
    ("wavlm-more-data", "WavLM base+"),
    ("hubert-general", "HuBERT base, general audio"),
    ("hubert-general-balanced", "HuBERT base, general audio"),
)

# CodecFake+ CoRS's names (the checkpoints' file names, with the misspellings of its data files and protocols). The
# bandwidth is not stated; X-Codec's inference.py defaults to 0.5 kbps (1 codebook), which is taken.
_CORS = {"hubert-librispeech": ("xcodec_hubert_librispeech", "xcodec_hubert_libirispeech"),
         "hubert-general": ("xcodec_hubert_general_audio", "xocdec_hubert_general_audio")}

SPECS = [
    CodecSpec(
        name=f"xcodec-{ckpt}-nq{nq}", family="xcodec", sample_rate=16000, hop_length=320, n_codebooks=nq,
        codebook_size=1024, bitrate_kbps=kbps, hub_repo=f"hf-audio/xcodec-{ckpt}",
        hub_files=("config.json", "model.safetensors"),
        length_rule="same as input (the decoder's output is trimmed to the input length)",
        aliases=(f"xcodec-{ckpt}-{kbps:g}kbps", *(_CORS.get(ckpt, ()) if nq == 1 else ())),
        public_sets=("CodecFake+",) if nq == 1 and ckpt in _CORS else (),
        notes=_NOTE.format(repo=f"hf-audio/xcodec-{ckpt}", semantic=semantic, kbps=kbps, nq=nq),
        # RVQ over acoustic + HuBERT/WavLM features, trained to reconstruct the semantic ones; DAC decoder
        backend="transformers", quantizer="multi-codebook", auxiliary="semantic-distillation", decoder="time",
    )
    for ckpt, semantic in _CHECKPOINTS
    for nq, kbps in ((1, 0.5), (8, 4.0))
]
