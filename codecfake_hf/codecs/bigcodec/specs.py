"""BigCodec (Xin et al. 2024): the one released checkpoint, 16 kHz, one 8192-entry codebook at 80 frames/s."""

from ..spec import CodecSpec

SPECS = [
    CodecSpec(
        name="bigcodec", family="bigcodec", sample_rate=16000, hop_length=200, n_codebooks=1, codebook_size=8192,
        bitrate_kbps=1.04, hub_repo="Alethia/BigCodec", hub_files=("bigcodec.pt",),
        length_rule="padded by 200 - (T mod 200) samples, as upstream's inference.py pads (a whole extra frame when "
                    "T is a multiple of 200), and not trimmed: (floor(T / 200) + 1) * 200 samples",
        # CodecFake+'s labels (SAST_Net/utils.py of ResponsibleGenAI/CodecFake-Source-Tracing: AS 1 = none,
        # DS 1 = time, QS 2 = single-codebook)
        quantizer="single-codebook", auxiliary="none", decoder="time",
        aliases=("bigcodec_1k",),
        notes="Runs upstream's inference.py: pad, CodecEncoder, the decoder's quantiser (codes: one 8192-entry "
              "codebook of 8-dimensional, l2-normalised codewords), CodecDecoder. Each utterance runs alone: the "
              "anti-aliased activations replicate-pad at the signal's end, which batch padding would move.",
        # Aria-K-Alethia/BigCodec: MIT (its LICENSE and README); the Hub repository Alethia/BigCodec states none
        license="mit", public_sets=("CodecFake+",),
    ),
]
