"""``python -m pybuf``: the command line (see ``python -m pybuf --help``)."""
import sys

from pybuf.cli import main

sys.exit(main())
