/** Query times: RFC 3339 (`2025-03-01T00:00:00Z`, offsets and up to 9 fractional digits) or Unix milliseconds. */

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;
const NANOS_PER_MS = 1_000_000n;

/** Unix nanoseconds of a query time, or `undefined` when it is neither form. */
export function parseQueryTime(raw: string): bigint | undefined {
  if (/^\d{1,15}$/.test(raw)) return BigInt(raw) * NANOS_PER_MS;
  const match = RFC3339.exec(raw);
  if (match === null) return undefined;
  const [, y, mo, d, h, mi, s, fraction, , sign, oh, om] = match;
  const fields = [y, mo, d, h, mi, s].map(Number) as [number, number, number, number, number, number];
  const [year, month, day, hour, minute, second] = fields;
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  const check = new Date(ms);
  // Date.UTC rolls 2025-02-30 over to March: refuse dates that do not exist.
  if (
    check.getUTCFullYear() !== year ||
    check.getUTCMonth() !== month - 1 ||
    check.getUTCDate() !== day ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  ) {
    return undefined;
  }
  let offsetMinutes = 0;
  if (sign !== undefined) {
    const hours = Number(oh);
    const minutes = Number(om);
    if (hours > 23 || minutes > 59) return undefined;
    offsetMinutes = (sign === '-' ? -1 : 1) * (hours * 60 + minutes);
  }
  const nanos = BigInt((fraction ?? '').padEnd(9, '0'));
  const unixNano = BigInt(ms - offsetMinutes * 60_000) * NANOS_PER_MS + nanos;
  return unixNano < 0n ? undefined : unixNano;
}

/** RFC 3339 in UTC: milliseconds always, nanoseconds when the time has them. */
export function formatTime(unixNano: bigint): string {
  const ms = unixNano / NANOS_PER_MS;
  const iso = new Date(Number(ms)).toISOString();
  const subMs = unixNano % NANOS_PER_MS;
  return subMs === 0n ? iso : `${iso.slice(0, -1)}${subMs.toString().padStart(6, '0')}Z`;
}
