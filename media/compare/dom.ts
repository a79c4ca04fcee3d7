// Element building for the Compare page. Run names, params and metric keys come from training
// scripts, so text only ever goes in through textContent (or attributes set as properties):
// it is never parsed as markup.
import "@vscode-elements/elements/dist/vscode-option/index.js";

import { element } from "../common/dom";

export { element };

/** A labelled control: the caption, then the control, in one <label> or group. */
export function control(caption: string, input: HTMLElement): HTMLElement {
  const wrapper = element("label", "control");
  wrapper.append(element("span", "control-label", caption), input);
  return wrapper;
}

/** Fills a vscode-single-select with these values (each shown as its own text). */
export function fillSelect(
  select: HTMLElementTagNameMap["vscode-single-select"],
  values: readonly { value: string; label: string }[],
  selected: string,
): void {
  select.replaceChildren(
    ...values.map(({ value, label }) => {
      const option = document.createElement("vscode-option");
      option.value = value;
      option.textContent = label;
      option.selected = value === selected;
      return option;
    }),
  );
  select.value = selected;
}

/** A small square in the run's colour, set through the CSSOM (the CSP blocks style attributes). */
export function swatch(color: string): HTMLElement {
  const node = element("span", "swatch");
  node.setAttribute("aria-hidden", "true");
  node.style.backgroundColor = color;
  return node;
}
