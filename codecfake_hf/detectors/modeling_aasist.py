"""AASIST (Jung et al., ICASSP 2022) as a transformers `PreTrainedModel`, state-dict compatible with clovaai/aasist.

Reading order follows the paper: sinc-convolution front end, residual encoder, spectral and temporal graph
attention with graph pooling, two heterogeneous stacking graph attention paths with a master node, and a
read-out of max/mean of each node type plus the master node. Module and parameter names are upstream's
(`conv_time`, `encoder.N.0.conv1`, `GAT_layer_S`, `HtrgGAT_layer_ST11`, `pool_hS1`, `out_layer`, ...), so the
official `.pth` files load with `strict=True`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import SequenceClassifierOutput

from ..errors import CheckpointError
from .configuration_aasist import BONAFIDE_SPOOF, UPSTREAM_FIELDS, AasistConfig, _GraphBackEndConfig, check_model_config

# The largest model `from_original` builds, in parameters (AASIST has 297,866, AASIST-L 85,306): counted on the
# meta device before any memory is taken, so a model_config cannot ask for gigabytes.
MAX_PARAMETERS = 50_000_000


def _mel(hz: torch.Tensor) -> torch.Tensor:
    return 2595 * torch.log10(1 + hz / 700)


def _hz(mel: torch.Tensor) -> torch.Tensor:
    return 700 * (10 ** (mel / 2595) - 1)


def sinc_band_pass(out_channels: int, kernel_size: int, sampling_rate: int) -> torch.Tensor:
    """The fixed front-end filters [out_channels, kernel_size]: Hamming-windowed sinc band-passes whose edges are
    equally spaced on the mel scale from 0 Hz to Nyquist (over a 512-point FFT's frequency grid, as upstream).

    Computed in float64; the caller casts. Called in `forward` (and cached), never in `__init__`, which
    transformers runs on the meta device.
    """
    grid = (sampling_rate // 2) * torch.linspace(0, 1, 257, dtype=torch.float64)
    edges_mel = torch.linspace(float(_mel(grid).min()), float(_mel(grid).max()), out_channels + 1,
                               dtype=torch.float64)
    edges = _hz(edges_mel)
    support = torch.arange(kernel_size, dtype=torch.float64) - (kernel_size - 1) / 2
    window = torch.hamming_window(kernel_size, periodic=False, dtype=torch.float64)

    def low_pass(cutoff: torch.Tensor) -> torch.Tensor:  # ideal low-pass of `cutoff` Hz, [channels, kernel]
        return (2 * cutoff[:, None] / sampling_rate) * torch.sinc(2 * cutoff[:, None] * support / sampling_rate)

    return window * (low_pass(edges[1:]) - low_pass(edges[:-1]))


class SincConv(nn.Module):
    """Fixed mel-spaced sinc band-pass filters over the raw waveform (no parameters, as upstream's `CONV`).

    Args:
        out_channels (int): number of filters (70 in AASIST).
        kernel_size (int): filter length, odd (129).
        sampling_rate (int): 16000.
    """

    def __init__(self, out_channels: int, kernel_size: int, sampling_rate: int):
        super().__init__()
        self.out_channels, self.kernel_size, self.sampling_rate = out_channels, kernel_size, sampling_rate
        self._filters: dict[tuple, torch.Tensor] = {}  # by (device, dtype); plain attribute, not state

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, 1, T] -> [B, out_channels, T - kernel_size + 1]."""
        key = (x.device, x.dtype)
        if key not in self._filters:
            bank = sinc_band_pass(self.out_channels, self.kernel_size, self.sampling_rate)
            self._filters[key] = bank.to(device=x.device, dtype=x.dtype).unsqueeze(1)
        return F.conv1d(x, self._filters[key])


class ResidualBlock(nn.Module):
    """RawNet2-style residual block over [B, C, freq, time] with max-pooling along time.

    Upstream computes `selu(bn1(x))` and then convolves `x` itself, so `bn1` (present in the checkpoints of
    every block but the first) never reaches the output; the block keeps `bn1` for strict loading and, to
    give the official weights' outputs, applies `conv1` to `x` as upstream does.

    Args:
        channels (tuple[int, int]): (in, out) channels.
        first (bool): the first block has no `bn1`.
        time_pool (int): max-pooling factor along time (3 in AASIST, 1 for none).
    """

    def __init__(self, channels: tuple[int, int], first: bool = False, time_pool: int = 3):
        super().__init__()
        in_channels, out_channels = channels
        if not first:
            self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=(2, 3), padding=(1, 1))
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=(2, 3), padding=(0, 1))
        if in_channels != out_channels:
            self.conv_downsample = nn.Conv2d(in_channels, out_channels, kernel_size=(1, 3), padding=(0, 1))
        self.pool = nn.MaxPool2d((1, time_pool)) if time_pool > 1 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(F.selu(self.bn2(self.conv1(x))))
        identity = self.conv_downsample(x) if hasattr(self, "conv_downsample") else x
        return self.pool(out + identity)


