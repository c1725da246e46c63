"""DualCodec's configs: the two released checkpoints of amphion/dualcodec (12hz_v1, 25hz_v1) at all their codebooks."""

from ..spec import CodecSpec

_NOTE = (
    "DualCodec {model_id} (the `dualcodec` package's Inference.encode/decode): the 24 kHz input resampled to 16 kHz "
    "(torchaudio's windowed-sinc rule, codecfake_hf.resample), facebook/w2v-bert-2.0's SeamlessM4TFeatureExtractor "
    "features, w2v-BERT 2.0's hidden_states[17] normalised by w2vbert2_mean_var_stats_emilia.pt and average-pooled "
    "by {pool} to {rate:g} Hz, a ConvNeXt encoder and one semantic codebook of 16,384 (the first code of each frame), "
    "then DAC's encoder on the 24 kHz waveform, the decoded semantic latent subtracted, {acoustic} acoustic RVQ "
    "codebooks of {size:,} on the rest, and DAC's decoder on their sum. All {total} codebooks (the README's maximum). "
    "One utterance at a time, in float32: upstream runs w2v-BERT (always) and the encoder (by default) under float16 "
    "autocast, which this package leaves to its precision option. The codec table's bitrate counts every codebook "
    "at the acoustic size; with the semantic codebook's 14 bits it is {kbps:g} kbps. Taxonomy: residual VQ "
    "(multi-codebook), a semantic first codebook quantising w2v-BERT features that the acoustic codebooks complement "
    "(semantic-distillation), DAC's waveform decoder (time). Weights: amphion/dualcodec apache-2.0; the w2v-BERT 2.0 "
    "weights it also loads (facebook/w2v-bert-2.0) are MIT."
)


def _spec(name: str, model_id: str, weights: str, hop: int, acoustic: int, size: int, pool: int) -> CodecSpec:
    rate = 24000 / hop
    bits = 14 + acoustic * (size.bit_length() - 1)
    return CodecSpec(
        name=name, family="dualcodec", sample_rate=24000, hop_length=hop, n_codebooks=1 + acoustic,
        codebook_size=size, bitrate_kbps=(1 + acoustic) * (size.bit_length() - 1) * rate / 1000,
        hub_repo="amphion/dualcodec", hub_files=(weights, "w2vbert2_mean_var_stats_emilia.pt"),
        length_rule=f"whole semantic frames: S = floor(ceil(K / 2) / {pool}) with K = 1 + (T16 - 400) // 160 the "
                    "w2v-BERT filterbank frames of the T16 = ceil(2T / 3) samples at 16 kHz; DAC's decoder gives "
                    f"{hop} S - 4 samples (its stride-5 transposed conv gives 5L - 1, then × 4; kept whole, as decode "
                    "returns them)",
        quantizer="multi-codebook", auxiliary="semantic-distillation", decoder="time",
        aliases=(model_id, f"dualcodec-{model_id.replace('_v1', '')}"),
        notes=_NOTE.format(model_id=model_id, pool=pool, rate=rate, acoustic=acoustic, size=size, total=1 + acoustic,
                           kbps=bits * rate / 1000),
        # amphion/dualcodec's model card: "license: apache-2.0"; the w2v-BERT 2.0 weights (facebook/w2v-bert-2.0): mit
        license="apache-2.0",
    )


SPECS = [
    _spec("dualcodec_12hz_v1", "12hz_v1", "dualcodec_12hz_16384_4096.safetensors", 1920, 7, 4096, 4),
    _spec("dualcodec_25hz_v1", "25hz_v1", "dualcodec_25hz_16384_1024.safetensors", 960, 11, 1024, 2),
]
