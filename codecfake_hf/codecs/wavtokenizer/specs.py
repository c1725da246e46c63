"""WavTokenizer's released 24 kHz checkpoints (novateur on the Hub): small, medium and large, at 40 and 75 frames/s.

Two of them are in CodecFake+'s CoRS set under the names used here (`wavtokenizer_small_320_24k_4096`,
`wavtokenizer_medium_320_24k_4096`); ST-Codecfake's open-set part holds the small 40-frame one
(`OOD_diff_config/wavtokenizer_small40` in xieyuankun/ST-Codecfake's config.py).
"""

from ..spec import CodecSpec

_RULE = "padded up to a multiple of the hop (not trimmed): ceil(T / hop) * hop samples"
# CodecFake+'s labels for WavTokenizer (SAST_Net/utils.py of ResponsibleGenAI/CodecFake-Source-Tracing: AS 1 = none,
# DS 2 = frequency, QS 2 = single-codebook); the configs beyond CoRS take the same labels (same architecture).
_TAXONOMY = dict(quantizer="single-codebook", auxiliary="none", decoder="frequency")
_NOTE = ("Encodes with upstream's `encode_infer` (one 4096-entry codebook) and decodes with its Vocos backbone and "
         "ISTFT head at bandwidth id 0, as upstream's README runs it; upstream's SEANet decoder, which that path never "
         "calls, is dropped from the checkpoint on loading.")


def _spec(name: str, hop: int, repo: str, files: tuple[str, ...], note: str, aliases: tuple[str, ...] = (),
          public_sets: tuple[str, ...] = ()) -> CodecSpec:
    frame_rate = 24000 / hop
    return CodecSpec(
        name=name, family="wavtokenizer", sample_rate=24000, hop_length=hop, n_codebooks=1, codebook_size=4096,
        bitrate_kbps=round(12 * frame_rate / 1000, 4), hub_repo=repo, hub_files=files, length_rule=_RULE,
        **_TAXONOMY, aliases=aliases, notes=f"{_NOTE} {note}".strip(),
        # jishengpeng/WavTokenizer: MIT (its LICENSE and README); the novateur model cards state no other licence
        license="mit", public_sets=public_sets,
    )


SPECS = [
    _spec("wavtokenizer_small_600_24k_4096", 600, "novateur/WavTokenizer", ("WavTokenizer_small_600_24k_4096.ckpt",),
          "40 frames/s, trained on LibriTTS; config: the repository's "
          "wavtokenizer_smalldata_frame40_3s_nq1_code4096_dim512_kmeans200_attn.yaml.",
          aliases=("wavtokenizer_small40", "wavtokenizer-small-40"), public_sets=("ST-Codecfake",)),
    _spec("wavtokenizer_small_320_24k_4096", 320, "novateur/WavTokenizer", ("WavTokenizer_small_320_24k_4096.ckpt",),
          "75 frames/s, trained on LibriTTS; config: the repository's "
          "wavtokenizer_smalldata_frame75_3s_nq1_code4096_dim512_kmeans200_attn.yaml.",
          aliases=("wavtokenizer-small-75",), public_sets=("CodecFake+",)),
    _spec("wavtokenizer_medium_320_24k_4096", 320, "novateur/WavTokenizer-medium-speech-75token",
          ("wavtokenizer_mediumdata_frame75_3s_nq1_code4096_dim512_kmeans200_attn.yaml",
           "wavtokenizer_medium_speech_320_24k.ckpt"),
          "75 frames/s, the speech model of the medium release (10,000 h); its first checkpoint (September 2024, "
          "before CodecFake+), not the later `_v2` file beside it.",
          aliases=("wavtokenizer-medium-75",), public_sets=("CodecFake+",)),
    _spec("wavtokenizer_large_600_24k_4096", 600, "novateur/WavTokenizer-large-unify-40token",
          ("wavtokenizer_large_unify_600_24k.ckpt",),
          "40 frames/s, the large speech/music/audio model (80,000 h); the repository holds no config, so the "
          "architecture is the 40-frame config of the code (the widths the checkpoint's tensors have).",
          aliases=("wavtokenizer-large-40",)),
    _spec("wavtokenizer_large_320_24k_4096", 320, "novateur/WavTokenizer-large-speech-75token",
          ("wavtokenizer_large_speech_320_24k.ckpt",),
          "75 frames/s, the large model (80,000 h); its first checkpoint (October 2024), not the `_v2` of February "
          "2025; the repository holds no config, so the architecture is the 75-frame config of the code.",
          aliases=("wavtokenizer-large-75",)),
]
