/** A few DOM helpers: elements are built once and updated in place (textContent), never via innerHTML. */

type Child = Node | string | null | undefined | false;

export interface Props {
  class?: string;
  text?: string;
  title?: string;
  type?: string;
  value?: string;
  placeholder?: string;
  /** data-testid, for the end-to-end tests. */
  testid?: string;
  attrs?: Record<string, string>;
}

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (props.class !== undefined) node.className = props.class;
  if (props.text !== undefined) node.textContent = props.text;
  if (props.title !== undefined) node.title = props.title;
  if (props.testid !== undefined) node.dataset.testid = props.testid;
  if (props.type !== undefined) node.setAttribute("type", props.type);
  if (props.placeholder !== undefined) node.setAttribute("placeholder", props.placeholder);
  if (props.value !== undefined) (node as HTMLInputElement).value = props.value;
  if (props.attrs !== undefined) for (const [k, v] of Object.entries(props.attrs)) node.setAttribute(k, v);
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child);
  }
  return node;
}

/** Sets text only when it changed (cheap no-op otherwise: no style recalculation). */
export function setText(node: Node, text: string): void {
  if (node.textContent !== text) node.textContent = text;
}

export function setClass(node: Element, name: string): void {
  if (node.className !== name) node.className = name;
}

export function clear(node: Node): void {
  while (node.firstChild !== null) node.removeChild(node.firstChild);
}
