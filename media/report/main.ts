// Entry point of the Report webview: shows loading, an error with Retry, or a report document —
// its title and figures, warnings, then each section's text, table and chart, or a choice that
// swaps between options. Everything shown comes from the extension's replay after `ready`; only
// the options picked are kept in the webview state. Every value goes in as textContent. The first
// document's first paint is measured and reported once (the panel logs it; the page keeps it on
// <body data-first-paint-ms> for the end-to-end test).
import "@vscode-elements/elements/dist/vscode-button/index.js";
import "@vscode-elements/elements/dist/vscode-progress-ring/index.js";
import {
  isReportHostMessage,
  isReportViewState,
  type Option,
  type ReportDocument,
  type ReportHostMessage,
  ReportHostMessageType,
  type ReportViewState,
  ReportWebviewMessageType,
  type Section,
} from "../../extension/src/reports/reportContract";
import { chartName } from "../../extension/src/reports/reportFormat";
import { element } from "../common/dom";
import { readChartTheme, watchTheme } from "../liveMetrics/vegaTheme";
import { ChartTracker } from "./reportChart";
import { choiceView } from "./reportChoice";
import { tableView } from "./reportTable";
import { figuresView, metaView, warningsView } from "./summary";
import { vscodeApi } from "./vscodeApi";

type Content = Pick<Section, "description" | "table" | "chart">;

/** This bundle's <script> (known only while it first runs): the chart bundle lies beside it. */
const PAGE_SCRIPT = document.currentScript instanceof HTMLScriptElement ? document.currentScript : null;

/** The `elementtiming` name of what the first-paint figure waits for. */
const FIRST_PAINT = "report-first-paint";

/** After the next frame is painted. */
function nextFrame(): Promise<void> {
  return new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
}

function delay(ms: number): Promise<undefined> {
  return new Promise((resolve) => setTimeout(() => resolve(undefined), ms));
}

/** When the element marked `elementtiming=name` was painted (ms since the page's start). */
function elementPainted(name: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    if (!PerformanceObserver.supportedEntryTypes.includes("element")) {
      resolve(undefined);
      return;
    }
    const observer = new PerformanceObserver((list) => {
      const entry = list.getEntries().find((item) => (item as PerformanceEntry & { identifier?: string }).identifier === name);
      if (entry !== undefined) {
        observer.disconnect();
        // renderTime is 0 where the browser hides it; startTime is then the load time.
        const { renderTime } = entry as PerformanceEntry & { renderTime?: number };
        resolve(renderTime || entry.startTime);
      }
    });
    observer.observe({ type: "element", buffered: true });
  });
}

class ReportApp {
  private state: ReportViewState;
  private shown: { document: ReportDocument; logged: boolean } | undefined;
  private theme = readChartTheme();
  private readonly charts: ChartTracker;
  /** When the page said `ready`, and when the first document came (ms since the page's start). */
  private readonly readyMs: number;
  private documentMs: number | undefined;
  /** The first paint is measured once per page. */
  private measured = false;

  private readonly header = element("header", "report-header");
  private readonly title = element("h1", "report-title", "Report");
  private readonly jsonButton = document.createElement("vscode-button");
  private readonly exportButton = document.createElement("vscode-button");
  private readonly loading = element("div", "loading");
  private readonly loadingText = element("span", undefined, "Loading the report\u2026");
  private readonly error = element("div", "error-state");
  private readonly errorText = element("p", "error-text");
  private readonly retryButton = document.createElement("vscode-button");
  private readonly body = element("div", "report-body");

  constructor(
    root: HTMLElement,
    private readonly vscode = vscodeApi(),
  ) {
    const saved = this.vscode.getState();
    this.state = isReportViewState(saved) ? saved : { choices: {} };
    this.charts = new ChartTracker(this.theme, PAGE_SCRIPT);
    root.append(this.buildHeader(), this.buildLoading(), this.buildError(), this.body);
    this.showLoading("Report");
    watchTheme(() => this.onThemeChanged());
    window.addEventListener("message", (event: MessageEvent<unknown>) => this.onMessage(event.data));
    this.readyMs = performance.now();
    this.vscode.postMessage({ type: ReportWebviewMessageType.READY });
  }

