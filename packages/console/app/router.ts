/**
 * The console's addresses, under the collector's `/console/` (Vite's base): `/console/` is the overview,
 * `/console/tenants/<tenant>` a tenant's page. The pickers' choices live in the query string, so a page can be
 * bookmarked or shared; the admin key never does.
 */
export const BASE = import.meta.env.BASE_URL;

export type Route =
  | { readonly page: 'overview'; readonly query: URLSearchParams }
  | { readonly page: 'tenant'; readonly tenant: string; readonly query: URLSearchParams }
  | { readonly page: 'not-found'; readonly path: string };

export function routeOf(location: Location): Route {
  const query = new URLSearchParams(location.search);
  const path = location.pathname;
  if (path === BASE || `${path}/` === BASE) return { page: 'overview', query };
  const tenantPrefix = `${BASE}tenants/`;
  if (path.startsWith(tenantPrefix)) {
    const rest = path.slice(tenantPrefix.length);
    if (rest !== '' && !rest.includes('/')) {
      try {
        return { page: 'tenant', tenant: decodeURIComponent(rest), query };
      } catch {
        // a malformed escape: not an address the console made
      }
    }
  }
  return { page: 'not-found', path };
}

export function overviewHref(query?: URLSearchParams): string {
  return withQuery(BASE, query);
}

export function tenantHref(tenant: string, query?: URLSearchParams): string {
  return withQuery(`${BASE}tenants/${encodeURIComponent(tenant)}`, query);
}

function withQuery(path: string, query: URLSearchParams | undefined): string {
  const search = query?.toString() ?? '';
  return search === '' ? path : `${path}?${search}`;
}

/** Replaces the current address's query (a picker changed) without a new history entry. */
export function replaceQuery(query: URLSearchParams): void {
  const search = query.toString();
  history.replaceState(history.state, '', `${location.pathname}${search === '' ? '' : `?${search}`}`);
}
