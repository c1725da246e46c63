"""A CodecFake detector as a Gradio app: upload or record speech, see how bona fide it sounds to the detector.

The same file runs on a Hugging Face Space (the folder `codecfake-eval app --space_dir DIR` writes) and on
your machine (`codecfake-eval app --model_name_or_path MODEL`). It needs gradio, transformers, torch, numpy,
soundfile, soxr and matplotlib, not codecfake-hf: the AASIST detectors bring their own code in their folder
or repo (`trust_remote_code=True`), and any other `AutoModelForAudioClassification` loads as usual.

What the page shows for a clip: the bona fide probability, the class probabilities, the source-tracing
prediction (codec, its family and CodecFake+ taxonomy) where the model has more classes than bona fide and
spoof, the spectrogram with the scored window, and notes on what was done to the clip (stereo averaged,
resampled, cut or repeated). A clip is scored as `codecfake-eval score` scores a dataset row: mono, at the
model's rate, the first window of the model's length (a shorter clip repeated to fill it).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
# Written beside this file by `codecfake-eval app --space_dir`: {"model": a Hub id, or `model` for the model folder
# copied beside it; "codecs": codec -> family and CodecFake+ taxonomy}.
SPACE_FILE = "space.json"
TRAINING_FILE = "codecfake_training.json"  # what `codecfake-eval finetune` recorded (its window, label column)
BONAFIDE_NAMES = ("bonafide", "genuine")  # the bona fide class: detection models, source tracers by codec
DEFAULT_SECONDS = 64_600 / 16_000  # CodecFake's window (4.0375 s), for models that record none
MAX_SECONDS = 600.0  # longer uploads are refused: cut them first
SILENCE_PEAK = 10 ** (-60 / 20)  # -60 dBFS: below this a clip holds no speech to judge


class ClipError(ValueError):
    """A clip the detector cannot judge; the message names the cause and what to do."""


@dataclass
class Verdict:
    """What the detector says about one clip.

    Args:
        bonafide (float | None): probability of the bona fide class; None where the model has none.
        probabilities (dict[str, float]): every class's probability.
        top (str): the most probable class.
        tracing (str | None): the source-tracing line (Markdown) where the model traces sources.
        notes (list[str]): what was done to the clip before scoring.
    """

    bonafide: float | None
    probabilities: dict[str, float]
    top: str
    tracing: str | None = None
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """The page's main line (Markdown)."""
        if self.bonafide is None:
            return f"Most probable class: **{self.top}** ({100 * self.probabilities[self.top]:.2f} %)"
        word = "bona fide" if self.bonafide >= 0.5 else "spoof (codec-resynthesised or synthetic)"
        return f"Bona fide probability: **{self.bonafide:.4f}** ({100 * self.bonafide:.2f} %): sounds {word}"


