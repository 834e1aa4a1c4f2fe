/**
 * The key form: the admin key (TALLYHOUSE_ADMIN_KEY) is entered once and checked against the API before it is
 * kept (sessionStorage of this tab). A refusal — 401, or 403 for a tenant's own key on the admin routes — is
 * shown here and nothing is kept.
 */
import { ApiClient, ApiError, WrongKeyError } from '../api/client.ts';
import { fill, h } from '../ui/dom.ts';

export function renderKeyForm(
  root: HTMLElement,
  problem: string | undefined,
  accepted: (key: string) => void,
): void {
  const input = h('input', {
    id: 'admin-key',
    name: 'admin-key',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
    spellcheck: 'false',
  });
  const message = h('p', { class: 'note error', role: 'alert', id: 'key-problem' }, problem ?? '');
  message.hidden = problem === undefined;
  const button = h('button', { type: 'submit' }, 'Open the console');
  const form = h(
    'form',
    { class: 'key-form', autocomplete: 'off' },
    h('h1', {}, 'Tallyhouse console'),
    h('label', { for: 'admin-key' }, 'Admin key'),
    input,
    message,
    button,
    h(
      'p',
      { class: 'note' },
      'The collector’s TALLYHOUSE_ADMIN_KEY. It is sent as Authorization: Bearer with every request and kept only ' +
        'in this tab’s session storage until you sign out or close the tab.',
    ),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const key = input.value.trim();
    if (key === '') return;
    button.disabled = true;
    void check(key).then((refusal) => {
      button.disabled = false;
      if (refusal === undefined) return accepted(key);
      fill(message, refusal);
      message.hidden = false;
      input.select();
    });
  });
  fill(root, h('main', { class: 'key-page' }, form));
  input.focus();
}

/** Undefined when the API takes the key; else why not. */
async function check(key: string): Promise<string | undefined> {
  try {
    await new ApiClient(key).adminMetrics();
    return undefined;
  } catch (error) {
    if (error instanceof WrongKeyError) return `Wrong key: ${error.message}`;
    if (error instanceof ApiError && error.status === 403) return `Not the admin key: ${error.message}`;
    if (error instanceof ApiError) return undefined; // the key passed; the page will show what failed
    return `The collector did not answer: ${(error as Error).message}`;
  }
}
