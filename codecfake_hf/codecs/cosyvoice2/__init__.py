"""CosyVoice 2 resynthesis (FunAudioLLM/CosyVoice2-0.5B): S3 tokens + CAM++ speaker embedding -> flow matching ->
HiFT, 16 kHz in, 24 kHz out.

Two of the release's four weight files are ONNX graphs (`onnx_files`): `speech_tokenizer_v2.onnx` is converted into
the torch tokenizer by s3tokenizer's `onnx2torch` rule, `campplus.onnx` is run with onnxruntime as CosyVoice's front
end runs it (`campplus.OnnxCAMPPlus`; the torch port `campplus.CAMPPlus` serves random weights).
"""

from .codec import OPTIONS, build, default_config, download
from .specs import SPECS

__all__ = ["OPTIONS", "SPECS", "build", "default_config", "download"]
