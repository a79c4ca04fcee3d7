// A run's note (MLflow's `mlflow.note.content`, the MLflow UI's run description) opened as a
// Markdown document: several lines, the editor's undo and preview, Ctrl+S writes it back through
// the server. The file system reads and writes only through the server's requests, so a note is
// never written to the store but by MLflow's client, and never in Restricted Mode.
import * as vscode from "vscode";
import { ErrorCodes, RunDetails } from "../protocol";
import { ensureTrusted } from "../scripts/trust";
import { NOTE_SCHEME, notePath, runIdOfNotePath } from "./runNotePath";

/** What the notes need of the server: a run's details, and setting its note. */
export interface NoteStore {
  details(runId: string): Promise<RunDetails>;
  setNote(runId: string, text: string): Promise<RunDetails>;
}

/** The text seen last for a run's note, and the time it was first seen so. */
interface Seen {
  text: string;
  mtime: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function noteUri(runId: string, runName: string): vscode.Uri {
  return vscode.Uri.from({ scheme: NOTE_SCHEME, path: notePath(runId, runName) });
}

export class RunNotesFileSystem implements vscode.FileSystemProvider {
  private readonly changes = new vscode.EventEmitter<vscode.FileChangeEvent[]>();
  readonly onDidChangeFile = this.changes.event;
  private readonly seen = new Map<string, Seen>();

  constructor(private readonly store: NoteStore) {}

  static register(store: NoteStore): vscode.Disposable {
    const notes = new RunNotesFileSystem(store);
    return vscode.Disposable.from(
      notes.changes,
      vscode.workspace.registerFileSystemProvider(NOTE_SCHEME, notes, { isCaseSensitive: true }),
    );
  }

  watch(): vscode.Disposable {
    return new vscode.Disposable(() => undefined);
  }

  async stat(uri: vscode.Uri): Promise<vscode.FileStat> {
    const note = await this.current(uri);
    return { type: vscode.FileType.File, ctime: 0, mtime: note.mtime, size: encoder.encode(note.text).byteLength };
  }

  async readFile(uri: vscode.Uri): Promise<Uint8Array> {
    return encoder.encode((await this.current(uri)).text);
  }

  async writeFile(uri: vscode.Uri, content: Uint8Array): Promise<void> {
    const runId = this.runId(uri);
    if (!(await ensureTrusted("edit run notes"))) {
      throw vscode.FileSystemError.NoPermissions("Restricted Mode: trust this workspace to edit run notes.");
    }
    const text = decoder.decode(content);
    const details = await this.ask(uri, () => this.store.setNote(runId, text));
    this.remember(runId, details.note ?? "");
    this.changes.fire([{ type: vscode.FileChangeType.Changed, uri }]);
  }

  readDirectory(): [string, vscode.FileType][] {
    return [];
  }

  createDirectory(uri: vscode.Uri): void {
    throw vscode.FileSystemError.NoPermissions(uri);
  }

  delete(uri: vscode.Uri): void {
    throw vscode.FileSystemError.NoPermissions(uri);
  }

  rename(uri: vscode.Uri): void {
    throw vscode.FileSystemError.NoPermissions(uri);
  }

  private runId(uri: vscode.Uri): string {
    const runId = runIdOfNotePath(uri.path);
    if (!runId) {
      throw vscode.FileSystemError.FileNotFound(uri);
    }
    return runId;
  }

  /**
   * The note as the store has it now. Its mtime moves only when the text does, so saving over a
   * note changed elsewhere since it was opened (the CLI, the MLflow UI) shows the editor's
   * "newer on disk" compare instead of silently overwriting it.
   */
  private async current(uri: vscode.Uri): Promise<Seen> {
    const runId = this.runId(uri);
    const details = await this.ask(uri, () => this.store.details(runId));
    return this.remember(runId, details.note ?? "");
  }

  private remember(runId: string, text: string): Seen {
    const before = this.seen.get(runId);
    if (before?.text === text) {
      return before;
    }
    const now: Seen = { text, mtime: Math.max(Date.now(), (before?.mtime ?? 0) + 1) };
    this.seen.set(runId, now);
    return now;
  }

  /** A server call, its "no such run" answer turned into the file system's own error. */
  private async ask<T>(uri: vscode.Uri, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      const { code, message } = (error ?? {}) as { code?: number; message?: string };
      if (code === ErrorCodes.RUN_NOT_FOUND) {
        throw vscode.FileSystemError.FileNotFound(uri);
      }
      throw vscode.FileSystemError.Unavailable(message ?? String(error));
    }
  }
}
