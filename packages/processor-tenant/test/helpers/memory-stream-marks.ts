import type { StreamMark, StreamMarks } from '../../src/stream-marks.ts';

/**
 * Marks shared by the processors of one test, held in memory: what the ClickHouse table gives (the latest mark
 * per stream, owner and kind; every write visible to reads once it resolved), with a write sequence standing in
 * for the server's clock. The ClickHouse implementation is tested against the real engine in the exporter.
 */
export class MemoryMarkTable {
  private readonly latest = new Map<string, { mark: StreamMark; sequence: number }>();
  private sequence = 0;
  /** Makes the next N reads or writes fail (a store outage). */
  failNext = 0;
  /** Runs once at the start of the next read: input that arrives while a flush waits for the store. */
  duringNextRead: (() => void) | undefined;

  /** One process's view, as `owner`. */
  as(owner: string): StreamMarks {
    let seen = this.sequence;
    return {
      owner,
      write: async (marks) => {
        this.maybeFail();
        for (const mark of marks) {
          this.latest.set(`${mark.key}\u0000${mark.owner}\u0000${mark.kind}`, {
            mark,
            sequence: ++this.sequence,
          });
        }
      },
      read: async (streams) => {
        this.maybeFail();
        const during = this.duringNextRead;
        this.duringNextRead = undefined;
        during?.();
        const wanted = new Set(streams.map((stream) => stream.key));
        return [...this.latest.values()].map((entry) => entry.mark).filter((mark) => wanted.has(mark.key));
      },
      foreignSince: async (tenants) => {
        this.maybeFail();
        const wanted = new Set(tenants);
        const since = seen;
        seen = this.sequence;
        return [...this.latest.values()]
          .filter((entry) => entry.sequence > since)
          .map((entry) => entry.mark)
          .filter((mark) => mark.owner !== owner && wanted.has(mark.tenant));
      },
    };
  }

  private maybeFail() {
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('mark store unavailable');
    }
  }
}