class GraphAttention(nn.Module):
    """Graph attention over fully connected nodes [B, N, D] (AASIST's GAT-S and GAT-T).

    Attention between nodes i and j comes from their element-wise product, projected, tanh, weighted
    and softmax-normalised over j with a temperature.

    Args:
        in_dim (int), out_dim (int): node widths.
        temperature (float): softmax temperature.
        dropout (float): dropout on the input nodes.
    """

    def __init__(self, in_dim: int, out_dim: int, temperature: float = 1.0, dropout: float = 0.2):
        super().__init__()
        self.att_proj = nn.Linear(in_dim, out_dim)
        self.att_weight = nn.Parameter(torch.empty(out_dim, 1))
        self.proj_with_att = nn.Linear(in_dim, out_dim)
        self.proj_without_att = nn.Linear(in_dim, out_dim)
        self.bn = nn.BatchNorm1d(out_dim)
        self.input_drop = nn.Dropout(dropout)
        self.temperature = temperature

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.input_drop(x)
        pairs = x.unsqueeze(2) * x.unsqueeze(1)  # [B, N, N, D]
        logits = torch.tanh(self.att_proj(pairs)) @ self.att_weight  # [B, N, N, 1]
        attention = F.softmax(logits / self.temperature, dim=-2).squeeze(-1)
        x = self.proj_with_att(attention @ x) + self.proj_without_att(x)
        return F.selu(_batch_norm_nodes(self.bn, x))


class HeteroGraphAttention(nn.Module):
    """Heterogeneous graph attention over two node types [B, N1, D] and [B, N2, D] plus a master node [B, 1, D].

    Each type is first projected on its own; attention weights differ within type 1, within type 2 and
    across types (upstream uses `att_weight12` for both directions); the master node attends to every node.

    Args:
        in_dim (int), out_dim (int): node widths.
        temperature (float): softmax temperature.
        dropout (float): dropout on the input nodes.
    """

    def __init__(self, in_dim: int, out_dim: int, temperature: float = 1.0, dropout: float = 0.2):
        super().__init__()
        self.proj_type1 = nn.Linear(in_dim, in_dim)
        self.proj_type2 = nn.Linear(in_dim, in_dim)
        self.att_proj = nn.Linear(in_dim, out_dim)
        self.att_projM = nn.Linear(in_dim, out_dim)
        self.att_weight11 = nn.Parameter(torch.empty(out_dim, 1))
        self.att_weight22 = nn.Parameter(torch.empty(out_dim, 1))
        self.att_weight12 = nn.Parameter(torch.empty(out_dim, 1))
        self.att_weightM = nn.Parameter(torch.empty(out_dim, 1))
        self.proj_with_att = nn.Linear(in_dim, out_dim)
        self.proj_without_att = nn.Linear(in_dim, out_dim)
        self.proj_with_attM = nn.Linear(in_dim, out_dim)
        self.proj_without_attM = nn.Linear(in_dim, out_dim)
        self.bn = nn.BatchNorm1d(out_dim)
        self.input_drop = nn.Dropout(dropout)
        self.temperature = temperature

    def forward(self, x1: torch.Tensor, x2: torch.Tensor, master: torch.Tensor):
        n1 = x1.size(1)
        x = torch.cat([self.proj_type1(x1), self.proj_type2(x2)], dim=1)
        x = self.input_drop(x)

        # node-to-node attention, one weight vector per block of the type-1/type-2 adjacency
        projected = torch.tanh(self.att_proj(x.unsqueeze(2) * x.unsqueeze(1)))  # [B, N, N, out]
        logits = torch.cat([
            torch.cat([projected[:, :n1, :n1] @ self.att_weight11, projected[:, :n1, n1:] @ self.att_weight12], 2),
            torch.cat([projected[:, n1:, :n1] @ self.att_weight12, projected[:, n1:, n1:] @ self.att_weight22], 2),
        ], dim=1)
        attention = F.softmax(logits / self.temperature, dim=-2).squeeze(-1)  # [B, N, N]

        # the master node attends to every node
        master_logits = torch.tanh(self.att_projM(x * master)) @ self.att_weightM  # [B, N, 1]
        master_attention = F.softmax(master_logits / self.temperature, dim=-2)
        master = self.proj_with_attM(master_attention.transpose(1, 2) @ x) + self.proj_without_attM(master)

        x = self.proj_with_att(attention @ x) + self.proj_without_att(x)
        x = F.selu(_batch_norm_nodes(self.bn, x))
        return x[:, :n1], x[:, n1:], master


