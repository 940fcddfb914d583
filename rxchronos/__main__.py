"""``python -m rxchronos``: the ``rxchronos`` command, for when its script is not on the PATH.

Example:
    >>> import subprocess, sys
    >>> subprocess.run([sys.executable, "-m", "rxchronos", "--version"],
    ...                capture_output=True, text=True).stdout.startswith("rxchronos ")
    True
"""

from __future__ import annotations

from rxchronos.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
