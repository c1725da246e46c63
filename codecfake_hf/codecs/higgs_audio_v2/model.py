"""The Higgs Audio v2 tokenizer's network, state-dict compatible with transformers' `HiggsAudioV2TokenizerModel`.

Why it is written here: transformers' module imports torchaudio at its top (for one call, the 24 -> 16 kHz resampling
in front of the semantic model), and torchaudio cannot be installed beside this project's CPU torch, so
`HiggsAudioV2TokenizerModel` is a placeholder that raises here. Everything else is plain torch: this module mirrors
`transformers/models/higgs_audio_v2_tokenizer/modeling_higgs_audio_v2_tokenizer.py` (transformers 5.23) module by
module and name by name (so the transformers checkpoint loads strictly), reuses transformers' own `DacEncoder` /
`DacDecoder` and `HubertModel` for the acoustic and semantic parts, keeps its term order in the codebook distances,
and resamples with `codecfake_hf.resample.sinc_resample`, torchaudio's `functional.resample` (Hann window, six zero
crossings, rolloff 0.99) written in torch and checked against torchaudio's outputs (tests/test_resample.py, and the
family's fixture records torchaudio's 16 kHz signal: tests/codecs/test_higgs_audio_v2.py).

Upstream: boson-ai/higgs-audio's `boson_multimodal/audio_processing/higgs_audio_tokenizer.py` (an X-Codec variant:
DAC acoustic encoder/decoder, a HuBERT-base semantic teacher averaged over its layers, one RVQ over both); transformers'
`convert_higgs_audio_v2_tokenizer_to_hf.py` converts its `model.pth` to the layout mirrored here.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from transformers import HiggsAudioV2TokenizerConfig, PreTrainedModel
from transformers.audio_utils import conv1d_output_length
from transformers.models.dac.modeling_dac import DacDecoder, DacEncoder

from ...resample import sinc_resample


class HiggsAudioV2TokenizerEuclideanCodebook(nn.Module):
    """One codebook, nearest codeword by Euclidean distance (k-means buffers, as the checkpoint stores them)."""

    def __init__(self, config: HiggsAudioV2TokenizerConfig):
        super().__init__()
        embed = torch.zeros(config.codebook_size, config.codebook_dim)
        self.codebook_size = config.codebook_size
        self.inited = nn.Buffer(torch.Tensor([True]))
        self.cluster_size = nn.Buffer(torch.zeros(config.codebook_size))
        self.embed = nn.Buffer(embed)
        self.embed_avg = nn.Buffer(embed.clone())

    def quantize(self, hidden_states: torch.Tensor) -> torch.Tensor:
        # transformers' term order: near-tied codewords are decided by it
        embed = self.embed.t()
        scaled_states = hidden_states.pow(2).sum(1, keepdim=True)
        dist = -(scaled_states - 2 * hidden_states @ embed + embed.pow(2).sum(0, keepdim=True))
        return dist.max(dim=-1).indices

    def encode(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """`[..., D]` -> codes `[...]`."""
        shape = hidden_states.shape
        return self.quantize(hidden_states.reshape((-1, shape[-1]))).view(*shape[:-1])

    def decode(self, embed_ind: torch.Tensor) -> torch.Tensor:
        return F.embedding(embed_ind.to(self.embed.device), self.embed)


class HiggsAudioV2TokenizerVectorQuantization(nn.Module):
    def __init__(self, config: HiggsAudioV2TokenizerConfig):
        super().__init__()
        self.codebook = HiggsAudioV2TokenizerEuclideanCodebook(config)
        self.project_in = nn.Linear(config.hidden_size, config.codebook_dim)
        self.project_out = nn.Linear(config.codebook_dim, config.hidden_size)

    def encode(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.codebook.encode(self.project_in(hidden_states.permute(0, 2, 1)))

    def decode(self, embed_ind: torch.Tensor) -> torch.Tensor:
        return self.project_out(self.codebook.decode(embed_ind)).permute(0, 2, 1)


class HiggsAudioV2TokenizerResidualVectorQuantization(nn.Module):
    """Residual VQ: `num_quantizers` stages, the first `bandwidth / (log2(codebook_size) · frame_rate)` of them used."""

    def __init__(self, config: HiggsAudioV2TokenizerConfig):
        super().__init__()
        self.quantizers = nn.ModuleList(
            [HiggsAudioV2TokenizerVectorQuantization(config) for _ in range(config.num_quantizers)])
        self.frame_rate = config.frame_rate
        self.codebook_size = config.codebook_size
        self.num_quantizers = config.num_quantizers

    def get_num_quantizers_for_bandwidth(self, bandwidth: float | None = None) -> int:
        bandwidth_per_quantizer = math.log2(self.codebook_size) * self.frame_rate / 1000
        if bandwidth is not None and bandwidth > 0.0:
            return int(max(1, math.floor(bandwidth / bandwidth_per_quantizer)))
        return self.num_quantizers

    def encode(self, embeddings: torch.Tensor, bandwidth: float | None = None) -> torch.Tensor:
        """`[B, hidden, T]` -> codes `[num_quantizers, B, T]`."""
        residual = embeddings
        all_indices = []
        for quantizer in self.quantizers[: self.get_num_quantizers_for_bandwidth(bandwidth)]:
            indices = quantizer.encode(residual)
            residual = residual - quantizer.decode(indices)
            all_indices.append(indices)
        return torch.stack(all_indices)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        quantized_out = torch.full((), 0.0, device=codes.device)
        for i, indices in enumerate(codes):
            quantized_out = quantized_out + self.quantizers[i].decode(indices).to(codes.device)
        return quantized_out


class HiggsAudioV2TokenizerResidualUnit(nn.Module):
    def __init__(self, config: HiggsAudioV2TokenizerConfig, in_channels: int, out_channels: int, dilation: int):
        super().__init__()
        self.activation = nn.ELU()
        padding = ((config.unit_kernel_size - 1) // 2) * dilation
        self.conv1 = nn.Conv1d(in_channels, out_channels, config.unit_kernel_size, stride=1, padding=padding,
                               dilation=dilation, groups=1, bias=False)
        self.conv2 = nn.Conv1d(out_channels, out_channels, kernel_size=1, bias=False)

    def forward(self, hidden_state: torch.Tensor) -> torch.Tensor:
        output = self.conv2(self.activation(self.conv1(self.activation(hidden_state))))
        return hidden_state + output


class HiggsAudioV2TokenizerSemanticEncoderBlock(nn.Module):
    def __init__(self, config: HiggsAudioV2TokenizerConfig, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.res_units = nn.ModuleList([HiggsAudioV2TokenizerResidualUnit(config, in_channels, in_channels, d)
                                        for d in config.block_dilations])
        kernel = 3 if stride == 1 else 2 * stride  # stride 1: kernel 3, not 2
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size=kernel, stride=stride,
                              padding=(kernel - 1) // 2, bias=True)

    def forward(self, hidden_state: torch.Tensor) -> torch.Tensor:
        for unit in self.res_units:
            hidden_state = unit(hidden_state)
        return self.conv(hidden_state)


class SemanticEncoder(nn.Module):
    def __init__(self, config: HiggsAudioV2TokenizerConfig):
        super().__init__()
        if len(config.strides) != len(config.channel_ratios):
            raise ValueError("Number of strides must match the number of channel_ratios.")
        size = config.semantic_hidden_size
        self.conv = nn.Conv1d(size, size, config.kernel_size, 1, config.kernel_size // 2, bias=False)
        blocks, in_channels = [], size
        for ratio, stride in zip(config.channel_ratios, config.strides, strict=True):
            out_channels = int(size * ratio)
            blocks.append(HiggsAudioV2TokenizerSemanticEncoderBlock(config, in_channels, out_channels, stride))
            in_channels = out_channels
        self.conv_blocks = nn.ModuleList(blocks)

    def forward(self, hidden_state: torch.Tensor) -> torch.Tensor:
        hidden_state = self.conv(hidden_state)
        for block in self.conv_blocks:
            hidden_state = block(hidden_state)
        return hidden_state


class SemanticDecoderBlock(nn.Module):
    def __init__(self, config: HiggsAudioV2TokenizerConfig, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        if stride == 1:
            self.conv = nn.Conv1d(in_channels, out_channels, kernel_size=3, stride=1, padding=1, bias=True)
        else:
            self.conv = nn.ConvTranspose1d(in_channels, out_channels, 2 * stride, stride, (stride + 1) // 2,
                                           1 if stride % 2 == 1 else 0, bias=False)
        self.res_units = nn.ModuleList([HiggsAudioV2TokenizerResidualUnit(config, out_channels, out_channels, d)
                                        for d in config.block_dilations])

    def forward(self, hidden_state: torch.Tensor) -> torch.Tensor:
        hidden_state = self.conv(hidden_state)
        for unit in self.res_units:
            hidden_state = unit(hidden_state)
        return hidden_state


class SemanticDecoder(nn.Module):
    """The semantic branch's decoder: trained to rebuild the teacher's features, unused at inference; kept because
    the checkpoint holds it (strict loading)."""

    def __init__(self, config: HiggsAudioV2TokenizerConfig):
        super().__init__()
        size, ratios = config.semantic_hidden_size, config.channel_ratios
        self.conv1 = nn.Conv1d(size, int(size * ratios[0]), config.kernel_size, stride=1,
                               padding=config.kernel_size // 2, bias=False)
        blocks = []
        for i, stride in enumerate(config.strides):
            out_channels = int(size * ratios[i + 1]) if i < len(ratios) - 1 else size
            blocks.append(SemanticDecoderBlock(config, int(size * ratios[i]), out_channels, stride))
        self.conv_blocks = nn.ModuleList(blocks)
        self.conv2 = nn.Conv1d(size, size, config.kernel_size, stride=1, padding=config.kernel_size // 2, bias=False)

    def forward(self, hidden_state: torch.Tensor) -> torch.Tensor:
        hidden_state = self.conv1(hidden_state)
        for block in self.conv_blocks:
            hidden_state = block(hidden_state)
        return self.conv2(hidden_state)


class HiggsAudioV2Tokenizer(PreTrainedModel):
    """transformers' `HiggsAudioV2TokenizerModel` (encode, decode), its modules and checkpoint keys.

    Args:
        config: transformers' `HiggsAudioV2TokenizerConfig` (acoustic DAC and semantic HuBERT sub-configs).
    """

    config_class = HiggsAudioV2TokenizerConfig
    base_model_prefix = "higgs_audio_v2_tokenizer"
    main_input_name = "input_values"
    # what `from_pretrained` skips in the Hub file (`_keys_to_ignore_on_load_unexpected` of transformers' model)
    IGNORED_CHECKPOINT_KEYS = ("semantic_model.masked_spec_embed",)

    def __init__(self, config: HiggsAudioV2TokenizerConfig):
        super().__init__(config)
        from transformers import AutoModel

        self.pad = config.hop_length // 2
        self.acoustic_encoder = DacEncoder(config.acoustic_model_config)
        self.acoustic_decoder = DacDecoder(config.acoustic_model_config)
        self._adjust_dac_decoder(self.acoustic_decoder)
        self.encoder_semantic = SemanticEncoder(config)
        self.decoder_semantic = SemanticDecoder(config)
        self.semantic_model = AutoModel.from_config(config.semantic_model_config).eval()
        self.fc = nn.Linear(config.hidden_size, config.hidden_size)
        self.fc1 = nn.Linear(config.hidden_size, config.semantic_model_config.hidden_size)
        self.fc2 = nn.Linear(config.hidden_size, config.acoustic_model_config.hidden_size)
        self.quantizer = HiggsAudioV2TokenizerResidualVectorQuantization(config)
        self.post_init()

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        """Random weights (a smoke run): the initialisation of transformers' model, codebooks left at zero (the
        codec's `build` draws them, as for the other k-means codebooks)."""
        if isinstance(module, nn.Linear):
            module.weight.normal_(0.0, self.config.initializer_range)
            if module.bias is not None:
                module.bias.zero_()
        elif isinstance(module, (nn.LayerNorm, nn.GroupNorm)):
            module.bias.zero_()
            module.weight.fill_(1.0)
        elif isinstance(module, nn.Conv1d):
            nn.init.kaiming_normal_(module.weight)
            if module.bias is not None:
                bound = math.sqrt(module.groups / (module.in_channels * module.kernel_size[0]))
                module.bias.uniform_(-bound, bound)
        elif type(module).__name__ == "Snake1d":
            module.alpha.fill_(1.0)
        elif isinstance(module, nn.ConvTranspose1d):
            module.reset_parameters()

    @staticmethod
    def _adjust_dac_decoder(decoder: nn.Module) -> None:
        """Higgs's DAC decoder: output padding `stride % 2` in every transposed convolution, no final tanh."""
        for module in decoder.modules():
            if isinstance(module, nn.ConvTranspose1d):
                stride = module.stride[0] if isinstance(module.stride, tuple) else module.stride
                module.output_padding = (stride % 2,)
        if isinstance(getattr(decoder, "tanh", None), nn.Tanh):
            decoder.tanh = nn.Identity()

    def _acoustic_frames(self, length: int) -> int:
        """Frames the acoustic encoder makes of `length` samples (every Conv1d in order, as transformers counts)."""
        for layer in self.acoustic_encoder.modules():
            if isinstance(layer, nn.Conv1d):
                length = conv1d_output_length(layer, length)
        return length

    def _extract_semantic_features(self, input_values: torch.Tensor) -> torch.Tensor:
        """`[B, 1, T]` at `sample_rate` -> the teacher's features `[B, frames, hidden]`: resampled to
        `semantic_sample_rate`, 160 zeros each side, the mean of HuBERT's hidden states (input embeddings and every
        layer), every `semantic_downsample_factor`-th frame."""
        if self.config.sample_rate != self.config.semantic_sample_rate:
            input_values = sinc_resample(input_values, self.config.sample_rate, self.config.semantic_sample_rate)
        input_values = F.pad(input_values[:, 0, :], (160, 160))
        with torch.no_grad():
            hidden_states = self.semantic_model(input_values, output_hidden_states=True).hidden_states
        features = torch.stack([h.to(input_values.device) for h in hidden_states], dim=1).mean(dim=1)
        if self.config.semantic_downsample_factor > 1:
            features = features[:, :: self.config.semantic_downsample_factor, :]
        return features

    def encode(self, input_values: torch.Tensor, bandwidth: float | None = None) -> torch.Tensor:
        """`[B, 1, T]` -> codes `[B, n_q, frames]`, `n_q` as `bandwidth` (kbps) asks (default: the config's last)."""
        if bandwidth is None:
            bandwidth = self.config.target_bandwidths[-1]
        elif bandwidth not in self.config.target_bandwidths:
            raise ValueError(f"This model doesn't support the bandwidth {bandwidth}. "
                             f"Select one of {self.config.target_bandwidths}.")
        e_semantic = self.encoder_semantic(self._extract_semantic_features(input_values).detach().transpose(1, 2))
        # the acoustic encoder sees the signal padded by half a hop each side when its frames would not match
        if self._acoustic_frames(input_values.shape[2]) != e_semantic.shape[2]:
            e_acoustic = self.acoustic_encoder(F.pad(input_values, (self.pad, self.pad)))
        else:
            e_acoustic = self.acoustic_encoder(input_values)
        embeddings = torch.cat([e_acoustic.to(e_semantic.device), e_semantic], dim=1)
        embeddings = self.fc(embeddings.transpose(1, 2)).transpose(1, 2)
        return self.quantizer.encode(embeddings, bandwidth).transpose(0, 1)

    def decode(self, audio_codes: torch.Tensor) -> torch.Tensor:
        """Codes `[B, n_q, frames]` -> audio `[B, 1, frames · hop]`."""
        quantized = self.quantizer.decode(audio_codes.transpose(0, 1))
        return self.acoustic_decoder(self.fc2(quantized.transpose(1, 2)).transpose(1, 2))
