"""``python -m sg_lava`` is ``sg-lava`` (what ``torchrun -m sg_lava train ...`` starts)."""

import sys

from sg_lava.cli import main

if __name__ == "__main__":
    sys.exit(main())
