"""``python -m griffin.runtime --job ID``: the entry point of every training job's process.

See :mod:`griffin.training.runner` for what it does, and :mod:`griffin.launcher.prestart` for
``--prestarted`` (an interpreter started ahead of its job).
"""

from __future__ import annotations

import os
import sys

from griffin.training.runner import main

if __name__ == "__main__":
    if sys.argv[1:2] == ["--prestarted"]:  # started ahead by the local launcher
        from griffin.launcher.prestart import serve

        code = serve(sys.argv[2] if len(sys.argv) > 2 else "")
    else:
        code = main()
    # The client is closed by now: runs ended, metrics and reports sent.
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip the interpreter's teardown (about 0.4 s with pandas, pyarrow and an ML library
    # loaded): nothing is left to write, and the job's end is recorded sooner.
    os._exit(code)
