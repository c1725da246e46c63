"""Descript Audio Codec's three configs of the CodecFake paper (16, 24 and 44.1 kHz)."""

from ..spec import CodecSpec

_SAME = "same as input (the decoder's output is trimmed to the input length)"
_NOTE = "DAC through the dac package's compress()/decompress(): -16 LUFS and back, 1 s windows."

SPECS = [
    CodecSpec(
        name=f"descript-audio-codec-{khz}khz", family="dac", sample_rate=rate, hop_length=hop, n_codebooks=nq,
        codebook_size=1024, bitrate_kbps=kbps, hub_repo=f"descript/dac_{khz}khz",
        hub_files=("config.json", "model.safetensors"), length_rule=_SAME,
        quantizer="multi-codebook", auxiliary="none", decoder="time",
        # CodecFake+ CoRS names the 24 kHz model `DAC24`
        aliases=(f"dac_{khz}khz", f"dac{khz}", *(("DAC24",) if khz == 24 else ())), notes=_NOTE, backend="transformers",
        # descript/dac_*: "license: mit" (descriptinc/descript-audio-codec, MIT, code and weights)
        license="mit", paper_order=order, public_sets=("CodecFake", "CodecFake+") if khz == 24 else ("CodecFake",),
    )
    for order, (khz, rate, hop, nq, kbps) in enumerate(
        [(16, 16000, 320, 12, 6.0), (24, 24000, 320, 32, 24.0), (44, 44100, 512, 9, 7.752)], start=1)
]
