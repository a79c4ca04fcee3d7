// A labelled group of radio buttons (@vscode-elements), shared by the webview pages' toolbars.
import "@vscode-elements/elements/dist/vscode-radio/index.js";
import "@vscode-elements/elements/dist/vscode-radio-group/index.js";
import { element } from "./dom";

/**
 * Fills `group` with one radio per choice under a caption, and calls `onPick` with the value
 * that becomes checked. The group moves the check with the arrow keys without a change event
 * (only clicks and Space send one), so the reflected `checked` attribute is watched instead:
 * every path updates it.
 */
export function radioControl<V extends string>(
  group: HTMLElementTagNameMap["vscode-radio-group"],
  caption: string,
  name: string,
  choices: readonly (readonly [V, string])[],
  onPick: (value: V) => void,
): HTMLElement {
  const wrapper = element("div", "control");
  const label = element("span", "control-label", caption);
  label.id = `${name}-label`;
  group.setAttribute("aria-labelledby", label.id);
  const radios = choices.map(([value, text]) => {
    const radio = document.createElement("vscode-radio");
    radio.name = name;
    radio.value = value;
    radio.label = text;
    radio.textContent = text;
    group.append(radio);
    return { radio, value };
  });
  new MutationObserver(() => {
    const checked = radios.find(({ radio }) => radio.checked);
    if (checked !== undefined) {
      onPick(checked.value);
    }
  }).observe(group, { subtree: true, attributes: true, attributeFilter: ["checked"] });
  wrapper.append(label, group);
  return wrapper;
}
