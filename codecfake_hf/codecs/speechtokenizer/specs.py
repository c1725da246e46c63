"""SpeechTokenizer's config of the CodecFake paper (fnlp's `speechtokenizer_hubert_avg`)."""

from ..spec import CodecSpec

SPECS = [
    CodecSpec(
        name="SpeechTokenizer", family="speechtokenizer", sample_rate=16000, hop_length=320, n_codebooks=8,
        codebook_size=1024, bitrate_kbps=4.0, hub_repo="fnlp/SpeechTokenizer",
        hub_files=("speechtokenizer_hubert_avg/config.json", "speechtokenizer_hubert_avg/SpeechTokenizer.pt"),
        length_rule="padded up to a multiple of the 320-sample hop (not trimmed)",
        # Its first RVQ layer is distilled from HuBERT: CodecFake+'s semantic distillation.
        quantizer="multi-codebook", auxiliary="semantic-distillation", decoder="time",
        aliases=("speechtokenizer", "SpeechTokenizer_hubert_avg"),  # the latter: CodecFake+ CoRS's name
        # fnlp/SpeechTokenizer: "license: apache-2.0"
        license="apache-2.0", paper_order=4, public_sets=("CodecFake", "CodecFake+"),
    ),
]
