/**
 * Points handed to the next stage and not settled yet (they still count as held: the next stage may hand them
 * back), and when everything handed off was last taken downstream (the flush clock).
 */
export class Flight {
  private inFlight = 0;
  private lastDrainedAt: number;
  private readonly now: () => number;
  /** Points returned by the next stage and merged back into the buffer. */
  restoredPoints = 0;

  constructor(now: () => number) {
    this.now = now;
    this.lastDrainedAt = now();
  }

  get size(): number {
    return this.inFlight;
  }

  handedOff(points: number) {
    this.inFlight += points;
  }

  /** `handedOff` points are settled; `returned` of them come back to the buffer. */
  settled(handedOff: number, returned: number) {
    this.inFlight -= handedOff;
    this.restoredPoints += returned;
  }

  /** Restarts the flush clock: everything taken was taken downstream. */
  markDrained() {
    this.lastDrainedAt = this.now();
  }

  /** Milliseconds since the buffer last fully drained: how overdue a retry is. */
  elapsedSinceDrainedMs(): number {
    return this.now() - this.lastDrainedAt;
  }
}