def _batch_norm_nodes(bn: nn.BatchNorm1d, x: torch.Tensor) -> torch.Tensor:
    """BatchNorm1d over the feature axis of [B, N, D], every node of every item a sample (as upstream)."""
    return bn(x.reshape(-1, x.size(-1))).reshape(x.shape)


class GraphPool(nn.Module):
    """Keep the top `ratio` of nodes by a learnt sigmoid score, scaling each kept node by its score.

    Args:
        ratio (float): share of nodes kept (at least one).
        in_dim (int): node width.
        dropout (float): dropout before the scoring projection.
    """

    def __init__(self, ratio: float, in_dim: int, dropout: float = 0.3):
        super().__init__()
        self.ratio = ratio
        self.proj = nn.Linear(in_dim, 1)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        scores = torch.sigmoid(self.proj(self.drop(h)))  # [B, N, 1]
        keep = max(int(h.size(1) * self.ratio), 1)
        index = torch.topk(scores, keep, dim=1).indices.expand(-1, -1, h.size(2))
        return torch.gather(h * scores, 1, index)


class AasistGraphBackEnd:
    """Mixin: AASIST's residual encoder, graph attention, pooling and read-out, built onto the model itself so
    the parameter names stay upstream's (`encoder.0.0.conv1.weight`, `pos_S`, ...), not nested under a prefix.
    """

    def _build_back_end(self, config: _GraphBackEndConfig, spectral_nodes: int) -> None:
        filts, gat_dims = config.filts, config.gat_dims
        ratios, temps = config.pool_ratios, config.temperatures
        self.first_bn = nn.BatchNorm2d(1)
        blocks = [filts[1], filts[2], filts[3], filts[4], filts[4], filts[4]]
        self.encoder = nn.Sequential(*(
            nn.Sequential(ResidualBlock(tuple(channels), first=i == 0, time_pool=config.encoder_time_pool))
            for i, channels in enumerate(blocks)))
        width = filts[-1][-1]
        self.pos_S = nn.Parameter(torch.empty(1, spectral_nodes, width))
        self.master1 = nn.Parameter(torch.empty(1, 1, gat_dims[0]))
        self.master2 = nn.Parameter(torch.empty(1, 1, gat_dims[0]))
        drop = config.graph_input_dropout
        self.GAT_layer_S = GraphAttention(width, gat_dims[0], temps[0], drop)
        self.GAT_layer_T = GraphAttention(width, gat_dims[0], temps[1], drop)
        self.HtrgGAT_layer_ST11 = HeteroGraphAttention(gat_dims[0], gat_dims[1], temps[2], drop)
        self.HtrgGAT_layer_ST12 = HeteroGraphAttention(gat_dims[1], gat_dims[1], temps[2], drop)
        self.HtrgGAT_layer_ST21 = HeteroGraphAttention(gat_dims[0], gat_dims[1], temps[2], drop)
        self.HtrgGAT_layer_ST22 = HeteroGraphAttention(gat_dims[1], gat_dims[1], temps[2], drop)
        self.pool_S = GraphPool(ratios[0], gat_dims[0], config.pool_dropout)
        self.pool_T = GraphPool(ratios[1], gat_dims[0], config.pool_dropout)
        # upstream gives all four heterogeneous pools pool_ratios[2]; pool_ratios[3] is never read
        self.pool_hS1 = GraphPool(ratios[2], gat_dims[1], config.pool_dropout)
        self.pool_hT1 = GraphPool(ratios[2], gat_dims[1], config.pool_dropout)
        self.pool_hS2 = GraphPool(ratios[2], gat_dims[1], config.pool_dropout)
        self.pool_hT2 = GraphPool(ratios[2], gat_dims[1], config.pool_dropout)
        self.path_drop = nn.Dropout(config.path_dropout)
        self.hidden_drop = nn.Dropout(config.hidden_dropout)
        self.out_layer = nn.Linear(5 * gat_dims[1], config.num_labels)

    def _back_end(self, x: torch.Tensor) -> torch.Tensor:
        """[B, 1, freq, time] feature map -> pooled embedding [B, 5 * gat_dims[1]]."""
        x = F.selu(self.first_bn(F.max_pool2d(x, (3, 3))))
        e = self.encoder(x).abs()  # [B, C, freq', time']

        # spectral graph: one node per frequency bin (max over time), with a learnt positional embedding
        out_S = self.pool_S(self.GAT_layer_S(e.amax(dim=3).transpose(1, 2) + self.pos_S))
        # temporal graph: one node per frame (max over frequency)
        out_T = self.pool_T(self.GAT_layer_T(e.amax(dim=2).transpose(1, 2)))

        # two heterogeneous stacking paths, each with its own master node
        paths = []
        for first, second, pool_S, pool_T, master in (
            (self.HtrgGAT_layer_ST11, self.HtrgGAT_layer_ST12, self.pool_hS1, self.pool_hT1, self.master1),
            (self.HtrgGAT_layer_ST21, self.HtrgGAT_layer_ST22, self.pool_hS2, self.pool_hT2, self.master2),
        ):
            path_T, path_S, master = first(out_T, out_S, master)
            path_S, path_T = pool_S(path_S), pool_T(path_T)
            aug_T, aug_S, aug_master = second(path_T, path_S, master)
            paths.append((path_T + aug_T, path_S + aug_S, master + aug_master))

        # element-wise maximum of the two paths, then max |.| and mean of each node type, and the master node
        (T1, S1, M1), (T2, S2, M2) = ((self.path_drop(t) for t in path) for path in paths)
        out_T, out_S, master = torch.maximum(T1, T2), torch.maximum(S1, S2), torch.maximum(M1, M2)
        return torch.cat([out_T.abs().amax(dim=1), out_T.mean(dim=1), out_S.abs().amax(dim=1), out_S.mean(dim=1),
                          master.squeeze(1)], dim=1)

    def _init_back_end_weights(self, module: nn.Module) -> None:
        """Upstream's initialisation: PyTorch defaults for layers, Xavier-normal attention weights, N(0, 1) for
        the positional embedding and master nodes. Through `transformers.initialization`, which skips weights
        already loaded from a checkpoint."""
        if isinstance(module, nn.Linear | nn.Conv2d):
            init.kaiming_uniform_(module.weight, a=math.sqrt(5))
            if module.bias is not None:
                fan_in = module.weight[0].numel()
                init.uniform_(module.bias, -1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in))
        elif isinstance(module, nn.BatchNorm1d | nn.BatchNorm2d):
            init.ones_(module.weight)
            init.zeros_(module.bias)
            init.zeros_(module.running_mean)
            init.ones_(module.running_var)
            init.zeros_(module.num_batches_tracked)
        elif isinstance(module, GraphAttention | HeteroGraphAttention):
            for name, parameter in module.named_parameters(recurse=False):
                if name.startswith("att_weight"):
                    init.xavier_normal_(parameter)
        if module is self:
            for parameter in (self.pos_S, self.master1, self.master2):
                init.normal_(parameter)


