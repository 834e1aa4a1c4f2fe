import type { ApiClient } from '../api/client.ts';

/** What a page gets from the app: the API, its lifetime, and where a refused key goes. */
export interface PageContext {
  readonly api: ApiClient;
  /** Aborted when the page is left: its requests are withdrawn. */
  readonly signal: AbortSignal;
  /** A 401: the key is forgotten and the key form shown with `message`. */
  readonly wrongKey: (message: string) => void;
  /** Goes to a console address (a new history entry). */
  readonly navigate: (href: string) => void;
}
