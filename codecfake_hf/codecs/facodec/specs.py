"""FACodec's config in CodecFake+ (Amphion's NaturalSpeech 3 codec, v2 encoder and decoder)."""

from ..spec import CodecSpec

SPECS = [
    CodecSpec(
        name="facodec_v2_16khz", family="facodec", sample_rate=16000, hop_length=200, n_codebooks=6,
        codebook_size=1024, bitrate_kbps=4.8, hub_repo="amphion/naturalspeech3_facodec",
        hub_files=("ns3_facodec_encoder_v2.bin", "ns3_facodec_decoder_v2.bin"),
        length_rule="same as input (zero-padded to whole 200-sample frames, decoded, cut back to the input)",
        # Factorised codebooks for prosody (1), content (2) and acoustic detail (3), trained with gradient-reversal
        # classifiers that keep them apart, and a timbre embedding: CodecFake+'s disentanglement, as its labels say.
        quantizer="multi-codebook", auxiliary="disentanglement", decoder="time",
        # CoRS names its files `FACodec_encodec-decoder-v2_16k`; we read it as the v2 encoder + v2 decoder
        # checkpoints (the README's `FACodecEncoderV2`/`FACodecDecoderV2`), the only "v2" the release has.
        aliases=("FACodec_encodec-decoder-v2_16k", "naturalspeech3_facodec"),
        notes="v2 networks (prosody codes from the first 20 log-mel bands); 6 codebooks of 1024 at 80 Hz; each "
              "utterance is decoded with its own timbre embedding",
        # amphion/naturalspeech3_facodec: "License: apache-2.0"
        license="apache-2.0", public_sets=("CodecFake+",),
    ),
]
