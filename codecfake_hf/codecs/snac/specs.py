"""SNAC's three released configs (hubertsiuzdak/snac_24khz, _32khz, _44khz); CodecFake+ CoRS has the 24 and 44.1 kHz
ones (`snac_24khz`, `snac_44khz`, the names here)."""

from ..spec import CodecSpec

_RULE = "same as input (zero-padded to whole frames and attention windows, decoded, cut to the input length)"
_NOTE = (
    "SNAC as `SNAC.forward` of the snac package runs it, each utterance alone. Codebooks at {rates} Hz. The decoder's "
    "noise blocks draw standard normal noise at inference (upstream: torch's global generator); here each utterance "
    "draws it from a CPU generator seeded with the build's random-weight seed, else registry.weight_seed(name) (the "
    "`noise_seed` option overrides it), so rows are reproducible and independent of order and device."
)

SPECS = [
    CodecSpec(
        name=f"snac_{khz}khz", family="snac", sample_rate=rate, hop_length=hop, n_codebooks=len(strides),
        codebook_size=4096, codebook_strides=strides,
        bitrate_kbps=sum(12 * rate / hop / stride for stride in strides) / 1000,
        hub_repo=f"hubertsiuzdak/snac_{khz}khz", hub_files=("config.json", "pytorch_model.bin"), length_rule=_RULE,
        # residual VQ (codebooks at several rates), no auxiliary objective, waveform decoder: CodecFake+'s labels
        # for snac_24khz and snac_44khz (AS/DS/QS_CORS_dict: Trad, Time, MVQ)
        quantizer="multi-codebook", auxiliary="none", decoder="time", aliases=aliases,
        notes=_NOTE.format(rates=", ".join(f"{rate / hop / stride:.1f}" for stride in strides)),
        license="mit",  # hubertsiuzdak/snac_*khz: "license: mit" (the model cards)
        public_sets=sets,
    )
    for khz, rate, hop, strides, aliases, sets in (
        (24, 24000, 512, (4, 2, 1), ("snac24",), ("CodecFake+",)),
        (32, 32000, 384, (8, 4, 2, 1), ("snac32",), ()),
        (44, 44100, 384, (8, 4, 2, 1), ("snac44",), ("CodecFake+",)),
    )
]