  private onMessage(message: unknown): void {
    if (!isReportHostMessage(message)) {
      console.warn("report: ignored an unexpected message");
      return;
    }
    this.handle(message);
  }

  private handle(message: ReportHostMessage): void {
    switch (message.type) {
      case ReportHostMessageType.LOADING:
        this.showLoading(message.title);
        break;
      case ReportHostMessageType.ERROR:
        this.showError(message.message, message.retryable);
        break;
      case ReportHostMessageType.DOCUMENT:
        this.documentMs ??= performance.now();
        this.showDocument(message.document, message.logged);
        if (message.openedAt !== null && !this.measured) {
          this.measured = true;
          void this.measure(message.openedAt);
        }
        break;
    }
  }

  private showLoading(title: string): void {
    this.title.textContent = title;
    this.loadingText.textContent = "Loading the report\u2026";
    this.loading.hidden = false;
    this.error.hidden = true;
    this.body.hidden = true;
    this.setButtons(false, false);
    document.body.dataset.state = "loading";
  }

  private showError(text: string, retryable: boolean): void {
    this.errorText.textContent = text;
    this.retryButton.hidden = !retryable;
    this.error.hidden = false;
    this.loading.hidden = true;
    this.body.hidden = true;
    this.setButtons(false, false);
    this.shown = undefined;
    document.body.dataset.state = "error";
  }

  private showDocument(report: ReportDocument, logged: boolean): void {
    this.shown = { document: report, logged };
    this.charts.reset(this.theme);
    this.title.textContent = report.title;
    this.loading.hidden = true;
    this.error.hidden = true;
    this.body.hidden = false;
    this.setButtons(true, logged);
    const parts: HTMLElement[] = [metaView(report)];
    const figures = figuresView(report.summary);
    const warnings = warningsView(report.warnings);
    for (const part of [figures, warnings]) {
      if (part !== undefined) {
        parts.push(part);
      }
    }
    report.sections.forEach((section, index) => parts.push(this.sectionView(section, index)));
    if (report.sections.length === 0) {
      parts.push(element("p", "empty-state", "This report has no sections."));
    }
    // Marked before it is added: Chromium times only what carries the mark when it is painted.
    const first = parts.map((part) => part.querySelector("table th, .section-title")).find((node) => node !== null);
    (first ?? parts[0]).setAttribute("elementtiming", FIRST_PAINT);
    this.body.replaceChildren(...parts);
    document.body.dataset.state = "document";
    document.body.dataset.kind = report.kind;
  }

  private sectionView(section: Section, index: number): HTMLElement {
    const node = element("section", "report-section");
    const heading = element("h2", "section-title", section.title);
    heading.id = `section-${index}`;
    node.setAttribute("aria-labelledby", heading.id);
    node.dataset.sectionId = section.id;
    node.append(heading, this.contentView(section, section.title));
    if (section.choice !== undefined) {
      const choice = section.choice;
      node.append(
        choiceView(choice, this.state.choices[section.id], String(index), {
          render: (option: Option) => this.contentView(option, `${section.title}: ${option.label}`),
          onPick: (optionId) => this.saveState({ choices: { ...this.state.choices, [section.id]: optionId } }),
        }),
      );
    }
    return node;
  }

  /** A section's or an option's text, table and chart (whichever it has), in that order. */
  private contentView(content: Content, name: string): HTMLElement {
    const node = element("div", "section-content");
    if (content.description) {
      node.append(element("p", "section-description", content.description));
    }
    if (content.table !== undefined) {
      node.append(tableView(content.table, name));
    }
    if (content.chart !== undefined) {
      node.append(this.charts.chart(content.chart, chartName(content.chart, `Chart: ${name}`)));
    }
    return node;
  }

