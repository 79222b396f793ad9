#!/usr/bin/env python
"""Coincidence detection (interaural time difference): train online, export, run on Lava, verify.

A random spike train reaches the left channel and, shifted by an ITD, the right one; the
network says which of five ITDs aligns them, as a sound-localisation circuit would:

    python deploy_examples/coincidence_detection.py --out runs/coincidence [--epochs 20]
"""

import sys

from sg_lava.cli.examples import synthetic_main

if __name__ == "__main__":
    sys.exit(synthetic_main("coincidence", "Coincidence detection (ITD) on Lava", __doc__))
