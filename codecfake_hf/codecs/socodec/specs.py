"""SoCodec (Guo et al. 2024): the one released checkpoint, 16 kHz, four 16,384-entry streams at 120 ms frames."""

from ..spec import CodecSpec

SPECS = [
    CodecSpec(
        name="socodec", family="socodec", sample_rate=16000, hop_length=1920, n_codebooks=4, codebook_size=16384,
        bitrate_kbps=4 * 14 * 16000 / 1920 / 1000,
        hub_repo="hhguo/SoCodec",
        hub_files=("socodec_16384x4_120ms_16khz_chinese.safetensors", "mel_vocoder_80dim_10ms_16khz.safetensors"),
        length_rule="example.py's 8000 samples (0.5 s) of zeros prepended and upstream's padding appended (1919 "
                    "zeros, whatever T: it takes `hop - shape[1] % hop` of a [1, 1, T] tensor), decoded whole (one "
                    "1920-sample frame per started frame), the 8000 prepended samples cut off again: "
                    "ceil((T + 9919) / 1920) * 1920 - 8000 samples",
        # CodecFake+'s labels (SAST_Net/utils.py of ResponsibleGenAI/CodecFake-Source-Tracing 91516e0:
        # AS 3 = disentanglement (the ECAPA-TDNN speaker embedding beside the codes), DS 2 = frequency (a mel
        # spectrogram that the BigVGAN vocoder turns into a waveform), QS 1 = multi-codebook (four product-VQ streams))
        quantizer="multi-codebook", auxiliary="disentanglement", decoder="frequency",
        aliases=("socodec_16384x4_120ms_16khz_chinese",),
        notes="SoCodec as upstream's example.py runs it (hhguo/SoCodec 3d35a24): 0.5 s of zeros prepended (upstream's "
              "trick for its causal convolutions) and 1919 appended (its padding, taken of a [1, 1, T] tensor), "
              "TencentGameMate/chinese-hubert-large's features (transformers' HubertModel in float16, as upstream casts"
              " fairseq's), a causal encoder and four product-VQ streams of 16,384 (two 128-entry codebooks each), an "
              "ECAPA-TDNN speaker embedding from the mel spectrogram, two causal decoders to an 80-band mel and the "
              "BigVGAN vocoder; the prepended 0.5 s is cut from the output. Trained on Chinese (WenetSpeech4TTS). Each "
              "utterance runs alone: the speaker encoder pools over every frame, padding included.",
        # hhguo/SoCodec (GitHub): MIT (its LICENSE); the Hub repository hhguo/SoCodec states none. The HuBERT
        # it loads, TencentGameMate/chinese-hubert-large: "license: mit".
        license="mit", public_sets=("CodecFake+",),
    ),
]
