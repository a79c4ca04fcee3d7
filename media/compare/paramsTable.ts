// The params table: one row per run (colour swatch, name, status), then a column per param and
// per latest metric. Params are shown exactly as logged; metrics are rounded for reading, with
// the full-precision value on hover. Clicking a header (or Enter/Space on it) sorts by it.
import "@vscode-elements/elements/dist/vscode-checkbox/index.js";
import type { CompareDataWire, CompareRun } from "../../extension/src/compare/compareContract";
import { type TableColumn, cellValue, sortRuns, tableColumns } from "../../extension/src/compare/compareShape";
import { formatMetricValue } from "../../extension/src/webview/metricFormat";
import { element, swatch } from "./dom";

export interface ParamsTableEvents {
  onHideUnchanged(hide: boolean): void;
  onSort(columnId: string): void;
}

export interface ParamsTableOptions {
  hideUnchanged: boolean;
  sortColumn: string;
  sortDescending: boolean;
  colors: ReadonlyMap<string, string>;
}

const HEADINGS: Record<TableColumn["kind"], string> = { name: "Run", status: "Status", param: "", metric: "" };

export class ParamsTable {
  readonly element = element("div", "params-section");
  private readonly hideToggle = document.createElement("vscode-checkbox");
  private readonly summary = element("span", "section-note");
  private readonly table = element("table", "params-table");
  private readonly scroller = element("div", "table-scroller");

  constructor(events: ParamsTableEvents) {
    const toolbar = element("div", "toolbar");
    this.hideToggle.toggle = true;
    this.hideToggle.label = "Hide unchanged params";
    this.hideToggle.textContent = "Hide unchanged params";
    this.hideToggle.addEventListener("change", () => events.onHideUnchanged(this.hideToggle.checked));
    toolbar.append(this.hideToggle, this.summary);
    this.table.addEventListener("click", (event) => {
      const button = (event.target as Element | null)?.closest("button[data-column]");
      if (button instanceof HTMLButtonElement && button.dataset.column !== undefined) {
        events.onSort(button.dataset.column);
      }
    });
    // Wide tables scroll inside their own box, which the keyboard can reach.
    this.scroller.tabIndex = 0;
    this.scroller.setAttribute("role", "region");
    this.scroller.setAttribute("aria-label", "Runs, params and latest metrics");
    this.scroller.append(this.table);
    this.element.append(toolbar, this.scroller);
  }

  render(data: CompareDataWire, options: ParamsTableOptions): void {
    this.hideToggle.checked = options.hideUnchanged;
    const columns = tableColumns(data, options.hideUnchanged);
    const params = columns.filter((column) => column.kind === "param").length;
    this.summary.textContent =
      options.hideUnchanged && data.param_keys.length > 0 && params === 0
        ? `All ${data.param_keys.length} params are the same in every run.`
        : `${params} of ${data.param_keys.length} params shown`;
    const sortColumn = columns.find((column) => column.id === options.sortColumn) ?? columns[0];
    const runs = sortRuns(data.runs, sortColumn, options.sortDescending);

    const caption = element("caption", "visually-hidden", `${data.runs.length} runs compared`);
    const head = element("thead");
    head.append(this.groupRow(columns), this.headerRow(columns, sortColumn.id, options.sortDescending));
    const body = element("tbody");
    body.append(...runs.map((run) => this.runRow(run, columns, options.colors.get(run.run_id) ?? "")));
    this.table.replaceChildren(caption, head, body);
  }

  /** "Params" and "Latest metrics" over their columns, so equal keys can still be told apart. */
  private groupRow(columns: readonly TableColumn[]): HTMLTableRowElement {
    const row = element("tr", "group-row");
    const spans: [string, number][] = [
      ["", 2],
      ["Params", columns.filter((column) => column.kind === "param").length],
      ["Latest metrics", columns.filter((column) => column.kind === "metric").length],
    ];
    for (const [text, span] of spans) {
      if (span > 0) {
        const cell = element("th", text === "" ? undefined : "group", text);
        cell.colSpan = span;
        cell.scope = "colgroup";
        row.append(cell);
      }
    }
    return row;
  }

  private headerRow(columns: readonly TableColumn[], sortId: string, descending: boolean): HTMLTableRowElement {
    const row = element("tr");
    for (const column of columns) {
      const label = HEADINGS[column.kind] || column.key;
      const cell = element("th", column.kind === "metric" ? "numeric" : undefined);
      cell.scope = "col";
      const sorted = column.id === sortId;
      cell.setAttribute("aria-sort", sorted ? (descending ? "descending" : "ascending") : "none");
      const button = element("button", "sort-button", label);
      button.type = "button";
      button.dataset.column = column.id;
      button.title = `Sort by ${label}${sorted && !descending ? " (descending)" : ""}`;
      const arrow = element("span", "sort-arrow", sorted ? (descending ? "\u25BC" : "\u25B2") : "");
      arrow.setAttribute("aria-hidden", "true");
      button.append(arrow);
      cell.append(button);
      row.append(cell);
    }
    return row;
  }

  private runRow(run: CompareRun, columns: readonly TableColumn[], color: string): HTMLTableRowElement {
    const row = element("tr");
    for (const column of columns) {
      const value = cellValue(run, column);
      if (column.kind === "name") {
        const name = element("th", "run-name");
        name.scope = "row";
        name.title = `${run.run_name || run.run_id}\nrun ${run.run_id}\nexperiment ${run.experiment_name}`;
        const label = element("span", "run-label");
        label.append(swatch(color), element("span", undefined, String(value)));
        name.append(label);
        row.append(name);
      } else if (column.kind === "metric") {
        const cell = element("td", "numeric");
        if (value !== undefined) {
          const number = typeof value === "number" ? value : null;
          cell.textContent = formatMetricValue(number);
          cell.title = number === null ? "non-finite" : String(number); // full precision
        }
        row.append(cell);
      } else {
        const cell = element("td", column.kind === "status" ? `status status-${run.status.toLowerCase()}` : undefined);
        cell.textContent = value === undefined || value === null ? "" : String(value);
        if (column.kind === "param" && value === undefined) {
          cell.classList.add("missing");
          cell.title = "not logged by this run";
        }
        row.append(cell);
      }
    }
    return row;
  }
}
