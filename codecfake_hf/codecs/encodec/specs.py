"""EnCodec's configs: the CodecFake paper's 1.5 kbps one, the 24 kHz model's other bitrates and the 48 kHz model's."""

from ..spec import CodecSpec

_SAME = "same as input (the decoder's output is trimmed to the input length)"
_HF = ("config.json", "model.safetensors")
_TAXONOMY = {"quantizer": "multi-codebook", "auxiliary": "none", "decoder": "time"}
# facebookresearch/encodec's README: the code is MIT, the pre-trained models CC-BY-NC 4.0.
_LICENSE = "cc-by-nc-4.0"
_48K_NOTE = (
    "transformers EncodecModel (facebook/encodec_48khz) at {kbps:g} kbps ({nq} of 16 codebooks). The model is "
    "stereo: the mono utterance is fed as both channels and the two decoded channels are averaged. Input is "
    "zero-padded to whole 1 s chunks (1 % overlap) with a padding mask, as EncodecFeatureExtractor does, and each "
    "chunk is normalised to its RMS and restored, as the model does."
)

# CodecFake+ CoRS's names of the 24 kHz model at 6 and 24 kbps
_CORS = {6: ("Encodec_6b24k",), 24: ("Encodec_24b24k",)}

SPECS = [
    CodecSpec(
        name="encodec_24khz", family="encodec", sample_rate=24000, hop_length=320, n_codebooks=2,
        codebook_size=1024, bitrate_kbps=1.5, hub_repo="facebook/encodec_24khz", hub_files=_HF, length_rule=_SAME,
        **_TAXONOMY, aliases=("encodec",), backend="transformers", license=_LICENSE, paper_order=0,
        public_sets=("CodecFake",),
        notes="transformers EncodecModel at its default bandwidth, 1.5 kbps (2 of 32 codebooks).",
    ),
] + [
    CodecSpec(
        name=f"encodec_24khz_{kbps}kbps", family="encodec", sample_rate=24000, hop_length=320,
        n_codebooks=nq, codebook_size=1024, bitrate_kbps=float(kbps), hub_repo="facebook/encodec_24khz",
        hub_files=_HF, length_rule=_SAME, aliases=(f"encodec{kbps}", *_CORS.get(kbps, ())), backend="transformers",
        license=_LICENSE, **_TAXONOMY, public_sets=("CodecFake+",) if kbps in _CORS else (),
        notes=f"transformers EncodecModel (facebook/encodec_24khz) at {kbps} kbps ({nq} of 32 codebooks).",
    )
    for kbps, nq in ((3, 4), (6, 8), (12, 16), (24, 32))
] + [
    CodecSpec(
        name=f"encodec_48khz_{kbps}kbps", family="encodec", sample_rate=48000, hop_length=320,
        n_codebooks=nq, codebook_size=1024, bitrate_kbps=float(kbps), hub_repo="facebook/encodec_48khz",
        hub_files=_HF, length_rule=_SAME, aliases=(f"encodec48_{kbps}",), backend="transformers", license=_LICENSE,
        **_TAXONOMY, notes=_48K_NOTE.format(kbps=kbps, nq=nq),
    )
    for kbps, nq in ((3, 2), (6, 4), (12, 8), (24, 16))
]
