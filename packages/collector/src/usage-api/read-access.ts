/**
 * Who may read whose usage. The admin key (TALLYHOUSE_ADMIN_KEY, as `Authorization: Bearer` or `x-api-key`) reads
 * any tenant. In `apikey` mode a tenant's API key reads that tenant only. In `header` mode the tenant header is
 * *not* a credential for reads — anyone can set it — unless TALLYHOUSE_READS_TRUST_TENANT_HEADER=true says an
 * authenticating proxy in front sets it; otherwise only the admin key reads.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { type DistinctHeaders, presentedKey, type TenantAuthenticator } from '../auth.ts';
import type { CollectorSettings } from '../config.ts';

export type ReadGrant =
  | { readonly ok: true; readonly admin: true }
  | { readonly ok: true; readonly admin: false; readonly tenant: string }
  | { readonly ok: false; readonly message: string };

export class ReadAccess {
  private readonly adminDigest: Buffer | undefined;
  private readonly tenantCredentials: TenantAuthenticator | undefined;
  private readonly how: string;

  constructor(settings: CollectorSettings, authenticator: TenantAuthenticator) {
    this.adminDigest =
      settings.adminKeyHash === undefined
        ? undefined
        : Buffer.from(settings.adminKeyHash.slice('sha256:'.length), 'hex');
    const tenantReads = settings.auth === 'apikey' || settings.readsTrustTenantHeader;
    this.tenantCredentials = tenantReads ? authenticator : undefined;
    this.how =
      settings.auth === 'apikey'
        ? 'send the tenant API key or the admin key as Authorization: Bearer <key>'
        : settings.readsTrustTenantHeader
          ? `send the ${settings.tenantHeader} header or the admin key as Authorization: Bearer <key>`
          : 'usage reads need the admin key (TALLYHOUSE_ADMIN_KEY) as Authorization: Bearer <key>';
  }

  /** The caller's grant; `ok: false` is a 401 (no or wrong credentials). */
  authenticate(headers: DistinctHeaders): ReadGrant {
    const key = presentedKey(headers);
    if (key !== undefined && this.adminDigest !== undefined) {
      const digest = createHash('sha256').update(key, 'utf8').digest();
      if (timingSafeEqual(digest, this.adminDigest)) return { ok: true, admin: true };
    }
    if (this.tenantCredentials === undefined) {
      return {
        ok: false,
        message: key === undefined ? `missing credentials: ${this.how}` : `invalid key: ${this.how}`,
      };
    }
    const resolved = this.tenantCredentials.resolve(headers);
    return resolved.ok
      ? { ok: true, admin: false, tenant: resolved.tenant }
      : { ok: false, message: `${resolved.message} (${this.how})` };
  }
}
