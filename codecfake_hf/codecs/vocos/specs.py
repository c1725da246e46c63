"""Vocos over EnCodec tokens (charactr/vocos-encodec-24khz) at its four bandwidths; CodecFake+ CoRS has 6 and 12 kbps
(`vocos_encodec_6`, `vocos_encodec_12`)."""

from ..spec import CodecSpec

_NOTE = (
    "Vocos copy-synthesis (`vocos(audio, bandwidth_id={index})`): EnCodec 24 kHz codes at {kbps:g} kbps ({nq} of 32 "
    "codebooks; the encodec family's model of facebook/encodec_24khz, the checkpoint vocos loads through the encodec "
    "package), Vocos's codebook embeddings, ConvNeXt backbone conditioned on the bandwidth, ISTFT head. Each utterance "
    "runs alone. Weights: Vocos's are MIT, its EnCodec's CC BY-NC 4.0."
)

SPECS = [
    CodecSpec(
        name=f"vocos_encodec_24khz_{kbps:g}kbps", family="vocos", sample_rate=24000, hop_length=320, n_codebooks=nq,
        codebook_size=1024, bitrate_kbps=kbps, hub_repo="charactr/vocos-encodec-24khz",
        hub_files=("config.yaml", "pytorch_model.bin"),
        length_rule="padded up to a multiple of the 320-sample hop (Vocos returns whole frames, not cut back)",
        # EnCodec's residual VQ, no auxiliary objective, a Fourier (ISTFT) decoder: CodecFake+'s labels for
        # vocos_encodec_6/12 (AS/DS/QS_CORS_dict: Trad, FREQ, MVQ)
        quantizer="multi-codebook", auxiliary="none", decoder="frequency",
        aliases=(f"vocos_encodec_{kbps:g}", f"vocos{kbps:g}"), notes=_NOTE.format(index=index, kbps=kbps, nq=nq),
        # charactr/vocos-encodec-24khz: "license: mit" (gemelo-ai/vocos: MIT), but the codec also runs the EnCodec
        # weights (facebook/encodec_24khz, the encodec package's): CC BY-NC 4.0, the stricter of the two
        license="cc-by-nc-4.0", public_sets=("CodecFake+",) if kbps in (6.0, 12.0) else (),
    )
    for index, (kbps, nq) in enumerate(((1.5, 2), (3.0, 4), (6.0, 8), (12.0, 16)))
]
