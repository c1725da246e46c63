# codecfake-hf (Apache-2.0). Saved models carry this file as their remote code (`trust_remote_code=True`):
# it imports only torch, numpy, transformers and the other model files, never the rest of codecfake_hf.
"""Configs of the AASIST detectors: `AasistConfig` (raw-waveform AASIST, AASIST-L) and `W2V2AasistConfig`."""

from __future__ import annotations

from transformers import PretrainedConfig

BONAFIDE_SPOOF = {0: "bonafide", 1: "spoof"}  # the project's label order (upstream AASIST's is the reverse)

# The `model_config` sections of clovaai/aasist's config/AASIST.conf and config/AASIST-L.conf.
AASIST_MODEL_CONFIG = {
    "architecture": "AASIST", "nb_samp": 64600, "first_conv": 128,
    "filts": [70, [1, 32], [32, 32], [32, 64], [64, 64]], "gat_dims": [64, 32],
    "pool_ratios": [0.5, 0.7, 0.5, 0.5], "temperatures": [2.0, 2.0, 100.0, 100.0],
}
AASIST_L_MODEL_CONFIG = {
    "architecture": "AASIST", "nb_samp": 64600, "first_conv": 128,
    "filts": [70, [1, 32], [32, 32], [32, 24], [24, 24]], "gat_dims": [24, 32],
    "pool_ratios": [0.4, 0.5, 0.7, 0.5], "temperatures": [2.0, 2.0, 100.0, 100.0],
}
UPSTREAM_FIELDS = ("nb_samp", "first_conv", "filts", "gat_dims", "pool_ratios", "temperatures")
def _label_defaults(kwargs: dict) -> dict:
    """bonafide/spoof unless the caller gives labels (source tracing gives one class per codec)."""
    if "id2label" not in kwargs and "num_labels" not in kwargs:
        kwargs["id2label"] = dict(BONAFIDE_SPOOF)
    if "id2label" in kwargs and "label2id" not in kwargs:
        kwargs["label2id"] = {name: int(i) for i, name in kwargs["id2label"].items()}
    return kwargs


class _GraphBackEndConfig(PretrainedConfig):
    """Fields of the AASIST graph back end, shared by both detectors (the upstream `model_config` names)."""

    def __init__(
        self,
        filts: list | None = None,
        gat_dims: list[int] | None = None,
        pool_ratios: list[float] | None = None,
        temperatures: list[float] | None = None,
        nb_samp: int = 64600,
        sampling_rate: int = 16000,
        graph_input_dropout: float = 0.2,
        pool_dropout: float = 0.3,
        path_dropout: float = 0.2,
        hidden_dropout: float = 0.5,
        encoder_time_pool: int = 3,
        **kwargs,
    ):
        self.filts = [int(filts[0])] + [[int(a), int(b)] for a, b in filts[1:]]
        self.gat_dims = [int(d) for d in gat_dims]
        self.pool_ratios = [float(r) for r in pool_ratios]
        self.temperatures = [float(t) for t in temperatures]
        self.nb_samp = int(nb_samp)
        self.sampling_rate = int(sampling_rate)
        self.graph_input_dropout = graph_input_dropout
        self.pool_dropout = pool_dropout
        self.path_dropout = path_dropout
        self.hidden_dropout = hidden_dropout
        self.encoder_time_pool = int(encoder_time_pool)
        super().__init__(**_label_defaults(kwargs))


