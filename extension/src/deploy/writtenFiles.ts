// Writes files through a deploy request that refuses to overwrite (OUTPUT_EXISTS): asks the user
// whether to overwrite and sends it again with force, then opens the file that matters.
import * as vscode from "vscode";
import type { WrittenFiles } from "../protocol";
import { existingPath, isOutputExists } from "./deployErrors";

/** The written files, or undefined when the user kept the existing ones. Other errors reject. */
export async function writeAsking(what: string, send: (force: boolean) => Promise<WrittenFiles>): Promise<WrittenFiles | undefined> {
  try {
    return await send(false);
  } catch (error) {
    if (!isOutputExists(error)) {
      throw error;
    }
    const existing = existingPath(error);
    const where = existing ? vscode.workspace.asRelativePath(existing, false) : undefined;
    const choice = await vscode.window.showWarningMessage(
      `${what} already exist${where ? ` (${where})` : ""}. Overwrite?`,
      { modal: true, detail: "Overwriting replaces the files with newly generated ones; any edits to them are lost." },
      "Overwrite",
    );
    return choice === "Overwrite" ? send(true) : undefined;
  }
}

export async function openWritten(file: string | undefined): Promise<void> {
  if (file) {
    await vscode.window.showTextDocument(vscode.Uri.file(file), { preview: false });
  }
}
