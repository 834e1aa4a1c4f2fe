/** A titled section of a page, and the states of its body: loading, an error, a note. */
import { ApiError, WrongKeyError } from '../api/client.ts';
import { type Child, fill, h } from './dom.ts';

export interface Panel {
  readonly element: HTMLElement;
  readonly body: HTMLElement;
}

export function panel(name: string, title: string, ...headerExtras: Child[]): Panel {
  const body = h('div', { class: 'panel-body' });
  const element = h(
    'section',
    { class: 'panel', 'data-panel': name },
    h('header', { class: 'panel-header' }, h('h2', {}, title), ...headerExtras),
    body,
  );
  return { element, body };
}

export function showLoading(body: HTMLElement): void {
  fill(body, h('p', { class: 'note loading' }, 'Loading…'));
}

export function showNote(body: HTMLElement, ...text: Child[]): void {
  fill(body, h('p', { class: 'note' }, ...text));
}

export function showError(body: HTMLElement, error: unknown): void {
  const status = error instanceof ApiError ? `HTTP ${error.status}: ` : '';
  fill(body, h('p', { class: 'note error', role: 'alert' }, status, (error as Error).message));
}

/** True for errors a panel should not show: its request was withdrawn (newer choice, page left). */
export function isAbort(error: unknown): boolean {
  return (error as Error | undefined)?.name === 'AbortError';
}

/**
 * Runs a panel's load: a refused key goes to `wrongKey` (the app returns to the key form), a withdrawn request is
 * dropped, any other error is shown in the panel.
 */
export async function loadInto(
  body: HTMLElement,
  wrongKey: (message: string) => void,
  load: () => Promise<void>,
): Promise<void> {
  try {
    await load();
  } catch (error) {
    if (isAbort(error)) return;
    if (error instanceof WrongKeyError) return wrongKey(error.message);
    showError(body, error);
  }
}
