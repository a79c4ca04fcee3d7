"""Run inside `unshare --mount` by test_run_store.py: make the workspace a read-only bind mount
(a real EROFS that even root cannot write through) and try to start a run in it.

Prints the error code start_run raised as JSON. The mount exists only in this process's private
mount namespace and disappears with it, so a failed test leaves nothing mounted behind.
"""

import json
import subprocess
import sys
from pathlib import Path

from mlworkbench.errors import MlWorkbenchError
from mlworkbench.launch.launcher import start_run

workspace, script = Path(sys.argv[1]), Path(sys.argv[2])
subprocess.run(["mount", "--make-rprivate", "/"], check=True)
subprocess.run(["mount", "--bind", str(workspace), str(workspace)], check=True)
subprocess.run(["mount", "-o", "remount,bind,ro", str(workspace)], check=True)
try:
    (workspace / "probe").write_text("x")
except OSError as error:
    print(f"# the workspace is read-only: {error}", file=sys.stderr)
else:
    print(json.dumps({"code": "MOUNT_NOT_READ_ONLY"}))
    sys.exit(1)
try:
    start_run(script, workspace=workspace)
except MlWorkbenchError as error:
    print(json.dumps({"code": error.code, "message": error.message}))
    sys.exit(0)
print(json.dumps({"code": None}))
sys.exit(1)
