/**
 * Hands the event loop back once `budgetMs` of synchronous work has passed, so assembling a large answer never
 * holds it longer than about that (health checks, ingest and other reads go on meanwhile). Loops check `due()`
 * every so many items — cheaper than awaiting `tick()` for each.
 */
export class Slicer {
  private readonly budgetMs: number;
  private last = performance.now();

  constructor(budgetMs = 4) {
    this.budgetMs = budgetMs;
  }

  due(): boolean {
    return performance.now() - this.last >= this.budgetMs;
  }

  async pause(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.last = performance.now();
  }

  async tick(): Promise<void> {
    if (this.due()) await this.pause();
  }
}
