// Builds a run's image through the server's buildImage, the way a long job should look: a
// cancellable progress notification (cancel sent as cancelBuild for the job's id), each
// deployLog line appended to the Deploy output channel and the latest one as the progress
// message. Failures are the caller's to show (deployFailures.ts).
import { randomUUID } from "crypto";
import * as vscode from "vscode";
import type { LanguageClient } from "vscode-languageclient/node";
import { traceError } from "../common/log";
import { request, type WorkspaceClient } from "../common/requests";
import { type BuildImageParams, type BuildImageResult, type DeployLogParams, Notifications, Requests } from "../protocol";
import type { DeployLog } from "./deployLog";

/** A buildImage request without the parts this module fills in. */
export type BuildRequest = Omit<BuildImageParams, "workspaceUri" | "jobId">;

const PROGRESS_MESSAGE_CHARS = 100;

export class ImageBuilds implements vscode.Disposable {
  /** Job id -> where its log lines go. */
  private readonly listeners = new Map<string, (line: string) => void>();

  constructor(private readonly log: DeployLog) {}

  /** Listens to a (new) language client's deployLog notifications. */
  attach(client: LanguageClient): vscode.Disposable {
    return client.onNotification(Notifications.DEPLOY_LOG, (params: DeployLogParams) => {
      if (typeof params?.jobId === "string" && typeof params.line === "string") {
        this.listeners.get(params.jobId)?.(params.line);
      }
    });
  }

  /** Builds the image; resolves to undefined when the user cancelled, rejects when it failed. */
  build(target: WorkspaceClient, params: BuildRequest): Promise<BuildImageResult | undefined> {
    const title = `Building ${params.tag}${params.smokeTest ? " and testing the container" : ""}`;
    this.log.begin(title);
    return Promise.resolve(
      vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `ML Workbench: ${title}`, cancellable: true },
        (progress, token) => this.run(target, params, progress, token),
      ),
    );
  }

  private async run(
    target: WorkspaceClient,
    params: BuildRequest,
    progress: vscode.Progress<{ message?: string }>,
    token: vscode.CancellationToken,
  ): Promise<BuildImageResult | undefined> {
    const jobId = randomUUID();
    this.listeners.set(jobId, (line) => {
      this.log.line(line);
      const text = line.trim();
      if (text) {
        progress.report({ message: text.length > PROGRESS_MESSAGE_CHARS ? `${text.slice(0, PROGRESS_MESSAGE_CHARS - 1)}\u2026` : text });
      }
    });
    const cancel = token.onCancellationRequested(() => {
      this.log.line("Cancelling the build\u2026");
      // The server stops the build's process; the request then fails with its own error.
      void request(target.client, Requests.CANCEL_BUILD, { jobId }).then(undefined, (error: unknown) =>
        traceError(`Deploy: could not cancel build ${jobId}`, error),
      );
    });
    try {
      const result = await request(target.client, Requests.BUILD_IMAGE, { ...params, workspaceUri: target.workspaceUri, jobId });
      return token.isCancellationRequested ? undefined : result;
    } catch (error) {
      if (token.isCancellationRequested) {
        this.log.line("Build cancelled.");
        return undefined;
      }
      throw error;
    } finally {
      cancel.dispose();
      this.listeners.delete(jobId);
    }
  }

  dispose(): void {
    this.listeners.clear();
  }
}