def read_clip(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """The samples [T] or [T, channels] (float32) and rate of an audio file.

    Raises:
        ClipError: no file, or one soundfile cannot read as audio.
    """
    import soundfile as sf

    if path is None or not Path(path).is_file():
        raise ClipError("No audio: upload a file or record a clip first.")
    try:
        info = sf.info(str(path))
        if info.frames > MAX_SECONDS * info.samplerate:
            raise ClipError(f"The clip is {info.frames / info.samplerate:.0f} s long; the limit is "
                            f"{MAX_SECONDS:.0f} s: cut it shorter (the detector scores its first seconds anyway).")
        wave, rate = sf.read(str(path), dtype="float32", always_2d=False)
    except (RuntimeError, sf.LibsndfileError) as error:
        raise ClipError(f"Cannot read {Path(path).name} as audio ({str(error).splitlines()[0]}): upload WAV, FLAC, "
                        "OGG or MP3.") from None
    return wave, int(rate)


def prepare(wave: np.ndarray, rate: int, target_rate: int) -> tuple[np.ndarray, list[str]]:
    """A clip as the model takes it: mono float32 at `target_rate`; returns it and notes on what was done.

    Raises:
        ClipError: an empty or silent clip.
    """
    notes = []
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim == 2:
        if wave.shape[1] > 1:
            notes.append(f"Stereo ({wave.shape[1]} channels): the channels were averaged to mono.")
        wave = wave.mean(axis=1)
    if wave.size == 0:
        raise ClipError("The clip is empty: upload or record a clip with speech.")
    peak = float(np.max(np.abs(wave)))
    if not math.isfinite(peak):
        raise ClipError("The clip holds NaN or infinite samples: upload a valid audio file.")
    if peak < SILENCE_PEAK:
        level = "-inf" if peak == 0 else f"{20 * math.log10(peak):.0f}"
        raise ClipError(f"The clip is silent (peak {level} dBFS): record or upload a clip with speech.")
    if rate != target_rate:
        import soxr

        wave = soxr.resample(wave, rate, target_rate, quality="VHQ").astype(np.float32)
        notes.append(f"Resampled from {rate} Hz to the model's {target_rate} Hz (soxr, very high quality).")
    return wave, notes


def first_window(wave: np.ndarray, length: int) -> np.ndarray:
    """The first `length` samples; a shorter clip repeated to fill them (as the ASVspoof baselines pad); `length`
    0 keeps the clip whole."""
    if length <= 0:
        return wave
    if wave.shape[0] < length:
        wave = np.tile(wave, int(np.ceil(length / wave.shape[0])))
    return wave[:length]


def space_settings() -> dict:
    """`space.json` beside this file ({} where there is none, as in a checkout)."""
    path = HERE / SPACE_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def space_model() -> str:
    """The Space's model: `CODECFAKE_MODEL` (a Space variable), else `space.json`'s; a relative folder is taken
    beside this file."""
    model = os.environ.get("CODECFAKE_MODEL") or space_settings().get("model", "")
    return str(HERE / model) if model and (HERE / model).is_dir() else model


def training_facts(model: str) -> dict:
    """The model's `codecfake_training.json` (its folder, or its Hub repo); {} where it has none."""
    path = Path(model) / TRAINING_FILE
    if not path.is_file():
        if Path(model).is_dir():  # a folder without the file: nothing to ask the Hub
            return {}
        try:
            from huggingface_hub import hf_hub_download

            path = Path(hf_hub_download(model, TRAINING_FILE))
        except Exception:  # not a Hub repo, no such file, or no network: the defaults hold
            return {}
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


class Detector:
    """A detector and its feature extractor, loaded once.

    Args:
        model (str): a Hub model id or a local folder (`AutoModelForAudioClassification`, any architecture).
        codecs (dict | None): codec name -> {"family", "quantizer", "auxiliary", "decoder"}, for the source-tracing
            line; None: `codecs.json` beside this file where there is one.
        device (str): `cpu` or `cuda`.
    """

    def __init__(self, model: str, codecs: dict | None = None, device: str = "cpu"):
        import torch
        from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

        self.name = model
        self.torch = torch
        self.device = device
        self.model = AutoModelForAudioClassification.from_pretrained(model, trust_remote_code=True).to(device).eval()
        self.extractor = AutoFeatureExtractor.from_pretrained(model, trust_remote_code=True)
        self.rate = int(self.extractor.sampling_rate)
        self.labels = [self.model.config.id2label[i] for i in range(self.model.config.num_labels)]
        facts = training_facts(model)
        window = getattr(self.extractor, "max_length", None)  # AASIST's extractor cuts its own window
        if isinstance(window, int) and window > 0:
            self.window = window
        else:
            self.window = round(float(facts.get("max_length_seconds") or DEFAULT_SECONDS) * self.rate)
        self.label_column = facts.get("label_column") or "label"
        self.codecs = space_settings().get("codecs", {}) if codecs is None else codecs

    @property
    def traces_sources(self) -> bool:
        """Whether the model has classes beyond bona fide and spoof (codecs or taxonomy values)."""
        return bool(set(self.labels) - {*BONAFIDE_NAMES, "spoof"})

    def judge(self, wave: np.ndarray, rate: int) -> tuple[Verdict, np.ndarray]:
        """The verdict on a clip (samples [T] or [T, channels] at `rate`), and the prepared mono clip."""
        wave, notes = prepare(wave, rate, self.rate)
        seconds = wave.shape[0] / self.rate
        window_seconds = self.window / self.rate
        if self.window and wave.shape[0] > self.window:
            notes.append(f"The clip is {seconds:.2f} s long: the detector scores its first {window_seconds:.2f} s, "
                         "the window it was trained and evaluated on.")
        elif self.window and wave.shape[0] < self.window:
            notes.append(f"The clip is {seconds:.2f} s long, shorter than the model's {window_seconds:.2f} s window: "
                         "it was repeated to fill it, as in training.")
        inputs = self.extractor(first_window(wave, self.window), sampling_rate=self.rate, return_tensors="pt")
        with self.torch.no_grad():
            logits = self.model(**{key: value.to(self.device) for key, value in inputs.items()}).logits[0]
        probabilities = self.torch.softmax(logits.double(), dim=-1).cpu().numpy()
        by_class = {label: float(p) for label, p in zip(self.labels, probabilities, strict=True)}
        bonafide = next((by_class[name] for name in BONAFIDE_NAMES if name in by_class), None)
        top = max(by_class, key=by_class.get)
        return Verdict(bonafide=bonafide, probabilities=by_class, top=top, tracing=self._tracing(by_class),
                       notes=notes), wave

    def _tracing(self, by_class: dict[str, float]) -> str | None:
        if not self.traces_sources:
            return None
        # the most probable source other than bona fide: what made the clip, if it is a fake
        sources = {label: p for label, p in by_class.items() if label not in BONAFIDE_NAMES}
        source = max(sources, key=sources.get)
        line = (f"Source tracing (`{self.label_column}`): most probable source **{source}** "
                f"({100 * sources[source]:.2f} %)")
        facts = self.codecs.get(source)
        if facts:
            line += (f": family `{facts['family']}`; CodecFake+ taxonomy: quantizer `{facts['quantizer']}`, "
                     f"auxiliary objective `{facts['auxiliary']}`, decoder domain `{facts['decoder']}`")
        return line + "."


def spectrogram(wave: np.ndarray, rate: int, window: int):
    """A matplotlib figure: the clip's log-magnitude spectrogram, the scored window shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(9, 3.2), dpi=100)
    shown = wave + 1e-9  # specgram takes the log of the power: no -inf for digital silence
    axis.specgram(shown, NFFT=512, Fs=rate, noverlap=384, cmap="magma", scale="dB")
    seconds = wave.shape[0] / rate
    if window:
        axis.axvspan(0, min(window, wave.shape[0]) / rate, color="white", alpha=0.12, lw=0)
        axis.axvline(min(window, wave.shape[0]) / rate, color="white", lw=1, ls="--")
    axis.set(xlim=(0, seconds), xlabel="time (s)", ylabel="frequency (Hz)",
             title=f"Spectrogram at {rate} Hz (shaded: the scored window)")
    figure.tight_layout()
    return figure


def build_demo(detector: Detector, title: str | None = None):
    """The Gradio Blocks of the app for `detector`."""
    import gradio as gr

    shown = Path(detector.name).name if Path(detector.name).exists() else detector.name
    title = title or f"CodecFake detector: {shown}"
    kind = ("tells bona fide speech from spoofs and traces their source" if detector.traces_sources
            else "tells bona fide speech from spoofs (codec-resynthesised or synthetic speech)")

    def run(path):
        try:
            wave, rate = read_clip(path)
            verdict, prepared = detector.judge(wave, rate)
        except ClipError as error:
            raise gr.Error(str(error)) from None
        tracing = verdict.tracing or "This model tells bona fide from spoof only: no source tracing."
        notes = "\n".join(f"- {note}" for note in verdict.notes) or "- Scored as uploaded."
        return (verdict.summary(), verdict.probabilities, tracing, notes,
                spectrogram(prepared, detector.rate, detector.window))

    with gr.Blocks(title=title) as demo:
        gr.Markdown(f"# {title}\n\nThe model `{detector.name}` {kind}. Upload or record speech, then press "
                    f"**Score**. The clip is scored at {detector.rate} Hz on its first "
                    f"{detector.window / detector.rate:.2f} s. A score is evidence, not proof: the detector has seen "
                    "only the codecs and speakers it was trained on.")
        with gr.Row():
            with gr.Column():
                audio = gr.Audio(sources=["upload", "microphone"], type="filepath", label="Speech", elem_id="audio")
                button = gr.Button("Score", variant="primary", elem_id="score")
            with gr.Column():
                verdict = gr.Markdown(elem_id="verdict")
                classes = gr.Label(label="Class probabilities", num_top_classes=5, elem_id="classes")
                tracing = gr.Markdown(elem_id="tracing")
                notes = gr.Markdown(elem_id="notes")
        plot = gr.Plot(label="Spectrogram", elem_id="spectrogram")
        button.click(run, inputs=audio, outputs=[verdict, classes, tracing, notes, plot])
    return demo


def launch(demo, **kwargs):
    """Serve the app; system fonts (no font downloads), no analytics."""
    import gradio as gr

    theme = gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"],
                              font_mono=["ui-monospace", "monospace"])
    return demo.launch(theme=theme, **kwargs)


if __name__ == "__main__":  # the Space
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    model = space_model()
    if not model:
        raise SystemExit(f"No model: set CODECFAKE_MODEL to a Hub model id, or name one in {SPACE_FILE} beside "
                         "this file (codecfake-eval app --space_dir writes it)")
    import torch

    launch(build_demo(Detector(model, device="cuda" if torch.cuda.is_available() else "cpu")))
