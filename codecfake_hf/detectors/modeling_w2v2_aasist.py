# codecfake-hf (Apache-2.0). Saved models carry this file as their remote code (`trust_remote_code=True`):
# it imports only torch, numpy, transformers and the other model files, never the rest of codecfake_hf.
"""W2V2-AASIST (Tak et al., Odyssey 2022): a wav2vec 2.0-family encoder feeding AASIST's graph back end."""

from __future__ import annotations

import torch
from torch import nn
from transformers import AutoModel, PreTrainedModel

from .configuration_aasist import W2V2AasistConfig
from .modeling_aasist import AasistGraphBackEnd, classification_output


class W2V2AasistPreTrainedModel(PreTrainedModel):
    config_class = W2V2AasistConfig
    config: W2V2AasistConfig
    base_model_prefix = "w2v2_aasist"
    main_input_name = "input_values"
    input_modalities = "audio"

    @torch.no_grad()
    def _init_weights(self, module):
        encoder = getattr(self, "wav2vec2", None)
        if encoder is not None:
            inside = getattr(self, "_encoder_module_ids", None)
            if inside is None:
                inside = self._encoder_module_ids = {id(m) for m in encoder.modules()}
            if id(module) in inside:  # the encoder initialises its own modules its own way
                encoder._init_weights(module)
                return
        self._init_back_end_weights(module)


class W2V2AasistForAudioClassification(AasistGraphBackEnd, W2V2AasistPreTrainedModel):
    """Raw 16 kHz waveform [B, T] -> wav2vec2-family encoder -> linear projection -> AASIST back end -> logits.

    `hidden_states` (when asked) holds the pooled graph embedding [B, 5 * gat_dims[1]].
    Build one on a pretrained encoder with `from_encoder("facebook/wav2vec2-xls-r-300m")`; a saved model
    reloads through `AutoModelForAudioClassification.from_pretrained`.

    Args:
        config (W2V2AasistConfig): encoder config, projection and back end.
    """

    def __init__(self, config: W2V2AasistConfig):
        super().__init__(config)
        encoder_config = config.encoder()
        self.wav2vec2 = AutoModel.from_config(encoder_config)
        self.LL = nn.Linear(encoder_config.hidden_size, config.projection_dim)
        self._build_back_end(config, spectral_nodes=config.projection_dim // 3)
        self.post_init()

    def freeze_feature_encoder(self) -> None:
        """Stop gradients into the encoder's convolutional feature encoder (as for wav2vec2 classifiers)."""
        if hasattr(self.wav2vec2, "freeze_feature_encoder"):
            self.wav2vec2.freeze_feature_encoder()

    def forward(self, input_values: torch.Tensor, labels: torch.Tensor | None = None,
                attention_mask: torch.Tensor | None = None, output_hidden_states: bool | None = None,
                return_dict: bool | None = None, **kwargs):
        """input_values: float [B, T] at 16 kHz."""
        states = self.wav2vec2(input_values, attention_mask=attention_mask).last_hidden_state  # [B, frames, H]
        hidden = self._back_end(self.LL(states).transpose(1, 2).unsqueeze(1))  # [B, 1, projection_dim, frames]
        logits = self.out_layer(self.hidden_drop(hidden))
        return classification_output(logits, labels, hidden, output_hidden_states, return_dict)

    @classmethod
    def from_encoder(cls, encoder_name_or_path: str, **config_kwargs) -> W2V2AasistForAudioClassification:
        """A new W2V2-AASIST whose encoder is the pretrained `encoder_name_or_path` (any wav2vec2-family model:
        a Hub id or folder); the projection and back end start from random weights."""
        encoder = AutoModel.from_pretrained(encoder_name_or_path)
        config = W2V2AasistConfig(encoder_config=encoder.config.to_dict(), **config_kwargs)
        model = cls(config)
        model.wav2vec2.load_state_dict(encoder.state_dict(), strict=True)
        return model
