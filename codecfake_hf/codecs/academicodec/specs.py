"""AcademiCodec's three HiFi-Codec configs of the CodecFake paper."""

from ..spec import CodecSpec

_RULE = "truncated down to a multiple of the 320-sample hop"
_NOTE = "Input peak-normalised to 0.95, as the CodecFake pipeline did."

SPECS = [
    CodecSpec(
        name=name, family="academicodec", sample_rate=rate, hop_length=320, n_codebooks=4, codebook_size=1024,
        bitrate_kbps=kbps, hub_repo="Dongchao/AcademiCodec", hub_files=(checkpoint,), length_rule=_RULE,
        quantizer="multi-codebook", auxiliary="none", decoder="time", aliases=aliases, notes=_NOTE,
        # yangdongchao/AcademiCodec: MIT (its LICENSE); the Hub repository Dongchao/AcademiCodec states none
        license="mit", paper_order=order, public_sets=("CodecFake", *(("CodecFake+",) if len(aliases) > 1 else ())),
    )
    for order, (name, rate, kbps, checkpoint, aliases) in enumerate([
        ("academicodec_hifi_16k_320d", 16000, 2.0, "HiFi-Codec-16k-320d", ("hificodec_16k",)),
        # CodecFake+ CoRS: HiFi_Codec_16k_320d_large_universal
        ("academicodec_hifi_16k_320d_large_uni", 16000, 2.0, "HiFi-Codec-16k-320d-large-universal",
         ("hificodec_16k_large", "HiFi_Codec_16k_320d_large_universal")),
        ("academicodec_hifi_24k_320d", 24000, 3.0, "HiFi-Codec-24k-320d", ("hificodec_24k",)),
    ], start=5)
]
