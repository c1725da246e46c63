"""AudioDec's config of the CodecFake paper (symAD autoencoder + HiFi-GAN vocoder, LibriTTS, 24 kHz)."""

from ..spec import CodecSpec

SPECS = [
    CodecSpec(
        name="audiodec_24k_320d", family="audiodec", sample_rate=24000, hop_length=300, n_codebooks=8,
        codebook_size=1024, bitrate_kbps=6.4, hub_repo="AudioDecBenchmark/AudioDec",
        hub_files=(
            "autoencoder/symAD_libritts_24000_hop300/checkpoint-500000steps.pkl",
            "autoencoder/symAD_libritts_24000_hop300/config.yml",
            "vocoder/AudioDec_v1_symAD_libritts_24000_hop300_clean/checkpoint-500000steps.pkl",
            "vocoder/AudioDec_v1_symAD_libritts_24000_hop300_clean/config.yml",
            # Not the repo's statistics .npy: its mean/scale are buffers of the vocoder checkpoint,
            # which upstream loads over the file's values.
        ),
        length_rule="padded up to a multiple of the 300-sample hop (the name says 320d; the checkpoint's hop is 300)",
        quantizer="multi-codebook", auxiliary="none", decoder="time", aliases=("audiodec",),
        notes="Every utterance starts from the vocoder state right after loading (order-independent). CodecFake+ "
              "labels AudioDec's decoder `frequency` (its DS_CORS_dict); here it is `time`: the vocoder is a HiFi-GAN "
              "whose transposed convolutions output the waveform (no spectrum, no inverse STFT). `builder import "
              "--layout cors` keeps the release's label on the rows it imports.",
        # facebookresearch/AudioDec: CC BY-NC 4.0 (its LICENSE), code and released models
        license="cc-by-nc-4.0", paper_order=8, public_sets=("CodecFake", "CodecFake+"),
    ),
]
