"""BiCodec's network, as Spark-TTS writes it (sparktts/models/bicodec.py and sparktts/modules/: `blocks/vocos.py`,
`blocks/samper.py`, `blocks/layers.py`, `encoder_decoder/*.py`, `vq/factorized_vector_quantize.py`; the speaker
branch in speaker.py), plus its semantic front end: wav2vec2-large-xlsr-53 through transformers' `Wav2Vec2Model`, and
the reference segment's mel spectrogram (torchaudio's `MelSpectrogram` written in torch: mel.py). Module names follow
upstream's, so SparkAudio/Spark-TTS-0.5B's BiCodec/model.safetensors loads strictly (less the parts `codec.UNUSED`
names); weight norm keeps the file's `weight_g`/`weight_v` (upstream removes it after loading, which folds the same
product into the weight).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..nn.dac import ResidualUnit, Snake1d, WNConv1d, WNConvTranspose1d
from .config import BiCodecConfig, EncoderArgs, FeatDecoderArgs, QuantizerArgs, WaveGeneratorArgs
from .mel import MelSpectrogram
from .speaker import SpeakerEncoder


class AdaLayerNorm(nn.Module):
    """Layer norm without affine weights, scaled and shifted by linear maps of a condition vector.

    Args:
        condition_dim (int): the condition's width.
        embedding_dim (int): the normalised width.
    """

    def __init__(self, condition_dim: int, embedding_dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps, self.dim = eps, embedding_dim
        self.scale = nn.Linear(condition_dim, embedding_dim)
        self.shift = nn.Linear(condition_dim, embedding_dim)

    def forward(self, x: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        scale, shift = self.scale(condition), self.shift(condition)
        x = F.layer_norm(x, (self.dim,), eps=self.eps)
        return x * scale.unsqueeze(1) + shift.unsqueeze(1)


class ConvNeXtBlock(nn.Module):
    """Depthwise conv (7 taps), (adaptive) layer norm, MLP, layer scale, residual.

    Args:
        dim (int): width.
        intermediate_dim (int): MLP width.
        condition_dim (int | None): adaptive layer norm's condition width (None: plain layer norm).
    """

    def __init__(self, dim: int, intermediate_dim: int, condition_dim: int | None):
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.adanorm = condition_dim is not None
        self.norm = AdaLayerNorm(condition_dim, dim) if self.adanorm else nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, intermediate_dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(intermediate_dim, dim)
        # upstream's layer scale, 1 / num_layers at initialisation (never absent: the backbone always passes it)
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        residual = x
        x = self.dwconv(x).transpose(1, 2)
        x = self.norm(x, condition) if self.adanorm else self.norm(x)
        x = self.gamma * self.pwconv2(self.act(self.pwconv1(x)))
        return residual + x.transpose(1, 2)


class VocosBackbone(nn.Module):
    """Embedding conv, (adaptive) layer norm, ConvNeXt blocks, final layer norm: `[B, C, T]` -> `[B, T, dim]`.

    Args:
        input_channels (int): C.
        dim (int): width.
        intermediate_dim (int): the blocks' MLP width.
        num_layers (int): blocks.
        condition_dim (int | None): adaptive layer norms' condition width (None: plain).
    """

    def __init__(self, input_channels: int, dim: int, intermediate_dim: int, num_layers: int,
                 condition_dim: int | None = None):
        super().__init__()
        self.embed = nn.Conv1d(input_channels, dim, kernel_size=7, padding=3)
        self.adanorm = condition_dim is not None
        self.norm = AdaLayerNorm(condition_dim, dim) if self.adanorm else nn.LayerNorm(dim, eps=1e-6)
        self.convnext = nn.ModuleList(ConvNeXtBlock(dim, intermediate_dim, condition_dim) for _ in range(num_layers))
        self.final_layer_norm = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        x = self.embed(x).transpose(1, 2)
        x = (self.norm(x, condition) if self.adanorm else self.norm(x)).transpose(1, 2)
        for block in self.convnext:
            x = block(x, condition)
        return self.final_layer_norm(x.transpose(1, 2))


class SamplingBlock(nn.Module):
    """Upstream's `SamplingBlock` at ratio 1 (the released config's `sample_ratios: [1, 1]`, the only one the config
    check admits): no parameters, and its three branches (convolution, two skips) all pass the input through, so it
    returns three times its input, transposed `[B, T, C]` -> `[B, C, T]`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.transpose(1, 2)
        return x + x + x


