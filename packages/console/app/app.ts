/**
 * The console application: the key form until a key is accepted, then the page the address names. Links marked
 * `data-link` move within the console without reloading; a 401 from any request forgets the key and returns to
 * the key form, saying so.
 */
import { ApiClient } from './api/client.ts';
import { keyStore } from './api/key-store.ts';
import { chartNames, chartSnapshot, destroyAllCharts } from './chart/time-chart.ts';
import { renderKeyForm } from './pages/key-form.ts';
import { renderOverview } from './pages/overview.ts';
import type { PageContext } from './pages/page-context.ts';
import { renderTenantPage } from './pages/tenant.ts';
import { overviewHref, routeOf, tenantHref } from './router.ts';
import { fill, h } from './ui/dom.ts';

export class ConsoleApp {
  private readonly root: HTMLElement;
  private api: ApiClient | undefined;
  private page: AbortController | undefined;

  constructor(root: HTMLElement) {
    this.root = root;
  }

  start(): void {
    window.addEventListener('popstate', () => this.render());
    document.addEventListener('click', (event) => this.followLink(event));
    this.installTestHook();
    this.render();
  }

  navigate(href: string): void {
    history.pushState(null, '', href);
    this.render();
  }

  private render(problem?: string): void {
    this.page?.abort();
    destroyAllCharts();
    const key = keyStore.get();
    if (key === undefined) {
      this.api = undefined;
      renderKeyForm(this.root, problem, (accepted) => {
        keyStore.set(accepted);
        this.render();
      });
      return;
    }
    this.api ??= new ApiClient(key);
    this.page = new AbortController();
    const ctx: PageContext = {
      api: this.api,
      signal: this.page.signal,
      wrongKey: (message) => this.wrongKey(message),
      navigate: (href) => this.navigate(href),
    };
    const main = h('main', { class: 'page' });
    fill(this.root, this.header(), main);
    const route = routeOf(location);
    switch (route.page) {
      case 'overview':
        document.title = 'Tallyhouse console';
        renderOverview(main, ctx, route.query);
        break;
      case 'tenant':
        document.title = `${route.tenant} · Tallyhouse console`;
        renderTenantPage(main, ctx, route.tenant, route.query);
        break;
      case 'not-found':
        fill(main, h('h1', {}, 'Not found'), h('p', {}, `No console page at ${route.path}.`));
        break;
    }
  }

  private wrongKey(message: string): void {
    keyStore.clear();
    this.render(`Wrong key: ${message}`);
  }

  private header(): HTMLElement {
    const tenant = h('input', {
      type: 'text',
      name: 'tenant',
      placeholder: 'tenant',
      'aria-label': 'tenant',
      required: true,
      spellcheck: 'false',
    });
    const open = h('form', { class: 'open-tenant' }, tenant, h('button', { type: 'submit' }, 'Open'));
    open.addEventListener('submit', (event) => {
      event.preventDefault();
      if (tenant.value.trim() !== '') this.navigate(tenantHref(tenant.value.trim()));
    });
    const signOut = h(
      'button',
      { type: 'button', class: 'secondary', 'data-action': 'sign-out' },
      'Sign out',
    );
    signOut.addEventListener('click', () => {
      keyStore.clear();
      this.render();
    });
    return h(
      'header',
      { class: 'top-bar' },
      h('a', { href: overviewHref(), 'data-link': true, class: 'brand' }, 'Tallyhouse'),
      h('nav', {}, h('a', { href: overviewHref(), 'data-link': true }, 'Overview')),
      open,
      signOut,
    );
  }

  private followLink(event: MouseEvent): void {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey)
      return;
    const link = (event.target as Element | null)?.closest?.('a[data-link]');
    if (!(link instanceof HTMLAnchorElement)) return;
    event.preventDefault();
    this.navigate(link.href);
  }

  /**
   * For the browser tests: what each chart holds as uPlot has it, and whether requests are still running. Reads
   * only; holds no key.
   */
  private installTestHook(): void {
    const hook = {
      charts: () => chartNames(),
      chart: (name: string) => chartSnapshot(name),
      pendingRequests: () => this.api?.pending ?? 0,
    };
    Object.defineProperty(window, 'tallyhouseConsole', { value: Object.freeze(hook) });
  }
}
