#!/usr/bin/env python
"""Echo-location (the paper's task): train online, export, run on Lava, verify.

An emitter channel pulses once; four receivers hear its echo after a delay proportional
to the distance, attenuated with distance, with timing jitter and background noise
spikes. The network classifies the distance into four bins. Runs on a laptop CPU:

    python deploy_examples/echo_location.py --out runs/echo [--epochs 20] [--n-train 2000]
"""

import sys

from sg_lava.cli.examples import synthetic_main

if __name__ == "__main__":
    sys.exit(synthetic_main("echo", "Echo-location on Lava", __doc__))
