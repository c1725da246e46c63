"""SemantiCodec's three configs in CodecFake+ (Liu et al. 2024, arXiv 2405.00233): token rates 100, 50 and 25 with
the 32768-entry semantic codebook."""

from ..spec import CodecSpec

# A frame holds two codes: the semantic one (k-means over AudioMAE features, `semantic_vocab_size` = 32768 centroids;
# the Hub's combine_128_audioset_dominate/codebook_16384_0.npy is 403 MB = 32768 x 3072 float32) and the acoustic one
# (the residual LSTM's VQ, 8192 entries): 15 + 13 = 28 bits a frame, the README's 1.40/0.70/0.35 kbps. The registry
# counts bits as n_codebooks x log2(codebook_size), so `codebook_size` is their geometric mean, 16384 (2 x 14 bits).
_BITS_NOTE = ("two codes a frame: semantic (32768 k-means centroids of AudioMAE features) and acoustic (8192-entry VQ "
              "of an LSTM's residual), 15 + 13 bits; `codebook_size` 16384 is their geometric mean")
_DECODER_NOTE = ("decoded in 10.24 s windows (6.25 % overlap-add) by a latent diffusion model (DDIM, 50 steps, "
                 "classifier-free guidance 2.0, eta 1) into a 64-band mel spectrogram, then HiFi-GAN; the diffusion "
                 "noise is drawn per utterance from the build's seed (random weights) or registry.weight_seed(name), "
                 "so rows are reproducible (upstream draws it unseeded)")
_LENGTH_RULE = ("input padded to whole 0.16 s patches (always at least one more sample's worth, up to 0.16 s), encoded "
                "in 10.24 s windows; output = int(tokens / 8 x 0.16 x 16000 x 100 / token_rate) samples, tokens = "
                "ceil(8 x padded seconds / 0.16 x token_rate / 100): longer than the input by up to 0.16 s")


def _spec(token_rate: int, kbps: str) -> CodecSpec:
    hop = 32000 // token_rate  # two codes a frame: token_rate / 2 frames a second
    return CodecSpec(
        name=f"semanticodec_{kbps}kbps", family="semanticodec", sample_rate=16000, hop_length=hop,
        n_codebooks=2, codebook_size=16384, bitrate_kbps=float(kbps), hub_repo="haoheliu/SemantiCodec",
        hub_files=(f"semanticodec_tokenrate_{token_rate}/encoder.ckpt",
                   f"semanticodec_tokenrate_{token_rate}/decoder.ckpt",
                   f"codebook_idx/combine_{512 * token_rate // 100}_audioset_dominate/codebook_16384_0.npy"),
        length_rule=_LENGTH_RULE,
        # CodecFake+'s dicts (SAST_Net/utils.py): AS 2 (semantic: the AudioMAE k-means codes), DS 2 (frequency: the
        # diffusion model generates a mel spectrogram, which HiFi-GAN turns into a waveform), QS 1 (MVQ: two codes).
        quantizer="multi-codebook", auxiliary="semantic-distillation", decoder="frequency",
        aliases=(f"SemantiCodec_{kbps}kbps_16k", f"semanticodec_tokenrate_{token_rate}"),
        notes=f"{token_rate} tokens/s ({token_rate / 2:g} frames of 2 codes); {_BITS_NOTE}; {_DECODER_NOTE}",
        # haoheliu/SemantiCodec: "License: mit"
        license="mit", public_sets=("CodecFake+",),
    )


SPECS = [_spec(100, "1.40"), _spec(50, "0.70"), _spec(25, "0.35")]
