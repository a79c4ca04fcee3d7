// A section's choice (one option per sensitive feature, per explained row, …) as tabs when there
// are a few short options, else a drop-down; picking one swaps the content under it. Both
// controls are @vscode-elements and work from the keyboard (arrow keys move between tabs; the
// drop-down opens with Space or Enter). An option's content is drawn when it is first shown.
import "@vscode-elements/elements/dist/vscode-option/index.js";
import "@vscode-elements/elements/dist/vscode-single-select/index.js";
import "@vscode-elements/elements/dist/vscode-tab-header/index.js";
import "@vscode-elements/elements/dist/vscode-tab-panel/index.js";
import "@vscode-elements/elements/dist/vscode-tabs/index.js";
import { choiceControl, selectedOption } from "../../extension/src/reports/reportFormat";
import type { Choice, Option } from "../../extension/src/reports/reportContract";
import { element } from "../common/dom";

export interface ChoiceEvents {
  /** Draws an option's content (called once per option, when it is first shown). */
  render(option: Option): HTMLElement;
  /** The user picked `optionId`. */
  onPick(optionId: string): void;
}

export function choiceView(choice: Choice, picked: string | undefined, sectionId: string, events: ChoiceEvents): HTMLElement {
  const initial = selectedOption(choice, picked);
  return choiceControl(choice) === "tabs" ? tabsView(choice, initial, sectionId, events) : selectView(choice, initial, sectionId, events);
}

function tabsView(choice: Choice, initial: Option, sectionId: string, events: ChoiceEvents): HTMLElement {
  const wrapper = element("div", "choice choice-tabs");
  const label = element("span", "choice-label", choice.label);
  label.id = `choice-${sectionId}`;
  const tabs = document.createElement("vscode-tabs");
  tabs.setAttribute("aria-labelledby", label.id);
  const panels = choice.options.map((option) => {
    const header = document.createElement("vscode-tab-header");
    header.slot = "header";
    header.textContent = option.label;
    header.dataset.optionId = option.id;
    const panel = document.createElement("vscode-tab-panel");
    tabs.append(header, panel);
    return { option, panel, drawn: false };
  });
  const show = (index: number): void => {
    const entry = panels[index];
    if (entry !== undefined && !entry.drawn) {
      entry.drawn = true;
      entry.panel.append(events.render(entry.option));
    }
  };
  const start = choice.options.indexOf(initial);
  tabs.selectedIndex = start;
  show(start);
  tabs.addEventListener("vsc-tabs-select", (event) => {
    const index = event.detail.selectedIndex;
    const option = choice.options[index];
    if (option !== undefined) {
      // After the panel is laid out, so a chart measures its real width.
      requestAnimationFrame(() => show(index));
      events.onPick(option.id);
    }
  });
  wrapper.append(label, tabs);
  return wrapper;
}

function selectView(choice: Choice, initial: Option, sectionId: string, events: ChoiceEvents): HTMLElement {
  const wrapper = element("div", "choice choice-select");
  const control = element("label", "control");
  const label = element("span", "choice-label", choice.label);
  label.id = `choice-${sectionId}`;
  const select = document.createElement("vscode-single-select");
  select.setAttribute("aria-labelledby", label.id);
  select.replaceChildren(
    ...choice.options.map((option) => {
      const item = document.createElement("vscode-option");
      item.value = option.id;
      item.textContent = option.label;
      item.selected = option.id === initial.id;
      return item;
    }),
  );
  select.value = initial.id;
  control.append(label, select);
  const content = element("div", "choice-content");
  content.setAttribute("aria-live", "polite");
  const cache = new Map<string, HTMLElement>();
  const show = (option: Option): void => {
    let node = cache.get(option.id);
    if (node === undefined) {
      node = events.render(option);
      cache.set(option.id, node);
    }
    content.replaceChildren(node);
  };
  show(initial);
  select.addEventListener("change", () => {
    const option = choice.options.find((candidate) => candidate.id === select.value);
    if (option !== undefined) {
      show(option);
      events.onPick(option.id);
    }
  });
  wrapper.append(control, content);
  return wrapper;
}
