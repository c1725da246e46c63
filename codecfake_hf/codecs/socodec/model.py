"""SoCodec's network (hhguo/SoCodec, commit 3d35a24): the HuBERT front end, the staged VQ-VAE (`analyzer`) and the
BigVGAN mel vocoder (`vocoder`).

Module names, nesting and term order follow upstream's `socodec/networks/vqvae/staged_vqvae.py`,
`vqvae/vector_quantization.py`, `common/ecapa_tdnn.py`, `vocoder/bigvgan/` and `utils/audio.py`, so the two release
files (`socodec_16384x4_120ms_16khz_chinese.safetensors` into `analyzer`, `mel_vocoder_80dim_10ms_16khz.safetensors`
into `vocoder`) load strictly. Upstream's HuBERT (`utils/hubert.py`) is fairseq's, loaded from
TencentGameMate/chinese-hubert-large's fairseq checkpoint and cast to float16; here it is transformers' `HubertModel`
with the same repository's transformers-format weights, run in float16 as upstream runs it (on weights converted by
transformers' own script, transformers' HuBERT gives fairseq's float16 features bit for bit on the fixture).

The vocoder's anti-aliased activations (`Activation1d`: SnakeBeta between Kaiser-sinc filters, BigVGAN's
`alias_free_torch`) are the shared `codecs/nn/alias_free.py`, as BigCodec's and FACodec's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from ..nn.alias_free import Activation1d
from ..nn.seanet import weight_norm

# utils/hubert.py: 3200 zeros appended "to cover receptive field"; 320 samples per HuBERT frame (7 convs).
HUBERT_PADDING = 3200
HUBERT_HOP = 320
# utils/hubert.py: `model = model.half()`; the release's analyzer file holds the HuBERT in float16 too (828 MB: the
# 194 MB of the VQ-VAE in float32 and chinese-hubert-large's 316 M parameters at two bytes).
HUBERT_DTYPE = torch.float16


# --- the mel front end (utils/audio.py, TorchMelSpectrogram's BigVGAN style) ---------------------------------------

def mel_basis(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> torch.Tensor:
    """`[n_mels, n_fft // 2 + 1]`: librosa's `filters.mel` (Slaney scale and norm, its defaults), which upstream
    calls, as transformers' `mel_filter_bank` computes it (float64, then float32)."""
    from transformers.audio_utils import mel_filter_bank

    return torch.from_numpy(mel_filter_bank(num_frequency_bins=n_fft // 2 + 1, num_mel_filters=n_mels,
                                            min_frequency=fmin, max_frequency=fmax, sampling_rate=sample_rate,
                                            norm="slaney", mel_scale="slaney")).float().T.contiguous()


class MelSpectrogram(nn.Module):
    """Waveform `[B, T]` -> log mel `[B, ceil(T / hop), n_mels]` as upstream's `forward_bigvgan`: reflection padding
    of `(n_fft - hop) / 2` each side, an uncentred STFT with a Hann window of `win_length`, magnitudes
    `sqrt(re² + im² + 1e-9)`, the mel matrix, `log(clamp(., 1e-5))`. Its buffers are not saved (nor are upstream's,
    which are plain dicts)."""

    def __init__(self, n_fft: int, hop_length: int, win_length: int, n_mels: int, sample_rate: int,
                 fmin: float = 0.0, fmax: float = 8000.0):
        super().__init__()
        self.n_fft, self.hop_length, self.win_length = n_fft, hop_length, win_length
        self.register_buffer("window", torch.hann_window(win_length), persistent=False)
        self.register_buffer("basis", mel_basis(sample_rate, n_fft, n_mels, fmin, fmax), persistent=False)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        pad = int((self.n_fft - self.hop_length) / 2)
        y = F.pad(wave.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)
        spec = torch.stft(y, self.n_fft, hop_length=self.hop_length, win_length=self.win_length, window=self.window,
                          center=False, pad_mode="reflect", normalized=False, onesided=True, return_complex=True)
        spec = torch.view_as_real(spec)
        spec = torch.sqrt(spec.pow(2).sum(-1) + 1e-9)
        spec = torch.log(torch.clamp(torch.matmul(self.basis, spec), min=1e-5))
        return spec[..., : math.ceil(y.shape[-1] / self.hop_length)].transpose(1, 2)


