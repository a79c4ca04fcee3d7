// What the live metrics panel tells its webview, and when. The feed keeps every point of the
// run, forwards new ones while the webview listens, and replays all of them (after an `init`
// that resets the webview) each time the webview says `ready`: on first load and after every
// reload, since a hidden webview is torn down. No vscode import, so it is unit-tested directly.
import { ExtensionMessage, ExtensionMessageType, MetricPoint, RunStatus, toWirePoint } from "../webview/contract";

/** Points per message on replay, so a long run is not one huge message. */
export const REPLAY_CHUNK = 20_000;

export class LiveMetricsFeed {
  private readonly history: MetricPoint[] = [];
  private status: { status: RunStatus; detail?: string } | undefined;
  /** The webview has said `ready` since it last (re)loaded; until then messages would be lost. */
  private listening = false;

  constructor(
    readonly runId: string,
    readonly title: string,
    private readonly post: (message: ExtensionMessage) => void,
  ) {}

  /** Every point received so far, in arrival order. */
  get points(): readonly MetricPoint[] {
    return this.history;
  }

  addPoints(points: readonly MetricPoint[]): void {
    if (points.length === 0) {
      return;
    }
    this.history.push(...points);
    if (this.listening) {
      this.post({ type: ExtensionMessageType.POINTS, points: points.map(toWirePoint) });
    }
  }

  setStatus(status: RunStatus, detail?: string): void {
    this.status = detail === undefined ? { status } : { status, detail };
    if (this.listening) {
      this.post({ type: ExtensionMessageType.STATUS, ...this.status });
    }
  }

  /** The webview (re)loaded and listens: send it everything. */
  webviewReady(): void {
    this.listening = true;
    this.post({ type: ExtensionMessageType.INIT, runId: this.runId, title: this.title });
    for (let start = 0; start < this.history.length; start += REPLAY_CHUNK) {
      const chunk = this.history.slice(start, start + REPLAY_CHUNK);
      this.post({ type: ExtensionMessageType.POINTS, points: chunk.map(toWirePoint) });
    }
    if (this.status) {
      this.post({ type: ExtensionMessageType.STATUS, ...this.status });
    }
  }

  /** The webview's document is gone (panel hidden); hold messages until it is `ready` again. */
  webviewGone(): void {
    this.listening = false;
  }
}
