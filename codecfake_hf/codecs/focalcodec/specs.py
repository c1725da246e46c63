"""FocalCodec's configs: the three non-causal 16 kHz checkpoints (lucadellalib/focalcodec_50hz, _25hz, _12_5hz)."""

from ..spec import CodecSpec

_NOTE = (
    "FocalCodec v0.0.1 (the code released with these checkpoints): WavLM-large's first 6 layers (frozen) -> focal "
    "modulation compressor -> L2-normalised 13-dim latent -> binary spherical quantiser (the sign of each "
    "dimension: one token of 8,192 per frame) -> focal modulation decompressor -> Vocos (ISTFT) decoder, "
    "{rate} tokens/s. `FocalCodec.forward` as upstream runs it, one utterance at a time, no input normalisation. "
    "Taxonomy: BSQ quantises each dimension on its own (a 2-level scalar quantiser on the unit sphere), so it is "
    "`scalar`, as CodecFake+ labels its FSQ/SQ codecs (SQ), though the authors call its 8,192 sign patterns a "
    "single binary codebook; the encoder is WavLM (SSL) features that the decompressor "
    "is trained to reconstruct: `semantic-distillation`, as X-Codec's semantic branch; Vocos predicts STFT frames: "
    "`frequency`.{extra}"
)
_UNVERIFIED = (
    " The down/upscale factors ({factors}) are read from the paper's design (one or two stride-2 stages), not from "
    "the Hub's config.json (no Hub access when this was written; `download` reads the real file); the float32 "
    "parameters they give ({size}) match the size the Hub lists for its model.safetensors."
)
# (name, Hub repository, token rate, compressor downscale factors, decompressor upscale factors, the Hub's listed
# size of model.safetensors)
CHECKPOINTS = (
    ("focalcodec_50hz", "lucadellalib/focalcodec_50hz", 50.0, (1, 1, 1), (1, 1, 1), "569 MB"),
    ("focalcodec_25hz", "lucadellalib/focalcodec_25hz", 25.0, (2, 1, 1), (1, 1, 2), "577 MB"),
    ("focalcodec_12_5hz", "lucadellalib/focalcodec_12_5hz", 12.5, (2, 2, 1), (1, 2, 2), "581 MB"),
)

SPECS = [
    CodecSpec(
        name=name, family="focalcodec", sample_rate=16000, hop_length=int(16000 / rate), n_codebooks=1,
        codebook_size=8192, bitrate_kbps=1 * 13 * rate / 1000, hub_repo=repo,
        hub_files=("config.json", "model.safetensors"),
        length_rule="same as input (the decoder's output is cut to the input length, or padded by repeating its last "
                    "sample, as FocalCodec.forward does)",
        quantizer="scalar", auxiliary="semantic-distillation", decoder="frequency",
        aliases=(name.replace("focalcodec_", "focalcodec-").replace("_5", ".5"), repo),
        notes=_NOTE.format(rate=f"{rate:g}", extra=_UNVERIFIED.format(
            factors=f"compressor {list(down)}, decompressor {list(up)}", size=size)),
        # lucadellalib/focalcodec_*: "license: apache-2.0" (the model cards; the code is Apache-2.0 too)
        license="apache-2.0",
    )
    for name, repo, rate, down, up, size in CHECKPOINTS
]
