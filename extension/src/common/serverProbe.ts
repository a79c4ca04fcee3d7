// Asks an interpreter, before the language client starts, whether it can run the server. Without
// this, a missing interpreter or an old Python only shows as a client that never becomes ready.
import { execFile } from "child_process";
import * as path from "path";
import { ExitCodes } from "../protocol";

export interface ProbeResult {
  ok: boolean;
  python?: string;
  executable?: string;
  inVenv?: boolean;
  /** What went wrong, in words a user can act on. */
  message?: string;
  /** Which fix to offer. */
  fix?: "select-interpreter" | "setup-environment" | "show-log";
}

export function launcherPath(extensionPath: string): string {
  return path.join(extensionPath, "extension", "tool", "launch_server.py");
}

interface CheckOutput {
  ok: boolean;
  python?: string;
  executable?: string;
  in_venv?: boolean;
  message?: string | null;
}

export function probeInterpreter(
  extensionPath: string,
  python: string,
  extraEnv: Record<string, string> = {},
): Promise<ProbeResult> {
  return new Promise((resolve) => {
    execFile(
      python,
      [launcherPath(extensionPath), "--check"],
      { timeout: 20_000, windowsHide: true, env: { ...process.env, ...extraEnv } },
      (error, stdout, stderr) => {
        // execFile puts a spawn failure's errno name, or the exit status, in error.code.
        const code = (error as { code?: unknown } | null)?.code;
        if (code === "ENOENT") {
          resolve({
            ok: false,
            message: `Python interpreter not found: ${python}. Select an interpreter or set mlWorkbench.python.`,
            fix: "select-interpreter",
          });
          return;
        }
        if (code === "EACCES") {
          resolve({ ok: false, message: `${python} is not executable.`, fix: "select-interpreter" });
          return;
        }
        let parsed: CheckOutput | undefined;
        try {
          parsed = JSON.parse(stdout.trim().split("\n").pop() ?? "") as CheckOutput;
        } catch {
          parsed = undefined;
        }
        if (parsed?.ok) {
          resolve({ ok: true, python: parsed.python, executable: parsed.executable, inVenv: parsed.in_venv });
          return;
        }
        const exitCode = typeof code === "number" ? code : error ? -1 : 0;
        const message =
          parsed?.message ??
          `${python} could not start the ML Workbench server (exit ${exitCode}): ${lastLine(stderr) ?? "no output"}`;
        resolve({
          ok: false,
          python: parsed?.python,
          message,
          fix:
            exitCode === ExitCodes.PYTHON_TOO_OLD
              ? "select-interpreter"
              : exitCode === ExitCodes.MISSING_DEPENDENCY
                ? "setup-environment"
                : "show-log",
        });
      },
    );
  });
}

function lastLine(text: string): string | undefined {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean)
    .pop();
}
