/**
 * A small element builder: text always goes in as text nodes (never parsed as HTML), so a tenant or attribute value
 * can hold anything. Attributes whose name starts with `on` and whose value is a function become listeners.
 */
export type Child = Node | string | number | null | undefined | false | readonly Child[];
type AttributeValue = string | number | boolean | undefined | null | EventListener;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Readonly<Record<string, AttributeValue>> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (typeof value === 'function') element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  append(element, children);
  return element;
}

export function append(parent: Node, children: readonly Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's content. */
export function fill(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

/** A `<select>` of `[value, label]` options with `selected` chosen; `disabled` values cannot be picked. */
export function select(
  name: string,
  options: readonly (readonly [string, string])[],
  selected: string,
  onChange: (value: string) => void,
  disabled: ReadonlySet<string> = new Set(),
): HTMLSelectElement {
  const element = h(
    'select',
    { name, 'aria-label': name },
    options.map(([value, label]) =>
      h('option', { value, selected: value === selected, disabled: disabled.has(value) }, label),
    ),
  );
  element.addEventListener('change', () => onChange(element.value));
  return element;
}
