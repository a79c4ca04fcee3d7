// A report table as a real <table>: column headers with scope, the first text column as row
// headers, numbers right-aligned to their column's significant digits (full value in the
// tooltip), and flagged rows marked — a ⚠ before the row's name and the reason in a Note column —
// never hidden. A cut table says how many rows it left out. Every value goes in as textContent.
import { type TableRow, tableNote, tableRows } from "../../extension/src/reports/reportFormat";
import type { Table } from "../../extension/src/reports/reportContract";
import { element } from "../common/dom";

export function tableView(table: Table, caption: string): HTMLElement {
  const wrapper = element("div", "table-block");
  // A wide table scrolls on its own; the region is focusable so a keyboard can scroll it.
  const scroll = element("div", "table-scroll");
  scroll.tabIndex = 0;
  scroll.setAttribute("role", "region");
  scroll.setAttribute("aria-label", caption);
  const node = element("table", "report-table");
  node.append(element("caption", "visually-hidden", caption));
  const rows = tableRows(table);
  const flagged = rows.some((row) => row.flag !== "");
  node.append(headerRow(table, flagged), body(table, rows, flagged));
  scroll.append(node);
  wrapper.append(scroll);
  const note = tableNote(table);
  if (note !== "") {
    wrapper.append(element("p", "table-note", note));
  }
  if (table.rows.length === 0) {
    wrapper.append(element("p", "empty-state", "No rows."));
  }
  return wrapper;
}

function headerRow(table: Table, flagged: boolean): HTMLElement {
  const head = element("thead");
  const row = element("tr");
  for (const column of table.columns) {
    const cell = element("th", column.kind === "number" ? "num" : undefined, column.label);
    cell.scope = "col";
    row.append(cell);
  }
  if (flagged) {
    const cell = element("th", "flag-column", "Note");
    cell.scope = "col";
    row.append(cell);
  }
  head.append(row);
  return head;
}

function body(table: Table, rows: TableRow[], flagged: boolean): HTMLElement {
  const tbody = element("tbody");
  // The first column names the row when it is text (a group, a feature): a row header.
  const rowHeader = table.columns[0]?.kind === "text";
  for (const row of rows) {
    const tr = element("tr", row.flag !== "" ? "flagged" : undefined);
    row.cells.forEach((cell, index) => {
      const column = table.columns[index];
      const header = rowHeader && index === 0;
      const td = element(header ? "th" : "td", column.kind === "number" ? "num" : undefined);
      if (header) {
        td.scope = "row";
      }
      if (index === 0 && row.flag !== "") {
        const mark = element("span", "flag-mark", "\u26a0");
        mark.setAttribute("aria-hidden", "true");
        mark.title = row.flag;
        td.append(mark);
      }
      td.append(document.createTextNode(cell.text));
      if (cell.title !== undefined) {
        td.title = cell.title;
      }
      tr.append(td);
    });
    if (flagged) {
      const note = element("td", "flag-note", row.flag);
      if (row.flag !== "") {
        note.prepend(element("span", "visually-hidden", "Flagged: "));
      }
      tr.append(note);
    }
    tbody.append(tr);
  }
  return tbody;
}
