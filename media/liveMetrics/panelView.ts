// The live metrics page apart from the charts: status line, controls, last-value table and the
// empty state. Built with createElement and textContent only: run names and metric keys come
// from the training script and are never parsed as HTML.
import "@vscode-elements/elements/dist/vscode-button/index.js";
import "@vscode-elements/elements/dist/vscode-option/index.js";
import "@vscode-elements/elements/dist/vscode-single-select/index.js";
import type { RunStatus, XAxis } from "../../extension/src/webview/contract";
import { formatMetricValue } from "../../extension/src/webview/metricFormat";
import type { MetricSeries } from "../../extension/src/webview/metricSeries";
import { element } from "../common/dom";
import { radioControl } from "../common/radioControl";

const STATUS_LOOK: Record<RunStatus, { symbol: string; label: string }> = {
  RUNNING: { symbol: "\u25CF", label: "Running" },
  FINISHED: { symbol: "\u2713", label: "Finished" },
  FAILED: { symbol: "\u2717", label: "Failed" },
  KILLED: { symbol: "\u25A0", label: "Killed" },
};

const ALL_METRICS = "";

export interface PanelViewEvents {
  onXAxis(xAxis: XAxis): void;
  onMetric(metric: string): void;
  onExport(): void;
}

export class PanelView {
  /** Where the charts go; main.ts fills it. */
  readonly charts = element("section", "charts");
  private readonly runName = element("h1", "run-name", "Live metrics");
  private readonly status = element("span", "run-status");
  private readonly statusSymbol = element("span", "run-status-symbol");
  private readonly statusLabel = element("span", "run-status-label", "Connecting\u2026");
  private readonly statusDetail = element("span", "run-status-detail");
  private readonly metricSelect = document.createElement("vscode-single-select");
  private readonly xAxisGroup = document.createElement("vscode-radio-group");
  private readonly exportButton = document.createElement("vscode-button");
  private readonly table = element("table", "last-values");
  private readonly tableBody = element("tbody");
  private readonly empty = element("p", "empty-state", "Waiting for the first metric\u2026");
  private readonly toolbar = element("div", "toolbar");
  /** The keys the selector lists; undefined until it lists anything (even just "All"). */
  private metricKeys: string[] | undefined;

  constructor(root: HTMLElement, events: PanelViewEvents) {
    const header = element("header", "status-line");
    this.status.setAttribute("role", "status"); // announced politely when the run ends
    this.statusSymbol.setAttribute("aria-hidden", "true");
    this.status.append(this.statusSymbol, this.statusLabel);
    header.append(this.runName, this.status, this.statusDetail);

    this.toolbar.setAttribute("role", "group");
    this.toolbar.setAttribute("aria-label", "Chart options");
    this.toolbar.append(this.buildMetricSelect(events), this.buildXAxisGroup(events), this.buildExportButton(events));

    const caption = element("caption", "visually-hidden", "Latest value of each metric");
    const head = element("thead");
    const headRow = element("tr");
    for (const [text, numeric] of [
      ["Metric", false],
      ["Last", true],
      ["Step", true],
      ["Min", true],
      ["Max", true],
      ["Points", true],
    ] as const) {
      const cell = element("th", numeric ? "numeric" : undefined, text);
      cell.scope = "col";
      headRow.append(cell);
    }
    head.append(headRow);
    this.table.append(caption, head, this.tableBody);
    this.table.hidden = true;

    root.append(header, this.toolbar, this.empty, this.table, this.charts);
  }

  setRunName(title: string): void {
    this.runName.textContent = title;
    this.runName.title = title;
  }

  setStatus(status: RunStatus, detail: string | undefined): void {
    const look = STATUS_LOOK[status];
    this.status.dataset.status = status.toLowerCase();
    this.statusSymbol.textContent = look.symbol;
    this.statusLabel.textContent = look.label;
    this.statusDetail.textContent = detail ?? "";
    this.statusDetail.title = detail ?? "";
  }

  /** The empty state shows until the first point; a run that ended without any says so. */
  setEmpty(empty: boolean, ended: boolean): void {
    this.empty.hidden = !empty;
    this.toolbar.hidden = empty; // nothing to choose or export yet
    this.empty.textContent = ended ? "This run logged no metrics." : "Waiting for the first metric\u2026";
    this.table.hidden = empty;
  }

  setXAxis(xAxis: XAxis): void {
    for (const radio of this.xAxisGroup.querySelectorAll("vscode-radio")) {
      radio.checked = radio.value === xAxis;
    }
  }

  /** Lists the metrics in the selector, keeping the user's choice. */
  setMetricKeys(keys: readonly string[], selected: string): void {
    const listed = this.metricKeys;
    if (listed !== undefined && keys.length === listed.length && keys.every((key, i) => key === listed[i])) {
      return;
    }
    this.metricKeys = [...keys];
    const options = [ALL_METRICS, ...keys].map((key) => {
      const option = document.createElement("vscode-option");
      option.value = key;
      option.textContent = key === ALL_METRICS ? "All metrics" : key;
      option.selected = key === selected;
      return option;
    });
    this.metricSelect.replaceChildren(...options);
    this.metricSelect.value = keys.includes(selected) ? selected : ALL_METRICS;
  }

  /** One row per metric with exact figures: drawing may downsample, this table never does. */
  updateTable(series: readonly MetricSeries[]): void {
    const rows = series.map((one) => {
      const row = element("tr");
      const name = element("th", "metric-key", one.key);
      name.scope = "row";
      name.title = one.key;
      row.append(
        name,
        element("td", "numeric", formatMetricValue(one.last?.value)),
        element("td", "numeric", one.last === undefined ? "" : String(one.last.step)),
        element("td", "numeric", formatMetricValue(one.min)),
        element("td", "numeric", formatMetricValue(one.max)),
        element("td", "numeric", one.count.toLocaleString("en-US")),
      );
      return row;
    });
    this.tableBody.replaceChildren(...rows);
  }

  private buildMetricSelect(events: PanelViewEvents): HTMLElement {
    const wrapper = element("label", "control");
    wrapper.append(element("span", "control-label", "Metric"));
    this.metricSelect.setAttribute("aria-label", "Metric to show");
    this.setMetricKeys([], ALL_METRICS);
    this.metricSelect.addEventListener("change", () => events.onMetric(this.metricSelect.value));
    wrapper.append(this.metricSelect);
    return wrapper;
  }

  private buildXAxisGroup(events: PanelViewEvents): HTMLElement {
    const choices = [
      ["step", "Step"],
      ["time", "Wall time"],
    ] as const;
    return radioControl(this.xAxisGroup, "X axis", "x-axis", choices, (value) => events.onXAxis(value));
  }

  private buildExportButton(events: PanelViewEvents): HTMLElement {
    this.exportButton.textContent = "Export CSV";
    this.exportButton.secondary = true;
    this.exportButton.title = "Save every point of this run as a CSV file";
    this.exportButton.addEventListener("click", () => events.onExport());
    return this.exportButton;
  }
}
