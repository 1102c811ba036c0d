"""``python -m griffin.runtime --job ID``: the entry point of every training job's process.

See :mod:`griffin.training.runner` for what it does.
"""

from __future__ import annotations

import sys

from griffin.training.runner import main

if __name__ == "__main__":
    sys.exit(main())
