"""``autograd-bp serve``: a local playground in the browser, and the same step-through as a
Jupyter widget (:class:`autograd_bp.serve.widget.GraphWidget`). The server needs the
``serve`` extra (``pip install 'autograd_bp[serve]'``); :mod:`.data` needs nothing more
than the package itself."""

from pathlib import Path

STATIC = Path(__file__).parent / "static"
STEPPER_JS = STATIC / "stepper.js"  # the one step-through component: page and widget
