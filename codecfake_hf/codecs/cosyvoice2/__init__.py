"""CosyVoice 2 resynthesis (FunAudioLLM/CosyVoice2-0.5B): S3 tokens + CAM++ speaker embedding -> flow matching ->
HiFT, 16 kHz in, 24 kHz out.

NOT REGISTERED (no `specs.py`, so the registry does not list it): the four networks reproduce the upstream code
(tests/codecs/test_cosyvoice2.py), but `download` cannot read the release yet. Two of its four weight files are ONNX
graphs (`speech_tokenizer_v2.onnx`, `campplus.onnx`) whose initializer names could not be inspected here (no Hub
access): s3tokenizer's `onnx2torch` documents the tokenizer's mapping (by graph node names), none is published for
CAM++'s export. `SPEC` is the entry this family will register once `download` reads them.
"""

from .codec import OPTIONS, build, default_config, download
from .draft_spec import SPEC

__all__ = ["OPTIONS", "SPEC", "build", "default_config", "download"]
