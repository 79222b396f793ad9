"""``python -m sg_lava.convert ...``: the same as ``sg-lava convert ...`` (an entry point)."""

import sys

from sg_lava.cli import main

if __name__ == "__main__":
    sys.exit(main(["convert", *sys.argv[1:]]))
