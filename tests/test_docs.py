"""The repository documents itself: the README points at docs/ARCHITECTURE.md, not outside the repository."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_points_to_the_architecture_map_inside_the_repository():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/ARCHITECTURE.md" in readme and "../shared" not in readme
    architecture = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    for section in ("## Layers", "## Data flow", "## Contracts", "## Where each kind of change goes",
                    "## Repetitions that stay, and why"):
        assert section in architecture
    # The modules it names as contracts exist.
    for module in ("schema.py", "results.py", "files.py", "hub.py", "modelcard.py", "resynth.py"):
        assert (ROOT / "codecfake_hf" / module).is_file(), module
    for module in ("request.py", "build.py", "dataset.py", "release.py", "plan.py"):
        assert (ROOT / "builder" / module).is_file(), module
