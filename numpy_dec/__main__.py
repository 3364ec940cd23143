"""``python -m numpy_dec``: see ``numpy_dec.cli``."""

import sys

from numpy_dec.cli import main

sys.exit(main())