# --- the HuBERT front end (utils/hubert.py) -------------------------------------------------------------------------

def hubert_model(config: dict):
    """transformers' `HubertModel` from chinese-hubert-large's `config.json` values, with scaled-dot-product attention
    (transformers' default), which in float16 gives what fairseq's `F.multi_head_attention_forward` gives (the
    fixture's features bit for bit; the eager softmax in float16 is 7e-4 off)."""
    from transformers import HubertConfig, HubertModel

    hubert_config = HubertConfig(**config)
    hubert_config._attn_implementation = "sdpa"
    return HubertModel(hubert_config)


def hubert_features(model, wave: torch.Tensor, normalize: bool, dtype: torch.dtype) -> torch.Tensor:
    """Upstream's `HuBERT._extract` on transformers' `HubertModel`, one utterance `[1, N]`: `HUBERT_PADDING` zeros
    appended, the whole padded waveform layer-normed (the fairseq task's `normalize`), the model in `dtype` (upstream:
    float16, `model.half()` and `source.half()`) with every frame from `k = ceil(N / 320)` on masked out of attention,
    then the first `k` frames in float32.

    fairseq takes upstream's frame-level padding mask (`k` valid frames, 9 masked ones appended); here the same frames
    are valid through transformers' sample-level `attention_mask` of `320 (k - 1) + R` samples (R: the 7 convs'
    receptive field, 400), whose conv length is `k`.
    """
    config = model.config
    frames = math.ceil(wave.shape[-1] / HUBERT_HOP)
    receptive = sum((k - 1) * math.prod(config.conv_stride[:i]) for i, k in enumerate(config.conv_kernel)) + 1
    feats = F.pad(wave, (0, HUBERT_PADDING))
    if normalize:
        feats = F.layer_norm(feats, feats.shape[-1:])
    mask = torch.zeros(feats.shape, dtype=torch.long, device=feats.device)
    mask[:, : HUBERT_HOP * (frames - 1) + receptive] = 1
    hidden = model(feats.to(dtype), attention_mask=mask).last_hidden_state
    return hidden[:, :frames].float()


# --- the staged VQ-VAE (networks/vqvae/staged_vqvae.py) -------------------------------------------------------------

class GroupNorm(nn.Module):
    """Upstream's `GroupNorm`, whose group norm is commented out: `nn.Identity` (no weights)."""

    def __init__(self, channels: int):
        super().__init__()
        self.gn = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gn(x)


