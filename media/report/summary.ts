// The top of a report: its title and what it is about (kind, run, data set, time), the summary
// figures (each with its hint, the full value in a tooltip), and the warnings, which are shown in
// full because they say which numbers not to trust.
import { documentMeta, figureText } from "../../extension/src/reports/reportFormat";
import type { Figure, ReportDocument } from "../../extension/src/reports/reportContract";
import { element } from "../common/dom";

export function figuresView(summary: readonly Figure[]): HTMLElement | undefined {
  if (summary.length === 0) {
    return undefined;
  }
  const list = element("dl", "figures");
  list.setAttribute("aria-label", "Summary");
  for (const figure of summary) {
    const item = element("div", "figure");
    const shown = figureText(figure);
    const value = element("dd", "figure-value", shown.text);
    if (shown.title !== undefined) {
      value.title = shown.title;
    }
    item.append(element("dt", "figure-label", figure.label), value);
    if (figure.hint) {
      item.append(element("dd", "figure-hint", figure.hint));
    }
    list.append(item);
  }
  return list;
}

export function warningsView(warnings: readonly string[]): HTMLElement | undefined {
  if (warnings.length === 0) {
    return undefined;
  }
  const box = element("section", "warnings");
  box.setAttribute("aria-labelledby", "warnings-title");
  const title = element("h2", "warnings-title", warnings.length === 1 ? "Warning" : `${warnings.length} warnings`);
  title.id = "warnings-title";
  const list = element("ul");
  for (const warning of warnings) {
    list.append(element("li", undefined, warning));
  }
  box.append(title, list);
  return box;
}

/** "Fairness report · run 01234567 · data.csv (400 rows × 5 columns) · …", and the model. */
export function metaView(report: ReportDocument): HTMLElement {
  const meta = element("p", "report-meta", documentMeta(report));
  if (report.modelUri) {
    meta.append(document.createTextNode(" \u00b7 model "), element("code", undefined, report.modelUri));
  }
  if (report.data?.sha256) {
    meta.title = `Data set SHA-256: ${report.data.sha256}`;
  }
  return meta;
}
