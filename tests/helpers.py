"""Helpers shared by the codec tests (fixtures stay in conftest.py): checkpoint bytes and Hub-layout files."""

from __future__ import annotations

import io
import json

import torch
import yaml

from codecfake_hf import codecs


def torch_save_bytes(obj) -> bytes:
    """What `torch.save(obj, path)` would write, as bytes."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def funcodec_hub_files(fixture, checkpoint=None, config=None) -> dict[str, bytes | str]:
    """config.yaml and model.pth as FunCodec's Hub repositories hold them (the tiny model by default)."""
    return {"config.yaml": yaml.safe_dump(config if config is not None else fixture.tiny_config),
            "model.pth": torch_save_bytes(checkpoint if checkpoint is not None else fixture.weights())}


def speechtokenizer_hub_files(fixture, checkpoint=None, config=None) -> dict[str, bytes | str]:
    """config.json and SpeechTokenizer.pt under the repository's `speechtokenizer_hubert_avg/`."""
    config_file, checkpoint_file = codecs.spec("SpeechTokenizer").hub_files
    return {config_file: json.dumps(config if config is not None else fixture.tiny_config),
            checkpoint_file: torch_save_bytes(checkpoint if checkpoint is not None else fixture.weights())}
