"""The evaluation package of codecfake-hf: `python -m eval {finetune,score,protocol,card}` from a checkout.

Fine-tunes `transformers` audio classifiers on a CodecFake dataset with `Trainer`, scores them per codec
(EER, minDCF, DET curves), runs the paper's protocols and writes model cards with EER in `model-index`.
The `evaluate` metric module lives in `eval/eer/` (`evaluate.load("eval/eer")`).
"""

import sys
from pathlib import Path


def program_name() -> str:
    """How the user called us, for usage lines: the console script `codecfake-eval`, or `python -m eval` (in a
    checkout; `python -m codecfake_hf.eval` where it is installed)."""
    return "codecfake-eval" if Path(sys.argv[0]).name == "codecfake-eval" else f"python -m {__name__}"
