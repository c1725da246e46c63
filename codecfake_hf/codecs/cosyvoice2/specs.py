"""CosyVoice 2 resynthesis's one config: the release FunAudioLLM/CosyVoice2-0.5B (its four weight files)."""

import math

from ..spec import CodecSpec

_NOTE = (
    "CosyVoice 2's token-to-speech chain as resynthesis: each utterance's S3 speech tokens (speech_tokenizer_v2, "
    "25 Hz, FSQ of 3^8 codes, trained with an ASR objective) and its own CAM++ speaker embedding (192 dims), decoded "
    "by CosyVoice2Model.token2wav with no prompt tokens and no prompt mel (non-streaming): the flow-matching decoder "
    "(10 Euler steps, classifier-free guidance 0.7) makes an 80-bin mel at 50 Hz, HiFT vocodes it at 24 kHz. The "
    "flow's initial noise and HiFT's source noise are drawn from the codec's noise seed (the build's random-weight "
    "seed, else registry.weight_seed(name); 0 reproduces the release's own flow noise), so rows are reproducible. "
    "Utterances over 30 s are refused, as CosyVoice's front end refuses them. The release's two ONNX front ends: "
    "speech_tokenizer_v2.onnx is converted into a torch tokenizer (s3tokenizer's onnx2torch rule), campplus.onnx runs "
    "with onnxruntime on the CPU, as CosyVoice's front end runs it. Taxonomy: FSQ is CodecFake+'s scalar "
    "quantiser; the tokenizer's supervised ASR objective is a semantic one (no codec of CodecFake+ is trained so; "
    "semantic-distillation is the nearest cell); the waveform comes from HiFT's inverse STFT (frequency), though "
    "the mel itself is sampled by a generative (flow-matching) decoder, which the taxonomy has no cell for."
)

SPECS = [CodecSpec(
    name="cosyvoice2", family="cosyvoice2", sample_rate=16000, output_rate=24000, hop_length=640, n_codebooks=1,
    codebook_size=6561, bitrate_kbps=1 * math.log2(6561) * 25 / 1000,  # 0.317 kbps
    hub_repo="FunAudioLLM/CosyVoice2-0.5B",
    hub_files=("speech_tokenizer_v2.onnx", "campplus.onnx", "flow.pt", "hift.pt"),
    length_rule="whole tokens at 24 kHz: ceil((T // 160) / 4) × 960 output samples for T input samples (Whisper's "
                "log-mel frames, two stride-2 convolutions, 2 mel frames of 480 samples per token)",
    quantizer="scalar", auxiliary="semantic-distillation", decoder="frequency",
    aliases=("cosyvoice2-0.5b", "CosyVoice2-0.5B", "s3tokenizer-v2-cosyvoice2"),
    notes=_NOTE,
    # no public codec-deepfake set resynthesises through it (CDD's CoRS: DAC, EnCodec+Vocos, Mimi, X-Codec 2)
    public_sets=(),
    license="apache-2.0",  # FunAudioLLM/CosyVoice's LICENSE (Apache-2.0); the Hub card's `license:` field not read here
)]
