"""TiCodec's three released configs (Ren et al., ICASSP 2024), the CodecFake+ CoRS codecs `ticodec_1g*r`."""

from ..spec import CodecSpec

_RULE = "truncated down to a multiple of the 320-sample hop"
_NOTE = ("24 kHz; {layers} frame-level codebook(s) of 1024 at 75 Hz plus 8 time-invariant codes of 1024 per "
         "utterance (not in the bitrate). Input as read, no normalisation, as upstream's vqvae_copy_syn.py. "
         "Taxonomy as CodecFake+ labels it: disentanglement (time-invariant codes apart from the frame-level "
         "ones), time-domain decoder, {quantizer} (the frame-level layers).")

# The Hub repository y-ren16/TiCodec holds one checkpoint per config under logs_conv_only/ (one commit, "Upload 3
# files", 2023-12-19). The file names are the ones the upstream test scripts of that day load
# (egs/TiCodec-24k-320d/test_conv_1g*r_8g3k1s_cos_from_head.sh at 13af0eb): the Hub listing itself could not
# be read from this machine. A missing file is named with its repository (`WeightsUnavailableError`).
SPECS = [
    CodecSpec(
        name=f"ticodec_24k_320d_{variant}", family="ticodec", sample_rate=24000, hop_length=320,
        n_codebooks=layers, codebook_size=1024, bitrate_kbps=0.75 * layers, hub_repo="y-ren16/TiCodec",
        hub_files=(f"logs_conv_only/logs_convonly_Lib_{variant}_cos_from_head/{step}",), length_rule=_RULE,
        quantizer=quantizer, auxiliary="disentanglement", decoder="time",
        aliases=(f"ticodec_{variant}", f"ticodec-{variant}"),
        notes=_NOTE.format(layers=layers, quantizer=quantizer),
        # y-ren16/TiCodec's README: "The repository is licensed under the Apache 2.0 License" (it links a LICENSE
        # file the repository does not hold); the Hub repository states no licence.
        license="apache-2.0", public_sets=("CodecFake+",),
    )
    for variant, layers, quantizer, step in [
        ("1g1r", 1, "single-codebook", "g_00300000"),
        ("1g2r", 2, "multi-codebook", "g_00250000"),
        ("1g4r", 4, "multi-codebook", "g_00250000"),
    ]
]
