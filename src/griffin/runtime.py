"""``python -m griffin.runtime --job ID``: the entry point of every training job's process.

See :mod:`griffin.training.runner` for what it does.
"""

from __future__ import annotations

import os
import sys

from griffin.training.runner import main

if __name__ == "__main__":
    code = main()  # the client is closed by now: runs ended, metrics and reports sent
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip the interpreter's teardown (about 0.4 s with pandas, pyarrow and an ML library
    # loaded): nothing is left to write, and the job's end is recorded sooner.
    os._exit(code)
