"""Export a scoring run as a submission to the Speech Anti-Spoofing Arena (Hub organisation
`SpeechAntiSpoofingBenchmarks`).

Usage:

    python -m eval export --results_dir runs/w2v2/test --output_dir runs/w2v2/arena \\
        --benchmark_dataset SpeechAntiSpoofingBenchmarks/ASVspoof2019_LA --dataset_revision <40-hex commit> \\
        --system_name "W2V2-AASIST (CodecFake)" --model_repo me/w2v2-codecfake

What the Arena asks for, as its dataset repositories' `submissions/README.md` said (schema v4, "pointer style",
read through the search tool; the Hub itself was not reachable from here, so the live template was not seen):

1. `scores.txt` in the submitter's own model repo under `.eval_results/<dataset org>/<dataset name>/scores.txt`:
   one line per utterance, `<utterance_id> <score>`, higher = more bona fide;
2. `submissions/<slug>.yaml`, opened as a pull request on the benchmark's dataset repo: `schema_version: 4`,
   `system` (name, slug, a structured `paper` block, code, checkpoint, description), `dataset` (id, pinned
   revision, split), `artifact.scores_url` (a URL pinned to the commit of the upload: `/resolve/main/` is refused
   by the Arena) and `artifact.scores_sha256`, an empty `reproduction` block the maintainers fill, `submitter`.

Not confirmed (only the v1 template was readable in full; v4 was described by its commit message): the field
names inside v4's `paper` block (written here as `title` and `url`), whether v4 keeps v1's `scores` block
(`eer_percent`, `n_trials`, `n_skipped`; written here) and `bench_version` (written as this package's version),
and the number format of a score (written with 6 decimals, as `scores.txt` of `python -m eval score`).
"""

from __future__ import annotations

import hashlib
import re
import sys
from datetime import date
from pathlib import Path

import yaml

from codecfake_hf import __version__
from codecfake_hf.files import write_text_atomic
from codecfake_hf.results import ScoreResults

from . import program_name
from .arguments import ARENA_ORGANISATION, ExportArguments
from .arguments import parser as command_parser
from .data import EvalArgumentError

SCHEMA_VERSION = 4
COMMIT = re.compile(r"^[0-9a-f]{40}$")




def slug_of(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "system"


def read_scores(path: Path) -> list[tuple[str, str, str, str]]:
    """The lines of a `python -m eval score` score file: (utterance, codec, key, score as written)."""
    if not path.is_file():
        raise EvalArgumentError(f"`--results_dir {path.parent}` has no {path.name}: give the output folder of "
                                "`python -m eval score`" + (" run with `--calibration_split`"
                                                            if "calibrated" in path.name else ""))
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        fields = line.split()
        if len(fields) != 4:
            raise EvalArgumentError(f"{path}:{number}: expected `utterance codec key score`, got {line!r}")
        rows.append(tuple(fields))
    return rows


def export(args: ExportArguments) -> dict[str, Path]:
    """Write the Arena's scores file and submission YAML; returns their paths."""
    results_dir = Path(args.results_dir)
    results = ScoreResults.load(results_dir / "results.json")
    dataset_id = args.benchmark_dataset or results.dataset
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", dataset_id) or Path(dataset_id).exists():
        raise EvalArgumentError(f"`--benchmark_dataset {dataset_id}` is not a Hub dataset id; name the Arena's "
                                f"dataset, e.g. `{ARENA_ORGANISATION}/ASVspoof2019_LA`")
    revision = args.dataset_revision or results.dataset_revision
    if not revision or not COMMIT.fullmatch(revision):
        raise EvalArgumentError(f"`--dataset_revision {revision}`: a submission pins the dataset's commit (40 hex "
                                "digits, as `huggingface-cli` or the dataset page shows it), not a branch")
    if args.scores_commit is not None and not COMMIT.fullmatch(args.scores_commit):
        raise EvalArgumentError(f"`--scores_commit {args.scores_commit}`: give the 40-hex commit the upload of "
                                "scores.txt printed (the Arena refuses `/resolve/main/` URLs)")
    rows = read_scores(results_dir / ("scores_calibrated.txt" if args.calibrated else "scores.txt"))
    text = "".join(f"{utterance} {score}\n" for utterance, _, _, score in rows)
    relative = Path(".eval_results") / dataset_id / "scores.txt"
    out = Path(args.output_dir)
    scores_path = write_text_atomic(out / relative, text)
    digest = hashlib.sha256(text.encode()).hexdigest()
    slug = args.system_slug or slug_of(args.system_name)
    scores_url = (f"https://huggingface.co/{args.model_repo}/resolve/{args.scores_commit}/{relative.as_posix()}"
                  if args.model_repo and args.scores_commit else None)
    submission = {
        "schema_version": SCHEMA_VERSION,
        "system": {"name": args.system_name, "slug": slug,
                   "paper": {"title": args.paper_title, "url": args.paper_url},
                   "code": args.code_url, "checkpoint": args.checkpoint or args.model_repo,
                   "description": args.description or f"codecfake-hf model {results.model}"},
        "dataset": {"id": dataset_id, "revision": revision, "split": results.split},
        "scores": {"eer_percent": None if results.pooled is None else round(100 * results.pooled.eer, 4),
                   "n_trials": len(rows), "n_skipped": 0},
        "artifact": {"scores_url": scores_url, "scores_sha256": digest,
                     "bench_version": f"codecfake-hf=={__version__}"},
        "reproduction": {},
        "submitter": {"hf_username": args.hf_username, "contact": args.contact},
        "submitted_at": date.today().isoformat(),
        "notes": args.description,
    }
    yaml_path = write_text_atomic(out / "submissions" / f"{slug}.yaml",
                                  yaml.safe_dump(submission, sort_keys=False, allow_unicode=True))
    steps = [f"wrote {scores_path} (sha256 {digest}) and {yaml_path}"]
    if scores_url is None:
        steps.append(f"next: upload {relative.as_posix()} to your model repo (`huggingface-cli upload "
                     f"{args.model_repo or 'OWNER/MODEL'} {scores_path} {relative.as_posix()}`), then rerun with "
                     "`--model_repo` and `--scores_commit <the commit it prints>` to pin `artifact.scores_url`")
    steps.append(f"then open the pull request: `huggingface-cli upload {dataset_id} {yaml_path} "
                 f"submissions/{slug}.yaml --repo-type=dataset --create-pr`")
    print("\n".join(steps))
    return {"scores": scores_path, "submission": yaml_path}


def main(argv: list[str] | None = None) -> dict[str, Path]:
    parser = command_parser("export", program_name())
    (args,) = parser.parse_args_into_dataclasses(args=sys.argv[1:] if argv is None else argv)
    return export(args)
