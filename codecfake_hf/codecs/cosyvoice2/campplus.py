"""CAM++, the speaker encoder of CosyVoice 2 (`campplus.onnx`): Kaldi filterbanks -> a 192-dim speaker embedding.

The release ships it as an ONNX graph only, which `OnnxCAMPPlus` (at the end) runs with onnxruntime, as CosyVoice's
front end does. `CAMPPlus`, the torch port that random weights build, is written from 3D-Speaker's `CAMPPlus`
(modelscope/3D-Speaker, `speakerlab/models/campplus/DTDNN.py` and `layers.py`, the model the graph is exported
from), with its parameter names, for inference (batch norms use their running statistics). The input of both is
CosyVoice's `frontend._extract_spk_embedding`: `torchaudio.compliance.kaldi.fbank(speech, num_mel_bins=80, dither=0,
sample_frequency=16000)` of the utterance in [-1, 1], minus its mean over time; `fbank` below computes it without
torchaudio.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# Kaldi's defaults (torchaudio.compliance.kaldi.fbank): 25 ms frames every 10 ms, Povey window, DC offset removed,
# pre-emphasis 0.97, a 512-point FFT (the frame rounded up to a power of two), power spectrum, mel bins from 20 Hz to
# Nyquist, natural log floored at float32's epsilon, `snip_edges` (only whole frames).
FRAME, SHIFT, FFT = 400, 160, 512


@functools.cache
def _kaldi_mel_banks(num_bins: int, sample_rate: int) -> torch.Tensor:
    """`[num_bins, FFT // 2 + 1]` Kaldi mel filters (triangles in mel space, the Nyquist bin zero), as transformers'
    `mel_filter_bank(..., mel_scale="kaldi", triangularize_in_mel_space=True)` computes them."""
    from transformers.audio_utils import mel_filter_bank

    filters = mel_filter_bank(num_frequency_bins=FFT // 2 + 1, num_mel_filters=num_bins, min_frequency=20.0,
                              max_frequency=sample_rate / 2, sampling_rate=sample_rate, norm=None,
                              mel_scale="kaldi", triangularize_in_mel_space=True)
    return torch.from_numpy(np.ascontiguousarray(filters.T, dtype=np.float32))


def fbank(wave: torch.Tensor, num_bins: int = 80, sample_rate: int = 16000) -> torch.Tensor:
    """Kaldi log-mel filterbanks of one utterance `[T]` (floats in [-1, 1]) -> `[frames, num_bins]`, frames =
    1 + (T - 400) // 160 (none for T < 400)."""
    wave = wave.float()  # torchaudio computes in the waveform's dtype: float32
    frames = 1 + (wave.shape[0] - FRAME) // SHIFT if wave.shape[0] >= FRAME else 0
    strided = wave.as_strided((frames, FRAME), (SHIFT, 1))
    strided = strided - strided.mean(dim=1, keepdim=True)
    strided = torch.cat([strided[:, :1] - 0.97 * strided[:, :1], strided[:, 1:] - 0.97 * strided[:, :-1]], dim=1)
    window = torch.hann_window(FRAME, periodic=False, dtype=wave.dtype, device=wave.device).pow(0.85)
    spectrum = torch.fft.rfft(F.pad(strided * window, (0, FFT - FRAME)), dim=1).abs().pow(2)
    mel = spectrum @ _kaldi_mel_banks(num_bins, sample_rate).to(spectrum.device).T
    return torch.clamp(mel, min=torch.finfo(torch.float32).eps).log()


def _nonlinear(config: str, channels: int) -> nn.Sequential:
    layers = nn.Sequential()
    for name in config.split("-"):
        if name == "relu":
            layers.add_module("relu", nn.ReLU())
        elif name == "batchnorm":
            layers.add_module("batchnorm", nn.BatchNorm1d(channels))
        elif name == "batchnorm_":
            layers.add_module("batchnorm", nn.BatchNorm1d(channels, affine=False))
    return layers


