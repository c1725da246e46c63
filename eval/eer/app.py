"""The Hub Space of the metric (evaluate's standard widget), used when eval/eer is pushed as a metric repo."""

import evaluate
from evaluate.utils import launch_gradio_widget

module = evaluate.load("eer")
launch_gradio_widget(module)
