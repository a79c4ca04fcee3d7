// Makes a report through the server's createReport, the way a long job should look: a
// cancellable progress notification whose message follows the server's reportProgress
// notifications (the steps the CLI announces), cancel sent as cancelReport for the job's id,
// and the failure shown with the server's message and the fix its code calls for.
import { randomUUID } from "crypto";
import * as vscode from "vscode";
import type { LanguageClient } from "vscode-languageclient/node";
import { traceError } from "../common/log";
import { request, type WorkspaceClient } from "../common/requests";
import { Commands, type CreateReportParams, type CreateReportResult, Notifications, type ReportProgressParams, Requests } from "../protocol";
import { isCancellation, reportFailure, withColumn } from "./reportErrors";
import { askBounds } from "./reportWizard";

/** A createReport request without the parts this module fills in. */
export type ReportRequest = Omit<CreateReportParams, "workspaceUri" | "jobId">;

export class ReportJobs implements vscode.Disposable {
  /** Job id -> where its progress messages go. */
  private readonly listeners = new Map<string, (message: string) => void>();

  /** Listens to a (new) language client's progress notifications. */
  attach(client: LanguageClient): vscode.Disposable {
    return client.onNotification(Notifications.REPORT_PROGRESS, (params: ReportProgressParams) => {
      if (typeof params?.jobId === "string" && typeof params.message === "string") {
        this.listeners.get(params.jobId)?.(params.message);
      }
    });
  }

  /**
   * Makes the report, showing its progress; resolves to the result, or undefined when the
   * user cancelled or it failed (the failure shown, with its fix; a fix that makes the report
   * again resolves to that one's result).
   */
  async create(target: WorkspaceClient, params: ReportRequest, title: string): Promise<CreateReportResult | undefined> {
    let result: CreateReportResult | undefined;
    try {
      result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `ML Workbench: ${title}`, cancellable: true },
        (progress, token) => this.run(target, params, progress, token),
      );
    } catch (error) {
      if (isCancellation(error)) {
        return undefined;
      }
      return this.failed(target, params, title, error);
    }
    return result;
  }

  private async run(
    target: WorkspaceClient,
    params: ReportRequest,
    progress: vscode.Progress<{ message?: string }>,
    token: vscode.CancellationToken,
  ): Promise<CreateReportResult | undefined> {
    const jobId = randomUUID();
    this.listeners.set(jobId, (message) => progress.report({ message }));
    const cancel = token.onCancellationRequested(() => {
      // The server kills the report's process; the request then fails with its own error.
      void request(target.client, Requests.CANCEL_REPORT, { jobId }).then(undefined, (error: unknown) =>
        traceError(`Reports: could not cancel job ${jobId}`, error),
      );
    });
    try {
      const result = await request(target.client, Requests.CREATE_REPORT, { ...params, workspaceUri: target.workspaceUri, jobId });
      return token.isCancellationRequested ? undefined : result;
    } catch (error) {
      if (token.isCancellationRequested) {
        return undefined;
      }
      throw error;
    } finally {
      cancel.dispose();
      this.listeners.delete(jobId);
    }
  }

  private async failed(target: WorkspaceClient, params: ReportRequest, title: string, error: unknown): Promise<CreateReportResult | undefined> {
    traceError(`Reports: ${title} failed`, error);
    const failure = reportFailure(error);
    const picked = await vscode.window.showErrorMessage(`ML Workbench: ${failure.message}`, ...failure.fixes.map((fix) => fix.label));
    const fix = failure.fixes.find((candidate) => candidate.label === picked);
    switch (fix?.kind) {
      case "useColumn":
        return this.create(target, withColumn(params, fix.column, fix.suggestion), title);
      case "declareBounds": {
        const bounds = await askBounds(target, params.data ?? "", typeof params.options?.bounds === "string" ? params.options.bounds : "");
        return bounds ? this.create(target, { ...params, options: { ...params.options, bounds } }, title) : undefined;
      }
      case "setupEnvironment":
        await vscode.commands.executeCommand(Commands.SETUP_ENVIRONMENT);
        return undefined;
      case "manageTrust":
        await vscode.commands.executeCommand("workbench.trust.manage");
        return undefined;
      case "showLog":
        await vscode.commands.executeCommand(Commands.SHOW_LOG);
        return undefined;
      default:
        return undefined;
    }
  }

  dispose(): void {
    this.listeners.clear();
  }
}