def sampling_stages(dim: int, intermediate_dim: int, ratios: tuple[int, ...]) -> nn.Sequential:
    """One (sampling block, 2-layer Vocos backbone) pair per ratio."""
    return nn.Sequential(*(nn.Sequential(SamplingBlock(), VocosBackbone(dim, dim, intermediate_dim, 2))
                           for _ in ratios))


class FeatEncoder(nn.Module):
    """`feat_encoder.Encoder`: the averaged wav2vec 2.0 features `[B, C, T]` -> latents `[B, out_channels, T]`.

    Args:
        args (EncoderArgs): the config section.
    """

    def __init__(self, args: EncoderArgs):
        super().__init__()
        self.encoder = VocosBackbone(args.input_channels, args.vocos_dim, args.vocos_intermediate_dim,
                                     args.vocos_num_layers)
        self.downsample = sampling_stages(args.vocos_dim, args.vocos_intermediate_dim, args.sample_ratios)
        self.project = nn.Linear(args.vocos_dim, args.out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(self.downsample(self.encoder(x))).transpose(1, 2)


class FeatDecoder(nn.Module):
    """`feat_decoder.Decoder` (the prenet): latents `[B, C, T]` and a condition `[B, condition_dim]` ->
    `[B, out_channels, T]`.

    Args:
        args (FeatDecoderArgs): the config section.
    """

    def __init__(self, args: FeatDecoderArgs):
        super().__init__()
        self.linear_pre = nn.Linear(args.input_channels, args.vocos_dim)
        self.downsample = sampling_stages(args.vocos_dim, args.vocos_intermediate_dim, args.sample_ratios)
        self.vocos_backbone = VocosBackbone(args.vocos_dim, args.vocos_dim, args.vocos_intermediate_dim,
                                            args.vocos_num_layers, args.condition_dim)
        self.linear = nn.Linear(args.vocos_dim, args.out_channels)
        self.use_tanh_at_final = args.use_tanh_at_final

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        x = self.downsample(self.linear_pre(x.transpose(1, 2))).transpose(1, 2)
        x = self.linear(self.vocos_backbone(x, condition)).transpose(1, 2)
        return torch.tanh(x) if self.use_tanh_at_final else x


class DecoderBlock(nn.Module):
    """Snake, transposed conv (the config's kernel, padding (kernel - stride) // 2), three residual units.

    Args:
        input_dim, output_dim (int): widths.
        kernel_size, stride (int): of the transposed conv.
    """

    def __init__(self, input_dim: int, output_dim: int, kernel_size: int, stride: int):
        super().__init__()
        self.block = nn.Sequential(
            Snake1d(input_dim),
            WNConvTranspose1d(input_dim, output_dim, kernel_size=kernel_size, stride=stride,
                              padding=(kernel_size - stride) // 2),
            ResidualUnit(output_dim, 1), ResidualUnit(output_dim, 3), ResidualUnit(output_dim, 9))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class WaveGenerator(nn.Module):
    """DAC's decoder with the config's kernel sizes: `[B, C, F]` -> waveform `[B, d_out, F · prod(rates)]` (tanh).

    Args:
        args (WaveGeneratorArgs): the config section.
    """

    def __init__(self, args: WaveGeneratorArgs):
        super().__init__()
        channels = args.channels
        layers: list[nn.Module] = [WNConv1d(args.input_channel, channels, kernel_size=7, padding=3)]
        output_dim = channels
        for i, (kernel_size, stride) in enumerate(zip(args.kernel_sizes, args.rates, strict=True)):
            output_dim = channels // 2 ** (i + 1)
            layers.append(DecoderBlock(channels // 2**i, output_dim, kernel_size, stride))
        layers += [Snake1d(output_dim), WNConv1d(output_dim, args.d_out, kernel_size=7, padding=3), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class FactorizedVectorQuantize(nn.Module):
    """One codebook searched by cosine in a projected space (weight-normed 1×1 convs in and out).

    Args:
        args (QuantizerArgs): input width, codebook size and width.
    """

    def __init__(self, args: QuantizerArgs):
        super().__init__()
        factorised = args.input_dim != args.codebook_dim
        self.in_project = WNConv1d(args.input_dim, args.codebook_dim, kernel_size=1) if factorised else nn.Identity()
        self.out_project = WNConv1d(args.codebook_dim, args.input_dim, kernel_size=1) if factorised else nn.Identity()
        self.codebook = nn.Embedding(args.codebook_size, args.codebook_dim)

    def decode_code(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes `[B, T]` -> entries `[B, codebook_dim, T]`."""
        return F.embedding(codes, self.codebook.weight).transpose(1, 2)

    def decode_latents(self, latents: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Projected latents `[B, D, T]` -> (their nearest entries `[B, D, T]`, codes `[B, T]`), by upstream's
        distance expression between the L2-normalised latents and codebook."""
        encodings = F.normalize(latents.transpose(1, 2).reshape(-1, latents.shape[1]))
        codebook = F.normalize(self.codebook.weight)
        dist = (encodings.pow(2).sum(1, keepdim=True) - 2 * encodings @ codebook.t()
                + codebook.pow(2).sum(1, keepdim=True).t())
        indices = (-dist).max(1)[1].reshape(latents.shape[0], -1)
        return self.decode_code(indices), indices

    def tokenize(self, z: torch.Tensor) -> torch.Tensor:
        """Latents `[B, input_dim, T]` -> codes `[B, T]`."""
        return self.decode_latents(self.in_project(z))[1]

    def detokenize(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes `[B, T]` -> quantised latents `[B, input_dim, T]`."""
        return self.out_project(self.decode_code(codes))


class BiCodecModel(nn.Module):
    """BiCodec with its front ends: `wav2vec2` (the first `semantic_depth` layers of wav2vec2-large-xlsr-53),
    `mel_transformer` (no weights), and upstream's `BiCodec` modules but the postnet (a training-time feature
    predictor `detokenize` never runs).

    Args:
        config (BiCodecConfig): the architecture.
    """

    def __init__(self, config: BiCodecConfig):
        super().__init__()
        from transformers import Wav2Vec2Config, Wav2Vec2Model

        self.config = config
        tokenizer = config.audio_tokenizer
        self.encoder = FeatEncoder(tokenizer.encoder)
        self.quantizer = FactorizedVectorQuantize(tokenizer.quantizer)
        self.speaker_encoder = SpeakerEncoder(tokenizer.speaker_encoder)
        self.prenet = FeatDecoder(tokenizer.prenet)
        self.decoder = WaveGenerator(tokenizer.decoder)
        self.mel_transformer = MelSpectrogram(tokenizer.mel_params)
        semantic = Wav2Vec2Config(**{**config.wav2vec2, "num_hidden_layers": config.semantic_depth})
        semantic._attn_implementation = "eager"  # the same kernels for every shape and device
        self.wav2vec2 = Wav2Vec2Model(semantic)

    def semantic_features(self, input_values: torch.Tensor) -> torch.Tensor:
        """Normalised waveform `[B, T]` -> the mean of the hidden states `semantic_layers` `[B, frames, hidden]`.

        hidden_states[i] is the input of layer i (for i below the layer count: the stable-layer-norm encoder norms
        only its last output), so the layers run here are exactly those below the deepest state read; the sum is
        taken in upstream's order, then divided by their count.
        """
        model = self.wav2vec2
        features = model.feature_extractor(input_values).transpose(1, 2)
        hidden, _ = model.feature_projection(features)
        hidden = hidden + model.encoder.pos_conv_embed(hidden)
        states = {0: hidden}
        for i, layer in enumerate(model.encoder.layers):
            hidden = layer(hidden, attention_mask=None)
            hidden = hidden[0] if isinstance(hidden, tuple) else hidden
            states[i + 1] = hidden
        total = states[self.config.semantic_layers[0]]
        for index in self.config.semantic_layers[1:]:
            total = total + states[index]
        return total / len(self.config.semantic_layers)

    def tokenize(self, features: torch.Tensor, reference: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(averaged features `[B, frames, hidden]`, reference segment `[B, S]`) -> (semantic tokens `[B, frames]`,
        global tokens `[B, num_quantizers, token_num]`), as upstream's `BiCodec.tokenize`."""
        mel = self.mel_transformer(reference)
        semantic = self.quantizer.tokenize(self.encoder(features.transpose(1, 2)))
        return semantic, self.speaker_encoder.tokenize(mel.transpose(1, 2))

    def detokenize(self, semantic: torch.Tensor, global_tokens: torch.Tensor) -> torch.Tensor:
        """(semantic tokens `[B, frames]`, global tokens `[B, num_quantizers, token_num]`) -> waveform
        `[B, 1, frames · hop]`, as upstream's `BiCodec.detokenize`."""
        z_q = self.quantizer.detokenize(semantic)
        d_vector = self.speaker_encoder.detokenize(global_tokens)
        x = self.prenet(z_q, d_vector)
        return self.decoder(x + d_vector.unsqueeze(-1))
