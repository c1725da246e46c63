"""BiCodec's config: the codec of SparkAudio/Spark-TTS-0.5B (16 kHz, 50 semantic tokens/s + 32 global tokens)."""

from ..spec import CodecSpec

_NOTE = (
    "BiCodec, Spark-TTS's codec (SparkAudio/Spark-TTS-0.5B: BiCodec/ + wav2vec2-large-xlsr-53/), as its "
    "BiCodecTokenizer.tokenize + detokenize run it on one utterance, in float32: the utterance volume-normalised "
    "(audio_volume_normalize: the mean of its loud 90th-99th percentile scaled to 0.2), wav2vec 2.0 XLSR-53's "
    "hidden states 11, 14 and 16 averaged (50 Hz), a ConvNeXt (Vocos) encoder and one factorised codebook of 8,192 "
    "(cosine search in 8 dimensions): the semantic tokens; and 32 global tokens of 4,096 from the reference "
    "segment's 128-bin mel spectrogram (ECAPA-TDNN, perceiver resampler, residual FSQ of levels 4^6). Decoding: the "
    "semantic latents through a ConvNeXt prenet whose layer norms the global tokens' d-vector conditions, plus that "
    "d-vector, through a DAC-style wave generator (320 samples per token). Resynthesis takes the global tokens from "
    "the utterance itself: BiCodec's reference-segment rule (ref_segment_duration 6 s) applied to the utterance, so "
    "the speaker prompt is its own first 6 s, tiled where it is shorter (VCTK's utterances are). The output keeps "
    "the normalised level, as upstream returns it. The bitrate counts the semantic stream (13 bits at 50 Hz); the "
    "global tokens add 384 bits per utterance. Taxonomy (BiCodec is in no CodecFake+ set; the labels follow its "
    "nearest labelled codecs): the 50 Hz stream is one factorised VQ codebook: single-codebook (the fixed-length "
    "global tokens are FSQ, which alone CodecFake+ would label scalar, but they are an utterance-level side input, "
    "not the token stream); auxiliary disentanglement, as CodecFake+ labels TiCodec's time-invariant codes and "
    "FACodec's factorised streams: BiCodec's stated design is a time-invariant speaker token set apart from the "
    "content tokens; its content branch reading wav2vec 2.0 features (and, in training, a postnet predicting them "
    "back) would be semantic distillation in X-Codec's sense, a second trait the one-label column cannot hold; "
    "decoder time (a DAC-style wave generator). No noise anywhere: the decoder is deterministic. Weights: "
    "cc-by-nc-sa-4.0 (non-commercial, share-alike), loadable where the user has access."
)

SPECS = [
    CodecSpec(
        name="bicodec", family="bicodec", sample_rate=16000, hop_length=320, n_codebooks=1, codebook_size=8192,
        bitrate_kbps=1 * 13 * 50 / 1000, hub_repo="SparkAudio/Spark-TTS-0.5B",
        hub_files=("config.yaml", "BiCodec/config.yaml", "BiCodec/model.safetensors",
                   "wav2vec2-large-xlsr-53/config.json", "wav2vec2-large-xlsr-53/pytorch_model.bin"),
        length_rule="whole semantic tokens: 320 F samples, F = 1 + (T - 400) // 320 the wav2vec 2.0 frames of the "
                    "T input samples (its feature encoder's receptive field 400, stride 320); detokenize returns them "
                    "whole",
        quantizer="single-codebook", auxiliary="disentanglement", decoder="time",
        aliases=("spark-tts", "spark-tts-bicodec", "Spark-TTS-0.5B", "SparkAudio/Spark-TTS-0.5B"),
        notes=_NOTE,
        # SparkAudio/Spark-TTS-0.5B's model card: "license: cc-by-nc-sa-4.0" (the code on GitHub is Apache-2.0)
        license="cc-by-nc-sa-4.0",
    ),
]
