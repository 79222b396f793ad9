#!/usr/bin/env python
"""Delay detection (the paper's synthetic task): train online, export, run on Lava, verify.

Two input channels carry one event each; the network says whether B follows A by the
target delay, by another delay, or comes first. Runs anywhere in about two minutes:

    python deploy_examples/delay_detection.py --out runs/delay [--epochs 20] [--per-synapse]
"""

import sys

from sg_lava.cli.examples import synthetic_main

if __name__ == "__main__":
    sys.exit(synthetic_main("delay", "Delay detection on Lava", __doc__))
