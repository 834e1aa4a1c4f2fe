/**
 * The admin key, entered once per browser tab: kept in sessionStorage (gone when the tab closes, never shared with
 * other tabs, never in localStorage) and never put in a URL.
 */
const STORAGE_KEY = 'tallyhouse.console.adminKey';

export const keyStore = {
  get(): string | undefined {
    return sessionStorage.getItem(STORAGE_KEY) ?? undefined;
  },
  set(key: string): void {
    sessionStorage.setItem(STORAGE_KEY, key);
  },
  clear(): void {
    sessionStorage.removeItem(STORAGE_KEY);
  },
};
