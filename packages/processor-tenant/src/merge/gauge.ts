/**
 * Last write wins by timestamp. On equal timestamps the later arrival (`incoming`) wins,
 * so replaying the same sequence always gives the same answer.
 */
export function incomingGaugeWins(
  held: { readonly timeUnixNano: bigint },
  incoming: { readonly timeUnixNano: bigint },
): boolean {
  return incoming.timeUnixNano >= held.timeUnixNano;
}
