"""NeuCodec's config: neuphonic/neucodec (16 kHz in, 24 kHz out) in transformers' conversion."""

from ..spec import CodecSpec

SPECS = [
    CodecSpec(
        name="neucodec", family="neucodec", sample_rate=16000, output_rate=24000, hop_length=320, n_codebooks=1,
        codebook_size=65536, bitrate_kbps=1 * 16 * 50 / 1000, hub_repo="neuphonic/neucodec",
        hub_files=("config.json", "model.safetensors"),
        length_rule="whole frames at 24 kHz: (T // 320) × 480 output samples for T input samples (the input is "
                    "padded with 320 - T mod 320 zeros as NeuCodec._prepare_audio pads it; the semantic branch "
                    "gives one frame fewer than the acoustic one and the longer is cut, as NeuCodec.encode_code does)",
        notes="transformers NeuCodecModel (neuphonic/neucodec's transformers conversion: config.json and "
              "model.safetensors beside the original pytorch_model.bin) run as the original NeuCodec.encode_code/"
              "decode_code run it: the semantic branch's features are facebook/w2v-bert-2.0's "
              "SeamlessM4TFeatureExtractor on the hop-padded input (transformers' NeuCodecFeatureExtractor needs "
              "torchaudio, which is not used here), the semantic encoder is w2v-BERT 2.0's first 16 layers, one FSQ "
              "code per 20 ms (65,536 codes, 0.8 kbps), decoded at 24 kHz: rows are stored at 24 kHz. One utterance "
              "at a time. The distilled variant (neuphonic/distill-neucodec: DistilHuBERT semantic branch, another "
              "acoustic encoder) has no transformers model and is not included. Taxonomy as X-Codec 2's: FSQ is "
              "scalar (CodecFake+'s SQ), Vocos ISTFT decoder (frequency).",
        backend="transformers",
        quantizer="scalar", auxiliary="semantic-distillation", decoder="frequency",
        license="apache-2.0",  # neuphonic/neucodec's model card
    )
]
