/**
 * Exemplars the fuzz encoders add to points, storable or not. The model has none: an exemplar never decides its
 * point's fate (one that cannot be stored is dropped, its point kept), so the oracle, expecting exactly the
 * model's points and rejected count whatever exemplars ride along, checks that.
 */
import type { Rng } from './rng.ts';

export interface FuzzExemplar {
  readonly time: bigint;
  /** `undefined`: neither `asDouble` nor `asInt` (dropped). */
  readonly value: { readonly asDouble: number } | { readonly asInt: bigint } | undefined;
  /** Empty: absent. Lengths other than 8 and 16 are dropped, all zeros mean "no trace context". */
  readonly spanId: Uint8Array;
  readonly traceId: Uint8Array;
}

/** A point's exemplars: mostly none; otherwise one to three, about half of them storable. */
export function randomExemplars(rng: Rng): FuzzExemplar[] {
  if (!rng.bool(0.05)) return [];
  return Array.from({ length: rng.int(1, 3) }, () => ({
    time: rng.weighted([
      [6, 1_700_000_000_000_000_000n],
      [1, rng.pick([0n, 2n ** 63n - 1n])],
      [1, rng.pick([2n ** 63n, 2n ** 64n - 1n])],
    ]),
    value: rng.weighted<FuzzExemplar['value']>([
      [5, { asDouble: 1.5 }],
      [2, { asInt: BigInt.asIntN(64, rng.bigUint(64)) }],
      [1, undefined],
      [1, { asDouble: rng.anyDouble() }],
    ]),
    spanId: rng.weighted([
      [6, rng.bytes(8)],
      [1, new Uint8Array(rng.pick([0, 8]))],
      [1, rng.bytes(rng.pick([4, 9]))],
    ]),
    traceId: rng.weighted([
      [6, rng.bytes(16)],
      [1, new Uint8Array(rng.pick([0, 16]))],
      [1, rng.bytes(rng.pick([15, 17]))],
    ]),
  }));
}
