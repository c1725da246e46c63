"""The Hub Space of the metric (evaluate's standard widget), used when eval/eer is pushed as a metric repo."""

from pathlib import Path

import evaluate
from evaluate.utils import launch_gradio_widget

# The eer.py beside this file: a bare "eer" is looked for as eer/eer.py, then as the Hub's evaluate-metric/eer.
module = evaluate.load(str(Path(__file__).with_name("eer.py")))
launch_gradio_widget(module)