  /**
   * Reports when the first table (else the first section) was painted — Chromium's Element
   * Timing says when that element's text reached the screen; without it, the frame after it
   * was added — and when every chart of the first view was drawn.
   */
  private async measure(openedAt: number): Promise<void> {
    const painted = await Promise.race([elementPainted(FIRST_PAINT), nextFrame().then(() => delay(2000))]);
    const fallback = painted === undefined ? await nextFrame().then(() => performance.now()) : painted;
    const firstPaintMs = Math.max(0, performance.timeOrigin + fallback - openedAt);
    await this.charts.settled();
    await nextFrame();
    const completeMs = Math.max(firstPaintMs, Date.now() - openedAt);
    const timing = { firstPaintMs, completeMs, pageMs: fallback, readyMs: this.readyMs, documentMs: this.documentMs ?? fallback };
    document.body.dataset.firstPaintMs = String(Math.round(firstPaintMs));
    document.body.dataset.completeMs = String(Math.round(completeMs));
    document.body.dataset.pageMs = String(Math.round(fallback));
    document.body.dataset.readyMs = String(Math.round(this.readyMs));
    document.body.dataset.documentMs = String(Math.round(timing.documentMs));
    this.vscode.postMessage({ type: ReportWebviewMessageType.RENDERED, timing });
  }

  private onThemeChanged(): void {
    const theme = readChartTheme();
    if (theme.key !== this.theme.key) {
      this.theme = theme;
      if (this.shown !== undefined) {
        const scroll = window.scrollY;
        this.showDocument(this.shown.document, this.shown.logged);
        window.scrollTo(0, scroll);
      }
    }
  }

  private setButtons(enabled: boolean, logged: boolean): void {
    this.jsonButton.disabled = !enabled;
    this.exportButton.disabled = !enabled || !logged;
    this.exportButton.title = logged
      ? "Save the report as one self-contained HTML file (no scripts; charts as images)"
      : "This report was not logged to a run, so there is no HTML file to export";
  }

  private buildHeader(): HTMLElement {
    this.jsonButton.textContent = "Open JSON";
    this.jsonButton.secondary = true;
    this.jsonButton.title = "Open the report's JSON (every number, with its details) in an editor";
    this.jsonButton.addEventListener("click", () => this.vscode.postMessage({ type: ReportWebviewMessageType.OPEN_JSON }));
    this.exportButton.textContent = "Export HTML";
    this.exportButton.secondary = true;
    this.exportButton.addEventListener("click", () => this.vscode.postMessage({ type: ReportWebviewMessageType.EXPORT_HTML }));
    const actions = element("div", "report-actions");
    actions.setAttribute("role", "toolbar");
    actions.setAttribute("aria-label", "Report actions");
    actions.append(this.jsonButton, this.exportButton);
    this.header.append(this.title, actions);
    return this.header;
  }

  private buildLoading(): HTMLElement {
    this.loading.setAttribute("role", "status");
    const ring = document.createElement("vscode-progress-ring");
    ring.setAttribute("aria-hidden", "true");
    this.loading.append(ring, this.loadingText);
    return this.loading;
  }

  private buildError(): HTMLElement {
    this.error.setAttribute("role", "alert");
    this.retryButton.textContent = "Retry";
    this.retryButton.addEventListener("click", () => {
      this.showLoading(this.title.textContent ?? "Report");
      this.vscode.postMessage({ type: ReportWebviewMessageType.RETRY });
    });
    this.error.append(element("h2", "error-title", "Could not show this report"), this.errorText, this.retryButton);
    this.error.hidden = true;
    return this.error;
  }

  private saveState(state: ReportViewState): void {
    this.state = state;
    this.vscode.setState(state);
  }
}

const root = document.getElementById("root");
if (root !== null) {
  new ReportApp(root);
}