class Swish(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(x)


class CausalConv1d(nn.Conv1d):
    """A convolution left-padded by `dilation (kernel - 1)` zeros."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.causal_padding = self.dilation[0] * (self.kernel_size[0] - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(F.pad(x, [self.causal_padding, 0]), self.weight, self.bias)


class CausalConvTranspose1d(nn.ConvTranspose1d):
    """A transposed convolution whose last `dilation (kernel - 1) + 1 - stride` samples are cut."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.causal_padding = (self.dilation[0] * (self.kernel_size[0] - 1) + self.output_padding[0] + 1
                               - self.stride[0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.conv_transpose1d(x, self.weight, self.bias, self.stride, self.padding, self.output_padding,
                                 self.groups, self.dilation)
        return out[..., : -self.causal_padding]


class ResidualUnit(nn.Module):
    """`x + conv(swish(conv(x)))`, grouped causal k3 convolutions (upstream hard-codes 32 groups)."""

    def __init__(self, channels: int, kernel_size: int = 3, groups: int = 32):
        super().__init__()
        self.layers = nn.Sequential(
            CausalConv1d(channels, channels, kernel_size=kernel_size, groups=groups), GroupNorm(channels), Swish(),
            CausalConv1d(channels, channels, kernel_size=kernel_size, groups=groups))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.layers(x)


class EncoderBlock(nn.Module):
    def __init__(self, channels: int, stride: int):
        super().__init__()
        self.layers = nn.Sequential(
            ResidualUnit(channels), GroupNorm(channels), Swish(), ResidualUnit(channels), GroupNorm(channels), Swish(),
            CausalConv1d(channels, channels, kernel_size=2 * stride, stride=stride))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class DecoderBlock(nn.Module):
    def __init__(self, channels: int, stride: int):
        super().__init__()
        self.layers = nn.Sequential(
            CausalConvTranspose1d(channels, channels, kernel_size=2 * stride, stride=stride), GroupNorm(channels),
            Swish(), ResidualUnit(channels), GroupNorm(channels), Swish(), ResidualUnit(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class Encoder(nn.Module):
    """`[B, T, C]` -> `[B, T / prod(strides), D]`."""

    def __init__(self, in_channels: int, channels: int, strides: Sequence[int]):
        super().__init__()
        layers: list[nn.Module] = [CausalConv1d(in_channels, channels, kernel_size=3), Swish()]
        for stride in strides:
            layers += [EncoderBlock(channels, stride), GroupNorm(channels), Swish()]
        layers.append(CausalConv1d(channels, channels, kernel_size=3))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x.transpose(1, 2)).transpose(1, 2)


class Decoder(nn.Module):
    """`[B, T, D]` + speaker embedding `[B, D]` -> (`[B, T * prod(strides), C]`, the last hidden `[B, T', D]`)."""

    def __init__(self, out_channels: int, channels: int, strides: Sequence[int]):
        super().__init__()
        layers: list[nn.Module] = [CausalConv1d(channels, channels, kernel_size=3), Swish()]
        for stride in strides:
            layers += [DecoderBlock(channels, stride), GroupNorm(channels), Swish()]
        layers.append(CausalConv1d(channels, out_channels, kernel_size=3))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = x.transpose(1, 2)
        x = x + g.unsqueeze(-1).repeat(1, 1, x.shape[-1])
        h = self.layers[:-1](x)
        return self.layers[-1](h).transpose(1, 2), h.transpose(1, 2)


class EuclideanCodebook(nn.Module):
    """One codebook (`embed`) and its training statistics (`inited`, `cluster_size`, `embed_avg`: in the checkpoint,
    not read at inference). The nearest codeword maximises `-(|x|² - 2 x·e + |e|²)`, upstream's expression."""

    def __init__(self, dim: int, size: int):
        super().__init__()
        self.register_buffer("inited", torch.ones(1))
        self.register_buffer("cluster_size", torch.zeros(size))
        self.register_buffer("embed", torch.randn(size, dim))
        self.register_buffer("embed_avg", torch.zeros(size, dim))

    def quantize(self, x: torch.Tensor) -> torch.Tensor:
        embed = self.embed.t()
        dist = -(x.pow(2).sum(1, keepdim=True) - 2 * x @ embed + embed.pow(2).sum(0, keepdim=True))
        return dist.max(dim=-1).indices

    def dequantize(self, index: torch.Tensor) -> torch.Tensor:
        return F.embedding(index, self.embed)


class MultiHeadEuclideanCodebook(nn.Module):
    """Product VQ: the projected latent split into one chunk per codebook; each group's codebooks make one code,
    `sum_j index_j * prod(sizes[:j])` (16,384 = 128 × 128 per group officially)."""

    def __init__(self, dims: Sequence[int], sizes: Sequence[int], n_groups: int):
        super().__init__()
        self.dims, self.sizes, self.n_groups = list(dims), list(sizes), n_groups
        self.per_group = len(sizes) // n_groups
        self.codebooks = nn.ModuleList(EuclideanCodebook(d, s) for d, s in zip(dims, sizes, strict=True))

    def scales(self, group: int) -> list[int]:
        sizes = self.sizes[group * self.per_group: (group + 1) * self.per_group]
        return [math.prod(sizes[:j]) for j in range(len(sizes))]

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """`[B, T, sum(dims)]` -> codes `[B, T, n_groups]` and each codebook's indices `[B, T]`."""
        B, T = x.shape[:2]
        indices = [book.quantize(chunk.reshape(B * T, -1)).view(B, T)
                   for chunk, book in zip(torch.split(x, self.dims, dim=-1), self.codebooks, strict=True)]
        codes = []
        for group in range(self.n_groups):
            heads = indices[group * self.per_group: (group + 1) * self.per_group]
            scale = torch.tensor(self.scales(group), device=x.device)
            codes.append((torch.stack(heads, dim=-1) * scale).sum(dim=-1))
        return torch.stack(codes, dim=-1), indices

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes `[B, T, n_groups]` -> the concatenated codewords `[B, T, sum(dims)]` (upstream's `decode`)."""
        vectors = []
        for group in range(self.n_groups):
            code = codes[..., group]
            books = self.codebooks[group * self.per_group: (group + 1) * self.per_group]
            parts = []
            for book, scale in zip(reversed(books), reversed(self.scales(group)), strict=True):
                index, code = code // scale, code % scale
                parts.append(book.dequantize(index))
            vectors += parts[::-1]
        return torch.cat(vectors, dim=-1)


class VectorQuantization(nn.Module):
    """`project_in`, the product codebooks, `project_out` (upstream's `VectorQuantization` with
    `requires_projection`)."""

    def __init__(self, dim: int, dims: Sequence[int], sizes: Sequence[int], n_groups: int):
        super().__init__()
        self.project_in = nn.Linear(dim, sum(dims))
        self.project_out = nn.Linear(sum(dims), dim)
        self._codebook = MultiHeadEuclideanCodebook(dims, sizes, n_groups)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self._codebook.encode(self.project_in(x))[0]

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        return self.project_out(self._codebook.decode(codes))


class TreeVectorQuantization(nn.Module):
    """Upstream's `TreeVectorQuantization` with its one stage at the encoder's rate (`downsample_rate` 1: the time
    regulator is the identity and holds no weights)."""

    def __init__(self, dim: int, dims: Sequence[int], sizes: Sequence[int], n_groups: int):
        super().__init__()
        self.quantizers = nn.ModuleList([VectorQuantization(dim, dims, sizes, n_groups)])


# --- the ECAPA-TDNN speaker encoder (networks/common/ecapa_tdnn.py) ---------------------------------------------------

class SameConv1d(nn.Module):
    """speechbrain's `Conv1d` as upstream carries it: reflection padding keeping the length (stride 1), then
    `conv` (an `nn.Conv1d`)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1):
        super().__init__()
        self.pad = dilation * (kernel_size - 1) // 2
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, dilation=dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, [self.pad, self.pad], mode="reflect") if self.pad else x)


class TDNNBlock(nn.Module):
    """conv, ReLU (its batch norm disabled: `batch_norm=False`, an identity without weights)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int):
        super().__init__()
        self.conv = SameConv1d(in_channels, out_channels, kernel_size, dilation)
        self.activation = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.conv(x))


class Res2NetBlock(nn.Module):
    def __init__(self, channels: int, scale: int, kernel_size: int, dilation: int):
        super().__init__()
        self.scale = scale
        self.blocks = nn.ModuleList(TDNNBlock(channels // scale, channels // scale, kernel_size, dilation)
                                    for _ in range(scale - 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = []
        for i, x_i in enumerate(torch.chunk(x, self.scale, dim=1)):
            if i == 0:
                y_i = x_i
            elif i == 1:
                y_i = self.blocks[i - 1](x_i)
            else:
                y_i = self.blocks[i - 1](x_i + y_i)
            y.append(y_i)
        return torch.cat(y, dim=1)


class SEBlock(nn.Module):
    """Squeeze-excitation over the whole sequence: upstream passes absolute frame counts where speechbrain expects
    relative lengths, so its mask (`arange(L) < length * L`) keeps every frame."""

    def __init__(self, channels: int, se_channels: int):
        super().__init__()
        self.conv1 = SameConv1d(channels, se_channels, 1)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = SameConv1d(se_channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.sum(dim=2, keepdim=True) / x.shape[-1]
        return torch.sigmoid(self.conv2(self.relu(self.conv1(s)))) * x


class SERes2NetBlock(nn.Module):
    def __init__(self, channels: int, res2net_scale: int, se_channels: int, kernel_size: int, dilation: int):
        super().__init__()
        self.tdnn1 = TDNNBlock(channels, channels, 1, 1)
        self.res2net_block = Res2NetBlock(channels, res2net_scale, kernel_size, dilation)
        self.tdnn2 = TDNNBlock(channels, channels, 1, 1)
        self.se_block = SEBlock(channels, se_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.se_block(self.tdnn2(self.res2net_block(self.tdnn1(x)))) + x


class AttentiveStatisticsPooling(nn.Module):
    """Global-context attentive statistics over every frame (the mask upstream builds keeps them all, as in
    `SEBlock`): `[B, C, L]` -> `[B, 2C, 1]`."""

    def __init__(self, channels: int, attention_channels: int):
        super().__init__()
        self.tdnn = TDNNBlock(channels * 3, attention_channels, 1, 1)
        self.tanh = nn.Tanh()
        self.conv = SameConv1d(attention_channels, channels, 1)

    @staticmethod
    def statistics(x: torch.Tensor, m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean = (m * x).sum(2)
        std = torch.sqrt((m * (x - mean.unsqueeze(2)).pow(2)).sum(2).clamp(1e-12))
        return mean, std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        L = x.shape[-1]
        weight = torch.ones(x.shape[0], 1, L, device=x.device, dtype=x.dtype) / L
        mean, std = self.statistics(x, weight)
        attn = torch.cat([x, mean.unsqueeze(2).repeat(1, 1, L), std.unsqueeze(2).repeat(1, 1, L)], dim=1)
        attn = F.softmax(self.conv(self.tanh(self.tdnn(attn))), dim=2)
        mean, std = self.statistics(x, attn)
        return torch.cat((mean, std), dim=1).unsqueeze(2)


class SpeakerEncoder(nn.Module):
    """ECAPA-TDNN as `StagedVQVAE` builds it (`batch_norm=False`, `global_context=True`): mel `[B, T, n_mels]` ->
    `[B, lin_neurons]`."""

    def __init__(self, input_size: int, lin_neurons: int, channels: Sequence[int], kernel_sizes: Sequence[int],
                 dilations: Sequence[int], attention_channels: int, res2net_scale: int, se_channels: int):
        super().__init__()
        self.blocks = nn.ModuleList([TDNNBlock(input_size, channels[0], kernel_sizes[0], dilations[0])])
        for i in range(1, len(channels) - 1):
            self.blocks.append(SERes2NetBlock(channels[i], res2net_scale, se_channels, kernel_sizes[i], dilations[i]))
        self.mfa = TDNNBlock(channels[-1], channels[-1], kernel_sizes[-1], dilations[-1])
        self.asp = AttentiveStatisticsPooling(channels[-1], attention_channels)
        self.fc = SameConv1d(channels[-1] * 2, lin_neurons, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.transpose(1, 2)
        xl = []
        for layer in self.blocks:
            x = layer(x)
            xl.append(x)
        x = self.asp(self.mfa(torch.cat(xl[1:], dim=1)))
        return self.fc(x).squeeze(-1)


class StagedVQVAE(nn.Module):
    """The analyzer: `mel_spectrogram` (no weights), `speaker_encoder`, `encoder`, `decoder_1` (to HuBERT features),
    `decoder_2` (to mel), `quantizer`; upstream's `ssl_extractor` is the codec's `hubert`, outside this module."""

    def __init__(self, config):
        super().__init__()
        mel = config.mel_config
        self.mel_spectrogram = MelSpectrogram(mel.filter_length, mel.hop_length, mel.win_length, mel.n_mel_channels,
                                              mel.sampling_rate, mel.mel_fmin, mel.mel_fmax)
        speaker = config.speaker_encoder
        self.speaker_encoder = SpeakerEncoder(config.out_dim, config.n_model_size, speaker.channels,
                                              speaker.kernel_sizes, speaker.dilations, speaker.attention_channels,
                                              speaker.res2net_scale, speaker.se_channels)
        self.encoder = Encoder(config.in_dim, config.n_model_size, config.downsample_scales)
        self.decoder_1 = Decoder(config.in_dim, config.n_model_size, config.upsample_scales[0])
        self.decoder_2 = Decoder(config.out_dim, config.n_model_size, config.upsample_scales[1])
        vq = config.vq_config
        groups = config.tree_config[0]["n_groups"]
        self.quantizer = TreeVectorQuantization(config.n_model_size, list(vq.codebook_dim) * groups,
                                                list(vq.codebook_size) * groups, groups)


# --- the BigVGAN vocoder (networks/vocoder/bigvgan/) ------------------------------------------------------------------

class AMPBlock2(nn.Module):
    """Two `x + conv(act(x))` steps at `dilation[0]`, `dilation[1]` (`resblock: 0`; the rest of the dilation list is
    unused, as upstream leaves it)."""

    def __init__(self, channels: int, kernel_size: int, dilation: Sequence[int]):
        super().__init__()
        self.convs = nn.ModuleList(
            weight_norm(nn.Conv1d(channels, channels, kernel_size, 1, dilation=d,
                                  padding=int((kernel_size * d - d) / 2))) for d in dilation[:2])
        self.activations = nn.ModuleList(Activation1d(channels) for _ in range(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv, act in zip(self.convs, self.activations, strict=True):
            x = conv(act(x)) + x
        return x


class BigVGANGenerator(nn.Module):
    """Mel `[B, T, n_mels]` -> waveform `[B, 1, T * prod(upsample_rates)]` (upstream's `BigVGANGenerator`: no
    activation between the stages, the AMP blocks averaged, SnakeBeta then `conv_post`, tanh)."""

    def __init__(self, cfg):
        super().__init__()
        self.num_kernels = len(cfg.resblock_kernel_sizes)
        self.conv_pre = weight_norm(nn.Conv1d(cfg.num_mels, cfg.upsample_initial_channel, 7, 1, padding=3))
        self.ups = nn.ModuleList()
        for i, (u, k) in enumerate(zip(cfg.upsample_rates, cfg.upsample_kernel_sizes, strict=True)):
            self.ups.append(nn.ModuleList([weight_norm(nn.ConvTranspose1d(
                cfg.upsample_initial_channel // 2 ** i, cfg.upsample_initial_channel // 2 ** (i + 1), k, u,
                padding=(k - u) // 2))]))
        self.resblocks = nn.ModuleList()
        for i in range(len(self.ups)):
            ch = cfg.upsample_initial_channel // 2 ** (i + 1)
            for k, d in zip(cfg.resblock_kernel_sizes, cfg.resblock_dilation_sizes, strict=True):
                self.resblocks.append(AMPBlock2(ch, k, d))
        self.activation_post = Activation1d(ch)
        self.use_tanh_at_final = cfg.use_tanh_at_final
        self.conv_post = weight_norm(nn.Conv1d(ch, 1, 7, 1, padding=3, bias=cfg.use_bias_at_final))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv_pre(x.transpose(1, 2))
        for i, up in enumerate(self.ups):
            for layer in up:
                x = layer(x)
            xs = None
            for j in range(self.num_kernels):
                y = self.resblocks[i * self.num_kernels + j](x)
                xs = y if xs is None else xs + y
            x = xs / self.num_kernels
        x = self.conv_post(self.activation_post(x))
        return torch.tanh(x) if self.use_tanh_at_final else x


# --- the whole codec -------------------------------------------------------------------------------------------------

class SoCodecModel(nn.Module):
    """`hubert` (the front end), `analyzer` (the staged VQ-VAE) and `vocoder`; `forward` is upstream's
    `analysis_synthesis` on one padded utterance `[1, N]`: `ceil(N / n_samples_per_token)` frames of codes, as many
    of waveform."""

    def __init__(self, config):
        super().__init__()
        self.config = config
        self.hubert = hubert_model(config.hubert).to(HUBERT_DTYPE)
        self.analyzer = StagedVQVAE(config.analyzer)
        self.vocoder = BigVGANGenerator(config.vocoder.gen_cfg)

    def encode(self, wave: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`[1, N]` -> codes `[1, ceil(N / n_samples_per_token), n_groups]` and the speaker embedding
        `[1, n_model_size]`."""
        analyzer = self.analyzer
        mel = analyzer.mel_spectrogram(wave)
        ssl = hubert_features(self.hubert, wave, self.config.hubert_normalize, next(self.hubert.parameters()).dtype)
        latent = analyzer.encoder(ssl)
        codes = analyzer.quantizer.quantizers[0].encode(latent)
        return codes, analyzer.speaker_encoder(mel)

    def decode(self, codes: torch.Tensor, speaker: torch.Tensor) -> torch.Tensor:
        """Codes and speaker embedding -> waveform `[1, frames * n_samples_per_token]`."""
        analyzer = self.analyzer
        quant = analyzer.quantizer.quantizers[0].decode(codes)
        _, h = analyzer.decoder_1(quant, speaker)
        mel, _ = analyzer.decoder_2(h, speaker)
        return self.vocoder(mel).squeeze(1)

    def forward(self, wave: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        codes, speaker = self.encode(wave)
        return self.decode(codes, speaker), codes
