"""Runs the `mlworkbench` CLI from the libraries bundled in the extension.

The extension uses it for `doctor` before mlworkbench is installed in the user's environment;
the doctor is told to ignore the bundled folder so it reports the user's packages only.
"""
import os
import sys

BUNDLED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bundled", "libs")
sys.path.insert(0, BUNDLED)

if sys.version_info < (3, 10):
    sys.stderr.write("ML Workbench needs Python 3.10 or newer; %s is too old.\n" % sys.executable)
    sys.exit(3)

from mlworkbench.cli import main  # noqa: E402

sys.exit(main())
