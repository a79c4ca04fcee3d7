"""Starts the ML Workbench server with the libraries bundled in the extension.

Written for any Python 3 so that a too-old interpreter reaches the version check in
mlworkbench_server.__main__ (which prints a clear message) instead of a SyntaxError here.
The bundled folder goes first on sys.path so an older pygls in the user's environment cannot
shadow the one the server was tested with.
"""
import os
import sys

BUNDLED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bundled", "libs")
sys.path.insert(0, BUNDLED)

if sys.version_info < (3, 10):
    MESSAGE = "ML Workbench needs Python 3.10 or newer; %s is %d.%d. Select another interpreter." % (
        sys.executable,
        sys.version_info[0],
        sys.version_info[1],
    )
    if "--check" in sys.argv:
        import json

        print(json.dumps({"ok": False, "python": "%d.%d.%d" % sys.version_info[:3],
                          "executable": sys.executable, "message": MESSAGE}))
    else:
        sys.stderr.write(MESSAGE + "\n")
    sys.exit(3)

from mlworkbench_server.__main__ import main  # noqa: E402

sys.exit(main())
