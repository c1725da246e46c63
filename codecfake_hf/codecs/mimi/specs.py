"""Mimi's configs (kyutai/mimi): Moshi's 8 codebooks and all 32."""

from ..spec import CodecSpec

_NOTE = (
    "transformers MimiModel (kyutai/mimi) with {nq} of 32 codebooks ({what}); input and output cut to the input "
    "length, as MimiModel.forward does. The config is transformers' MimiConfig defaults (documented as kyutai/mimi's); "
    "the Hub config.json and the key layout of the Hub file could not be compared offline."
)

SPECS = [
    CodecSpec(
        name=f"mimi-nq{nq}", family="mimi", sample_rate=24000, hop_length=1920, n_codebooks=nq,
        codebook_size=2048, bitrate_kbps=nq * 11 * 12.5 / 1000, hub_repo="kyutai/mimi",
        hub_files=("config.json", "model.safetensors"),
        length_rule="same as input (the decoder's output is trimmed to the input length)", aliases=aliases,
        notes=_NOTE.format(nq=nq, what=what), backend="transformers",
        # split RVQ whose first codebook is distilled from WavLM (semantic); SEANet + transformer decoder (time)
        quantizer="multi-codebook", auxiliary="semantic-distillation", decoder="time",
        license="cc-by-4.0",  # kyutai/mimi's model card
        public_sets=("CodecFake+",) if nq == 8 else (),
    )
    # CodecFake+ CoRS: `mimicodec` in the authors' taxonomy dicts, `mini` in their data's file names and protocols
    # (no `mimicodec` there; 31 codecs only with the two as one, both Semantic/Time/MVQ): Mimi. Its codebook count is
    # not stated; 8, Moshi's setting and Mimi's published 1.1 kbps, is taken.
    for nq, aliases, what in ((8, ("mimi", "mimi8", "mimicodec", "mini"), "Moshi's setting"),
                              (32, ("mimi32",), "all of them"))
]
