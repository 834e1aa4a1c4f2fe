/**
 * A small seeded PRNG (sfc32, seeded through splitmix32) and the draws the generators need. Every case gets
 * its own stream derived from (campaign seed, case index), so one case can be regenerated alone.
 */

function splitmix32(state: number): () => number {
  let s = state >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number, stream = 0) {
    const mix = splitmix32((seed >>> 0) ^ Math.imul(stream >>> 0, 0x27d4eb2d));
    // A second round keeps nearby (seed, stream) pairs from starting in correlated states.
    const mix2 = splitmix32(mix() ^ (stream >>> 0));
    this.a = mix2();
    this.b = mix2();
    this.c = mix2();
    this.d = mix2() | 1;
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** Uniform unsigned 32-bit integer. */
  u32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return (this.u32() * 2 ** 21 + (this.u32() >>> 11)) / 2 ** 53;
  }

  /** Uniform integer in [min, max] (inclusive), for spans up to 2^53. */
  int(min: number, max: number): number {
    return min + Math.floor(this.float() * (max - min + 1));
  }

  bool(probability = 0.5): boolean {
    return this.float() < probability;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[this.int(0, items.length - 1)]!;
  }

  /** Picks by relative weight. */
  weighted<T>(entries: readonly (readonly [number, T])[]): T {
    const total = entries.reduce((sum, [weight]) => sum + weight, 0);
    let roll = this.float() * total;
    for (const [weight, value] of entries) {
      roll -= weight;
      if (roll < 0) return value;
    }
    return entries[entries.length - 1]![1];
  }

  /** Uniform unsigned integer of `bits` bits. */
  bigUint(bits: number): bigint {
    let out = 0n;
    for (let done = 0; done < bits; done += 32) out = (out << 32n) | BigInt(this.u32());
    return BigInt.asUintN(bits, out);
  }

  /** Any 64-bit pattern as a double: NaNs with payloads, subnormals, infinities included. */
  anyDouble(): number {
    const view = new DataView(new ArrayBuffer(8));
    view.setUint32(0, this.u32());
    view.setUint32(4, this.u32());
    return view.getFloat64(0);
  }

  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = this.u32() & 0xff;
    return out;
  }

  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }

  /** A fresh generator whose draws do not disturb this one's sequence (for optional sub-choices). */
  fork(label: number): Rng {
    return new Rng(this.u32(), label);
  }
}

/** The stream of case `index` of campaign `seed`. */
export function caseRng(seed: number, index: number): Rng {
  return new Rng(seed, index + 1);
}