class BasicResBlock(nn.Module):
    def __init__(self, in_planes: int, planes: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=(stride, 1), padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride=(stride, 1), bias=False),
                                          nn.BatchNorm2d(planes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(out + self.shortcut(x))


class FCM(nn.Module):
    """The 2-D front end: two stages of two residual blocks (stride 2 in frequency), then a stride-2 conv."""

    def __init__(self, m_channels: int, feat_dim: int):
        super().__init__()
        self.conv1 = nn.Conv2d(1, m_channels, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(m_channels)
        self.layer1 = nn.Sequential(BasicResBlock(m_channels, m_channels, 2), BasicResBlock(m_channels, m_channels, 1))
        self.layer2 = nn.Sequential(BasicResBlock(m_channels, m_channels, 2), BasicResBlock(m_channels, m_channels, 1))
        self.conv2 = nn.Conv2d(m_channels, m_channels, 3, stride=(2, 1), padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(m_channels)
        self.out_channels = m_channels * (feat_dim // 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x.unsqueeze(1))))
        out = F.relu(self.bn2(self.conv2(self.layer2(self.layer1(out)))))
        return out.reshape(out.shape[0], out.shape[1] * out.shape[2], out.shape[3])


class TDNNLayer(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int):
        super().__init__()
        self.linear = nn.Conv1d(in_channels, out_channels, kernel_size, stride=stride, padding=(kernel_size - 1) // 2,
                                bias=False)
        self.nonlinear = _nonlinear("batchnorm-relu", out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.nonlinear(self.linear(x))


class CAMLayer(nn.Module):
    """Context-aware masking: a local conv gated by the utterance mean plus 100-frame segment means."""

    def __init__(self, bn_channels: int, out_channels: int, kernel_size: int, dilation: int):
        super().__init__()
        self.linear_local = nn.Conv1d(bn_channels, out_channels, kernel_size, padding=(kernel_size - 1) // 2 * dilation,
                                      dilation=dilation, bias=False)
        self.linear1 = nn.Conv1d(bn_channels, bn_channels // 2, 1)
        self.linear2 = nn.Conv1d(bn_channels // 2, out_channels, 1)

    @staticmethod
    def seg_pooling(x: torch.Tensor, seg_len: int = 100) -> torch.Tensor:
        seg = F.avg_pool1d(x, kernel_size=seg_len, stride=seg_len, ceil_mode=True)
        shape = seg.shape
        return seg.unsqueeze(-1).expand(*shape, seg_len).reshape(*shape[:-1], -1)[..., : x.shape[-1]]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        context = x.mean(-1, keepdim=True) + self.seg_pooling(x)
        return self.linear_local(x) * torch.sigmoid(self.linear2(F.relu(self.linear1(context))))


class CAMDenseTDNNLayer(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, bn_channels: int, kernel_size: int, dilation: int):
        super().__init__()
        self.nonlinear1 = _nonlinear("batchnorm-relu", in_channels)
        self.linear1 = nn.Conv1d(in_channels, bn_channels, 1, bias=False)
        self.nonlinear2 = _nonlinear("batchnorm-relu", bn_channels)
        self.cam_layer = CAMLayer(bn_channels, out_channels, kernel_size, dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cam_layer(self.nonlinear2(self.linear1(self.nonlinear1(x))))


class CAMDenseTDNNBlock(nn.ModuleList):
    def __init__(self, num_layers: int, in_channels: int, out_channels: int, bn_channels: int, kernel_size: int,
                 dilation: int):
        super().__init__()
        for i in range(num_layers):
            self.add_module(f"tdnnd{i + 1}", CAMDenseTDNNLayer(in_channels + i * out_channels, out_channels,
                                                               bn_channels, kernel_size, dilation))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self:
            x = torch.cat([x, layer(x)], dim=1)
        return x


class TransitLayer(nn.Module):
    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.nonlinear = _nonlinear("batchnorm-relu", in_channels)
        self.linear = nn.Conv1d(in_channels, out_channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.nonlinear(x))


class StatsPool(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x.mean(dim=-1), x.std(dim=-1, unbiased=True)], dim=-1)


class DenseLayer(nn.Module):
    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.linear = nn.Conv1d(in_channels, out_channels, 1, bias=False)
        self.nonlinear = _nonlinear("batchnorm_", out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.nonlinear(self.linear(x.unsqueeze(-1)).squeeze(-1))


class CAMPPlus(nn.Module):
    """`CAMPPlus(feat_dim, embedding_size)`: FCM front end, a stride-2 TDNN, three CAM dense blocks with transitions,
    statistics pooling and a dense layer.

    Args:
        feat_dim (int): filterbank bins (80); embedding_size (int): 192 in CosyVoice; growth_rate (int): 32;
        bn_size (int): 4; init_channels (int): 128; m_channels (int): the front end's width (32);
        block_layers (tuple[int, ...]): layers per dense block ((12, 24, 16)); the kernels (3) and dilations
        (1, 2, 2) are upstream's.
    """

    def __init__(self, feat_dim: int, embedding_size: int, growth_rate: int, bn_size: int, init_channels: int,
                 m_channels: int, block_layers: tuple[int, ...]):
        super().__init__()
        self.head = FCM(m_channels, feat_dim)
        self.xvector = nn.Sequential()
        self.xvector.add_module("tdnn", TDNNLayer(self.head.out_channels, init_channels, 5, stride=2))
        channels = init_channels
        for i, (num_layers, dilation) in enumerate(zip(block_layers, (1, 2, 2), strict=True)):
            self.xvector.add_module(f"block{i + 1}", CAMDenseTDNNBlock(num_layers, channels, growth_rate,
                                                                        bn_size * growth_rate, 3, dilation))
            channels += num_layers * growth_rate
            self.xvector.add_module(f"transit{i + 1}", TransitLayer(channels, channels // 2))
            channels //= 2
        self.xvector.add_module("out_nonlinear", _nonlinear("batchnorm-relu", channels))
        self.xvector.add_module("stats", StatsPool())
        self.xvector.add_module("dense", DenseLayer(channels * 2, embedding_size))

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """One utterance `[T]` at 16 kHz -> its speaker embedding `[1, embedding_size]`."""
        feat = fbank(wave)
        feat = feat - feat.mean(dim=0, keepdim=True)
        return self.xvector(self.head(feat.T[None].to(wave.device)))


class OnnxCAMPPlus(nn.Module):
    """The release's `campplus.onnx`, run by onnxruntime on the CPU as CosyVoice's front end runs it
    (`_extract_spk_embedding`): the utterance's Kaldi filterbanks minus their mean over time, `[1, frames, 80]`, in;
    the embedding out. The file's bytes are the module's one buffer (`onnx`), so the state dict carries the graph.

    Args:
        graph (torch.Tensor): the ONNX file's bytes, uint8 (`onnx_files.graph_tensor`).
        codec (str): the codec's name, and source (str): where the bytes came from; both named by the one
            `CheckpointError` a graph that does not parse or open gives.
    """

    def __init__(self, graph: torch.Tensor, *, codec: str, source: str):
        super().__init__()
        from .onnx_files import read_graph, session

        data = graph.detach().cpu().contiguous().numpy().tobytes()
        read_graph(data, codec=codec, source=source)
        self.register_buffer("onnx", graph.detach().to(torch.uint8).contiguous())
        self._codec, self._source = codec, source
        self._session = session(data, codec=codec, source=source)
        self._input = self._session.get_inputs()[0].name

    def __getstate__(self) -> dict:  # an onnxruntime session does not pickle: reopened from the buffer
        state = dict(self.__dict__)
        state["_session"] = None
        return state

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """One utterance `[T]` at 16 kHz -> its speaker embedding `[1, embedding_size]` (float32, on `wave`'s
        device)."""
        if self._session is None:
            from .onnx_files import session

            self._session = session(self.onnx.cpu().numpy().tobytes(), codec=self._codec, source=self._source)
        feat = fbank(wave.detach().float().cpu())
        feat = feat - feat.mean(dim=0, keepdim=True)
        embedding = self._session.run(None, {self._input: feat[None].numpy()})[0]
        return torch.from_numpy(np.asarray(embedding, dtype=np.float32).reshape(1, -1)).to(wave.device)
