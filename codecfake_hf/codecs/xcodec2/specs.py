"""X-Codec 2's config: the released checkpoint (HKUSTAudio/xcodec2) in transformers' conversion."""

from ..spec import CodecSpec

SPECS = [
    CodecSpec(
        name="xcodec2", family="xcodec2", sample_rate=16000, hop_length=320, n_codebooks=1, codebook_size=65536,
        bitrate_kbps=1 * 16 * 50 / 1000, hub_repo="HKUSTAudio/xcodec2-hf",
        hub_files=("config.json", "model.safetensors"),
        length_rule="whole 320-sample frames: (T // 320 + 1) × 320 (the input is padded with 320 - T mod 320 zeros, "
                    "1 to 320, as XCodec2Model.encode_code pads it, and the decoded frames are kept whole)",
        aliases=("x-codec-2", "xcodec-2"),
        notes="transformers Xcodec2Model (HKUSTAudio/xcodec2-hf, the conversion of HKUSTAudio/xcodec2) run as the "
              "original XCodec2Model.encode_code/decode_code run it: the semantic branch's features are facebook/"
              "w2v-bert-2.0's SeamlessM4TFeatureExtractor on the hop-padded input padded by 160 zeros each side "
              "(transformers' Xcodec2FeatureExtractor needs torchaudio, which is not used here), the semantic "
              "encoder is w2v-BERT 2.0's first 16 layers (upstream's hidden_states[16]), one FSQ code per frame "
              "(8 levels of 4: 65,536 codes, 16 bits), decoded from the codes. One utterance at a time. Config: "
              "Xcodec2Config defaults (those of the conversion script), not compared offline with the Hub's "
              "config.json. Taxonomy: FSQ is scalar quantisation, as CodecFake+ labels FSQ/SQ codecs "
              "(spectralcodecs, sqcodec: SQ), not a single VQ codebook; its Vocos decoder predicts STFT frames "
              "(frequency, as CodecFake+ labels WavTokenizer and Vocos).",
        backend="transformers",
        # FSQ (SQ in CodecFake+'s labels); w2v-BERT 2.0 semantic branch; Vocos ISTFT decoder
        quantizer="scalar", auxiliary="semantic-distillation", decoder="frequency",
        license="cc-by-nc-4.0",  # HKUSTAudio/xcodec2's model card (and hf-audio/xcodec2's)
        # X-Codec 2's resynthesis is among the codecs of ST-Codecfake and CDD (neither CodecFake nor CodecFake+)
        public_sets=("ST-Codecfake", "CDD"),
    )
]