def classification_output(logits: torch.Tensor, labels: torch.Tensor | None, hidden: torch.Tensor,
                          output_hidden_states: bool | None, return_dict: bool | None):
    """`SequenceClassifierOutput` (or its tuple) with a plain cross-entropy loss when labels are given."""
    loss = F.cross_entropy(logits.float(), labels) if labels is not None else None
    hidden_states = (hidden,) if output_hidden_states else None
    if return_dict is False:
        return tuple(value for value in (loss, logits, hidden_states) if value is not None)
    return SequenceClassifierOutput(loss=loss, logits=logits, hidden_states=hidden_states)


class AasistPreTrainedModel(PreTrainedModel):
    config_class = AasistConfig
    config: AasistConfig
    base_model_prefix = "aasist"
    main_input_name = "input_values"
    input_modalities = "audio"

    @torch.no_grad()
    def _init_weights(self, module):
        self._init_back_end_weights(module)


class AasistForAudioClassification(AasistGraphBackEnd, AasistPreTrainedModel):
    """AASIST: raw 16 kHz waveform [B, T] -> logits [B, num_labels] in the config's label order.

    With the default labels, logit 0 is bona fide and logit 1 spoof (upstream's output is the reverse;
    `from_original` swaps the rows of `out_layer`). `hidden_states` (when asked) holds the pooled embedding
    [B, 5 * gat_dims[1]] that upstream calls `last_hidden`.

    Args:
        config (AasistConfig): the architecture and labels.
    """

    def __init__(self, config: AasistConfig):
        super().__init__(config)
        self.conv_time = SincConv(config.filts[0], config.sinc_kernel_size, config.sampling_rate)
        self._build_back_end(config, spectral_nodes=config.filts[0] // 3)
        self.post_init()

    def forward(self, input_values: torch.Tensor, labels: torch.Tensor | None = None,
                output_hidden_states: bool | None = None, return_dict: bool | None = None, **kwargs):
        """input_values: float [B, T] at 16 kHz (any T > the sinc filter length; 64600 as trained)."""
        x = self.conv_time(input_values.unsqueeze(1)).unsqueeze(1)  # [B, 1, filters, T']
        hidden = self._back_end(x.abs())
        logits = self.out_layer(self.hidden_drop(hidden))
        return classification_output(logits, labels, hidden, output_hidden_states, return_dict)

    @classmethod
    def from_original(cls, path: str | Path, model_config: dict | str | Path | None = None,
                      **config_kwargs) -> AasistForAudioClassification:
        """An official clovaai/aasist checkpoint (`AASIST.pth`, `AASIST-L.pth`) as this model, in eval mode.

        Args:
            path: the `.pth` file, a plain state dict (CUDA tensors are mapped to the CPU; `weights_only`).
            model_config: the upstream `model_config` as a dict, a `.conf` file (JSON with a `model_config`
                section) or a JSON file of the section itself. Default: AASIST's.
            config_kwargs: further `AasistConfig` fields.
        Raises:
            CheckpointError: unreadable file, a model_config value of the wrong type or range, a model that would
                be too large, keys/shapes that do not match the config, or weights that are not tensors or hold
                NaN/inf (each named).
        """
        model_config = read_model_config(model_config) if model_config is not None else {}
        architecture = model_config.get("architecture", "AASIST")
        if architecture != "AASIST":
            raise CheckpointError(f"model_config names architecture {architecture!r}; only AASIST (and AASIST-L, "
                                  "the same architecture) is supported")
        config = AasistConfig(**{key: model_config[key] for key in UPSTREAM_FIELDS if key in model_config},
                              **config_kwargs)
        with torch.device("meta"):  # sized before anything is allocated
            parameters = sum(p.numel() for p in cls(config).parameters())
        if parameters > MAX_PARAMETERS:
            raise CheckpointError(f"this model_config (filts {config.filts}, gat_dims {config.gat_dims}) makes a "
                                  f"model of {parameters:,} parameters ({4 * parameters / 2**30:.1f} GiB), above the "
                                  f"{MAX_PARAMETERS:,} accepted (AASIST has 297,866); is it the right .conf?")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:
            # a truncated or 5-byte file, not a zip or pickle, unsafe objects: torch raises many kinds
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise CheckpointError(f"cannot read the AASIST checkpoint {path}: {reason}. Give the official .pth "
                                  "file (models/weights/AASIST.pth in clovaai/aasist)") from None
        if not isinstance(state, dict):
            raise CheckpointError(f"{path} holds a {type(state).__name__}, not a state dict")
        not_tensors = sorted(str(key) for key, value in state.items() if not isinstance(value, torch.Tensor))
        if not_tensors:
            raise CheckpointError(f"{path} is not a state dict of tensors: {len(not_tensors)} entries are not tensors "
                                  f"({', '.join(not_tensors[:4])}{', ...' if len(not_tensors) > 4 else ''})")
        bad = sorted(key for key, value in state.items()
                     if value.is_floating_point() and not bool(torch.isfinite(value).all()))
        if bad:  # a model with such weights gives NaN logits on every input
            raise CheckpointError(f"{path} holds NaN or infinite weights in {len(bad)} tensors "
                                  f"({', '.join(bad[:4])}{', ...' if len(bad) > 4 else ''}); the file is damaged: "
                                  "download the official checkpoint again")
        model = cls(config)
        expected = model.state_dict()
        missing = sorted(set(expected) - set(state))
        unexpected = sorted(set(state) - set(expected))
        wrong = sorted(f"{key} {tuple(state[key].shape)} (expected {tuple(expected[key].shape)})"
                       for key in set(state) & set(expected) if state[key].shape != expected[key].shape)
        problems = [f"{len(keys)} {what} ({', '.join(keys[:4])}{', ...' if len(keys) > 4 else ''})"
                    for what, keys in (("missing keys", missing), ("unexpected keys", unexpected),
                                       ("keys of the wrong shape", wrong)) if keys]
        if problems:
            raise CheckpointError(
                f"{path} does not fit this model_config (filts {config.filts}, gat_dims {config.gat_dims}): "
                f"{'; '.join(problems)}. Pass the model_config of the .conf that came with the checkpoint "
                "(AASIST-L.conf for AASIST-L.pth)")
        if config.id2label == BONAFIDE_SPOOF:  # upstream row 0 = spoof, row 1 = bona fide: swap to ours
            order = [1, 0]
            state = dict(state)
            state["out_layer.weight"] = state["out_layer.weight"][order]
            state["out_layer.bias"] = state["out_layer.bias"][order]
        model.load_state_dict(state, strict=True)
        return model.eval()


def read_model_config(model_config: dict | str | Path) -> dict:
    """Upstream `model_config` from a dict, a `.conf` file or a JSON file of the section."""
    if isinstance(model_config, dict):
        values = model_config
    else:
        try:
            values = json.loads(Path(model_config).read_text())
        except (OSError, ValueError) as error:
            raise CheckpointError(f"cannot read the AASIST model_config {model_config}: {error}. Give the "
                                  "upstream config/*.conf file or a JSON file of its model_config section") from None
    if isinstance(values, dict) and isinstance(values.get("model_config"), dict):
        values = values["model_config"]
    if not isinstance(values, dict) or "filts" not in values:
        raise CheckpointError(f"{model_config} has no AASIST model_config (no `filts`)")
    where = "the model_config" if isinstance(model_config, dict) else str(model_config)
    return check_model_config(values, where)
