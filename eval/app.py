"""Try a detector in the browser: serve its Gradio app here, or write (and push) a Hugging Face Space of it.

Usage:

    python -m eval app --model_name_or_path runs/aasist-l                      # http://127.0.0.1:7860
    python -m eval app --model_name_or_path runs/aasist-l --space_dir space/   # a Space folder
    python -m eval app --model_name_or_path ORG/aasist-l --space_dir space/ --push_to_hub --hub_space_id ORG/demo

The app itself is `eval/space/app.py`, which the Space runs as it is: it imports gradio, transformers, torch,
numpy, soundfile, soxr and matplotlib, not codecfake-hf (AASIST models bring their own code, `auto_map`). The
Space folder holds that file, `requirements.txt`, a Space card (`README.md`), `space.json` (the model and the
codec registry's family and taxonomy of each codec, for the source-tracing line) and, for a local model folder,
a copy of its files as `model/`. Needs `pip install 'codecfake-hf[app]'` (gradio) to serve.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path
from types import ModuleType

from codecfake_hf import hub
from codecfake_hf.files import atomic_files

from . import program_name
from .arguments import AppArguments
from .arguments import parser as command_parser
from .data import EvalArgumentError

SPACE_TEMPLATE = Path(__file__).resolve().parent / "space"
# What the Space installs beside the gradio of its `sdk_version` (the project's lower bounds; no codecfake-hf).
SPACE_REQUIREMENTS = ["transformers>=5.0", "torch>=2.4", "numpy>=1.26", "soundfile>=0.12", "soxr>=0.3.7",
                      "matplotlib>=3.8"]
GRADIO_VERSION = "6.31.0"  # the Space's sdk_version where gradio is not installed here (constraints.txt's pin)
# A model folder's files that stay out of the Space (Trainer state, checkpoints, the card: the Space has its own).
MODEL_SKIP = ("checkpoint-*", "runs", "training_args.bin", "trainer_state.json", "README.md", "*.tmp", ".*")


def space_app() -> ModuleType:
    """`eval/space/app.py` as a module (it is a Space's top-level script, not a part of this package)."""
    spec = importlib.util.spec_from_file_location("codecfake_space_app", SPACE_TEMPLATE / "app.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


def codec_taxonomy() -> dict[str, dict[str, str]]:
    """codec name -> its family and CodecFake+ taxonomy, from the registry (the source-tracing line's facts)."""
    from codecfake_hf.codecs import registry

    return {name: {key: getattr(registry.spec(name), key) for key in ("family", "quantizer", "auxiliary", "decoder")}
            for name in registry.names()}


def load_detector(args: AppArguments, app: ModuleType):
    """The app's `Detector` for `--model_name_or_path`; a model that cannot be loaded is one EvalArgumentError."""
    device = args.device
    if device is None:
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        return app.Detector(args.model_name_or_path, codecs=codec_taxonomy(), device=device)
    except (OSError, ValueError, KeyError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise EvalArgumentError(f"`--model_name_or_path {args.model_name_or_path}` cannot be loaded as an audio "
                                f"classifier with its feature extractor: {first}") from None


def write_space(args: AppArguments) -> Path:
    """The Space folder of `--model_name_or_path` in `--space_dir`; returns it. Each file is written whole."""
    from huggingface_hub import SpaceCard, SpaceCardData

    model = Path(args.model_name_or_path)
    local = model.is_dir()
    if not local and (model.exists() or model.is_absolute() or str(model).startswith((".", "~"))):
        raise EvalArgumentError(f"`--model_name_or_path {args.model_name_or_path}` is neither a model folder nor a "
                                "Hub model id")
    if local and not (model / "config.json").is_file():
        raise EvalArgumentError(f"`--model_name_or_path {model}` has no config.json: pass a folder that "
                                "`finetune` or `convert-aasist` wrote")
    try:
        import gradio

        sdk_version = gradio.__version__
    except ImportError:
        sdk_version = GRADIO_VERSION
    name = model.resolve().name if local else args.model_name_or_path
    card = SpaceCard.from_template(
        SpaceCardData(title=f"CodecFake detector {Path(name).name}"[:60], emoji="🎙️", colorFrom="indigo",
                      colorTo="gray", sdk="gradio", sdk_version=sdk_version, app_file="app.py", pinned=False,
                      license="apache-2.0", models=None if local else [args.model_name_or_path],
                      tags=["codecfake", "anti-spoofing", "audio-deepfake-detection", "audio-classification"]),
        template_str="---\n{{ card_data }}\n---\n\n{{ text }}\n",
        text=(f"# CodecFake detector: {name}\n\nUpload or record speech and see the bona fide probability that the "
              f"detector `{name}` gives it, the source it traces (where the model has more classes than bona fide "
              "and spoof), and the spectrogram. Written by codecfake-hf's `codecfake-eval app --space_dir`; the app "
              "(`app.py`) is codecfake-hf's, Apache-2.0; the model keeps its own licence"
              + (" (see `model/`)." if local else f" (see [{name}](https://huggingface.co/{name}))."))
    )
    space = Path(args.space_dir)
    if space.exists() and not space.is_dir():
        raise EvalArgumentError(f"`--space_dir {space}` is a file, not a folder")
    with atomic_files(space) as staging:
        shutil.copy2(SPACE_TEMPLATE / "app.py", staging / "app.py")
        (staging / "requirements.txt").write_text("\n".join(SPACE_REQUIREMENTS) + "\n")
        (staging / "README.md").write_text(str(card))
        settings = {"model": "model" if local else args.model_name_or_path, "codecs": codec_taxonomy()}
        (staging / "space.json").write_text(json.dumps(settings, indent=2) + "\n")
        if local:
            shutil.copytree(model, staging / "model", ignore=shutil.ignore_patterns(*MODEL_SKIP))
    print(f"wrote the Space folder {space} (model {'model/' if local else args.model_name_or_path})")
    return space


def main(argv: list[str] | None = None):
    parser = command_parser("app", program_name())
    (args,) = parser.parse_args_into_dataclasses(args=sys.argv[1:] if argv is None else argv)
    if args.push_to_hub and not args.space_dir:
        raise EvalArgumentError("`--push_to_hub` uploads the Space folder: give `--space_dir FOLDER` too")
    if args.space_dir:
        space = write_space(args)
        if args.push_to_hub:
            repo_id = args.hub_space_id or space.resolve().name
            url = hub.push(space, repo_id, repo_type="space", token=args.hub_token, private=args.hub_private_repo,
                           commit_message="Upload CodecFake detector Space")
            print(f"pushed {space} to {url}")
        return space
    try:
        import gradio  # noqa: F401
    except ImportError:
        raise EvalArgumentError("serving the app needs gradio, which is not installed: "
                                "`pip install 'codecfake-hf[app]'` (or write a Space with `--space_dir`)") from None
    app = space_app()
    detector = load_detector(args, app)
    print(f"serving {args.model_name_or_path} on http://{args.server_name}:{args.server_port} (Ctrl+C stops it)")
    app.launch(app.build_demo(detector), server_name=args.server_name, server_port=args.server_port, ssr_mode=False)
    return None