class AasistConfig(_GraphBackEndConfig):
    """AASIST (Jung et al., ICASSP 2022) on raw 16 kHz waveforms; the defaults are the official AASIST's.

    The first six fields are the `model_config` of clovaai/aasist's `.conf` files, under the same names, so
    `AasistConfig(**model_config)` reads one (`AasistConfig.aasist_l()` is AASIST-L).

    Args:
        nb_samp (int): input window in samples, 64600 (4.04 s at 16 kHz); training crops, evaluation cuts the
            first window (see `AasistFeatureExtractor`). The model itself takes any length.
        first_conv (int): length of the sinc filters of the front end, 128 (made odd: 129, as upstream).
        filts (list): `[n_sinc_filters, [in, out] of residual block 1, block 2, block 3, blocks 4-6]`,
            default `[70, [1, 32], [32, 32], [32, 64], [64, 64]]`.
        gat_dims (list[int]): widths of the graph attention layers `[spectral/temporal, heterogeneous]`, [64, 32].
        pool_ratios (list[float]): share of nodes kept by the graph pools `[spectral, temporal, heterogeneous,
            unused]`, [0.5, 0.7, 0.5, 0.5] (upstream never reads the fourth).
        temperatures (list[float]): attention temperatures `[spectral, temporal, heterogeneous, unused]`,
            [2.0, 2.0, 100.0, 100.0].
        sampling_rate (int): 16000; the sinc filters are laid out on the mel scale up to half of it.
        graph_input_dropout (float): dropout on the nodes entering each graph attention layer, 0.2.
        pool_dropout (float): dropout before the graph pools' scoring projection, 0.3.
        path_dropout (float): dropout on both inference paths before their element-wise maximum, 0.2.
        hidden_dropout (float): dropout on the pooled embedding before the output layer, 0.5.
        encoder_time_pool (int): max-pooling along time after each residual block, 3 (upstream's `MaxPool2d((1, 3))`).
        num_labels / id2label / label2id: the classes; default `{0: "bonafide", 1: "spoof"}`.
    """

    model_type = "aasist"

    def __init__(self, first_conv: int = 128, filts: list | None = None, gat_dims: list[int] | None = None,
                 pool_ratios: list[float] | None = None, temperatures: list[float] | None = None, **kwargs):
        kwargs.pop("architecture", None)  # upstream's model_config names the class; ours is `architectures`
        self.first_conv = int(first_conv)
        super().__init__(
            filts=filts or AASIST_MODEL_CONFIG["filts"], gat_dims=gat_dims or AASIST_MODEL_CONFIG["gat_dims"],
            pool_ratios=pool_ratios or AASIST_MODEL_CONFIG["pool_ratios"],
            temperatures=temperatures or AASIST_MODEL_CONFIG["temperatures"], **kwargs)

    @property
    def sinc_kernel_size(self) -> int:
        """Upstream forces the sinc filters to odd length (symmetric): 128 -> 129."""
        return self.first_conv + 1 if self.first_conv % 2 == 0 else self.first_conv

    @classmethod
    def aasist_l(cls, **kwargs) -> AasistConfig:
        """AASIST-L, the light version (85k parameters)."""
        fields = {key: AASIST_L_MODEL_CONFIG[key] for key in UPSTREAM_FIELDS}
        return cls(**{**fields, **kwargs})

    def to_model_config(self) -> dict:
        """The upstream `model_config` section these fields stand for."""
        return {"architecture": "AASIST", **{key: getattr(self, key) for key in UPSTREAM_FIELDS}}


class W2V2AasistConfig(_GraphBackEndConfig):
    """W2V2-AASIST (Tak et al., Odyssey 2022): a wav2vec 2.0 / XLS-R encoder feeding the AASIST graph back end.

    The encoder's hidden states `[B, frames, hidden_size]` are projected to `projection_dim` features, seen as
    a one-channel image `[B, 1, projection_dim, frames]`, max-pooled 3x3 and passed through the residual
    encoder and graph back end of AASIST (so `filts[0]`, the sinc filter count in AASIST, is unused here; the
    spectral graph has `projection_dim // 3` nodes). The paper's settings are the defaults.

    Args:
        encoder_config (dict): config of any wav2vec2-family model (`model_type` wav2vec2, wav2vec2-conformer,
            hubert, wavlm, ...) as `PretrainedConfig.to_dict()` gives it; default: a wav2vec2-base config.
        projection_dim (int): width of the linear projection of the encoder states, 128.
        filts (list): residual encoder as in `AasistConfig`, default `[128, [1, 32], [32, 32], [32, 64], [64, 64]]`.
        gat_dims (list[int]): [64, 32]. pool_ratios (list[float]): [0.5, 0.5, 0.5, 0.5].
        temperatures (list[float]): [2.0, 2.0, 100.0, 100.0].
        encoder_time_pool (int): 1, no pooling along time after the residual blocks (the encoder's 20 ms frames
            are already coarse; the released SSL_Anti-spoofing code dropped that pooling too).
        Other fields as in `AasistConfig`.
    """

    model_type = "w2v2_aasist"

    def __init__(self, encoder_config: dict | None = None, projection_dim: int = 128, filts: list | None = None,
                 gat_dims: list[int] | None = None, pool_ratios: list[float] | None = None,
                 temperatures: list[float] | None = None, encoder_time_pool: int = 1, **kwargs):
        if encoder_config is None:
            from transformers import Wav2Vec2Config

            encoder_config = Wav2Vec2Config().to_dict()
        elif isinstance(encoder_config, PretrainedConfig):
            encoder_config = encoder_config.to_dict()
        self.encoder_config = dict(encoder_config)
        self.projection_dim = int(projection_dim)
        super().__init__(
            filts=filts or [128, [1, 32], [32, 32], [32, 64], [64, 64]], gat_dims=gat_dims or [64, 32],
            pool_ratios=pool_ratios or [0.5, 0.5, 0.5, 0.5], temperatures=temperatures or [2.0, 2.0, 100.0, 100.0],
            encoder_time_pool=encoder_time_pool, **kwargs)

    def encoder(self) -> PretrainedConfig:
        """The encoder's config as its own `PretrainedConfig` class."""
        from transformers import AutoConfig

        values = dict(self.encoder_config)
        return AutoConfig.for_model(values.pop("model_type", "wav2vec2"), **values)
