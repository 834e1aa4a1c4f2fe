import { InvalidTenantError } from './errors.ts';

/** The data-point attribute that carries the tenant until the exporter moves it into `TenantId`. */
export const DEFAULT_TENANT_ATTRIBUTE = 'tenant.id';
export const MAX_TENANT_LENGTH = 128;

// C0 controls, DEL and C1 controls: matching them is the point here.
// biome-ignore lint/suspicious/noControlCharactersInRegex: tenants must not contain control characters
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f]/;

/** Why `tenant` is not a valid tenant, or `undefined` when it is. `"0"` is valid; `""` never is. */
export function tenantProblem(tenant: unknown): string | undefined {
  if (typeof tenant !== 'string') return `tenant must be a string, got ${describe(tenant)}`;
  if (tenant.length === 0) return 'tenant must not be empty';
  if (tenant.length > MAX_TENANT_LENGTH) {
    return `tenant ${JSON.stringify(`${tenant.slice(0, 32)}…`)} is ${tenant.length} chars, at most ${MAX_TENANT_LENGTH} allowed`;
  }
  if (CONTROL_CHARACTER.test(tenant)) return `tenant ${JSON.stringify(tenant)} contains a control character`;
  return undefined;
}

export function isValidTenant(tenant: unknown): tenant is string {
  return tenantProblem(tenant) === undefined;
}

/** Returns `tenant` when valid; throws an `InvalidTenantError` naming the problem otherwise. */
export function validateTenant(tenant: unknown): string {
  const problem = tenantProblem(tenant);
  if (problem !== undefined) throw new InvalidTenantError(problem);
  return tenant as string;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  return `${typeof value} ${JSON.stringify(value)}`;
}
