"""FunCodec's six configs of the CodecFake paper: four EnCodec-style (time domain), two FreqCodec (magnitude/phase)."""

from ..spec import CodecSpec

_SAME = "same as input (the decoder's output is trimmed to the input length)"
_NOTE = "FunCodec, all 32 quantisers (the pipeline's default bit width)."
_FREQ_RULE = "STFT frames rounded to whole code frames, then cut to the input length (some inputs shorten)"
_FILES = ("config.yaml", "model.pth")


def _spec(name: str, repo: str, hop: int, decoder: str, alias: str, order: int, notes: str = _NOTE,
          rule: str = _SAME, cors: str = "") -> CodecSpec:
    """`cors`: CodecFake+ CoRS's name of the config, if CoRS has it."""
    return CodecSpec(
        name=f"funcodec-funcodec_{name}", family="funcodec", sample_rate=16000, hop_length=hop, n_codebooks=32,
        codebook_size=1024, bitrate_kbps=32 * 10 * 16000 / hop / 1000, hub_repo=f"alibaba-damo/audio_codec-{repo}",
        hub_files=_FILES, length_rule=rule, quantizer="multi-codebook", auxiliary="none", decoder=decoder,
        aliases=(alias, *((cors,) if cors else ())), notes=notes,
        # alibaba-damo-academy/FunCodec: MIT (its LICENSE); the ModelScope/Hub model cards say the same
        license="mit", paper_order=order, public_sets=("CodecFake", *(("CodecFake+",) if cors else ())),
    )


SPECS = [
    _spec("en_libritts-16k-gr1nq32ds320", "freqcodec_magphase-en-libritts-16k-gr1nq32ds320-pytorch", 320,
          "frequency", "funcodec_gr1", 9, "FunCodec FreqCodec (magnitude/phase), group ratio 1. " + _NOTE, _FREQ_RULE,
          cors="FunCodec_en-libritts-16k-gr1nq32ds320"),
    _spec("en_libritts-16k-gr8nq32ds320", "freqcodec_magphase-en-libritts-16k-gr8nq32ds320-pytorch", 320,
          "frequency", "funcodec_gr8", 10, "FunCodec FreqCodec (magnitude/phase), group ratio 8. " + _NOTE, _FREQ_RULE),
    _spec("en_libritts-16k-nq32ds320", "encodec-en-libritts-16k-nq32ds320-pytorch", 320, "time",
          "funcodec_en_ds320", 11),
    _spec("en_libritts-16k-nq32ds640", "encodec-en-libritts-16k-nq32ds640-pytorch", 640, "time",
          "funcodec_en_ds640", 12),
    _spec("zh_en_general_16k_nq32ds320", "encodec-zh_en-general-16k-nq32ds320-pytorch", 320, "time",
          "funcodec_zh_en_ds320", 13, cors="FunCodec_zh_en-general-16k-nq32ds320"),
    # The release's zh_en ds320 and ds640 demo files are byte-identical: most likely both came from the ds320
    # checkpoint through a folder-name slip. We run this name with its own weights.
    _spec("zh_en_general_16k_nq32ds640", "encodec-zh_en-general-16k-nq32ds640-pytorch", 640, "time",
          "funcodec_zh_en_ds640", 14, _NOTE + " The original release's files for this name equal the ds320 ones "
          "(most likely a folder-name slip); codecfake-hf runs the ds640 checkpoint."),
]
