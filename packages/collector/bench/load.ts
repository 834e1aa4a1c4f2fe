/**
 * The protocol-independent half of the end-to-end benchmark's load generator: workers that send the pre-encoded
 * payloads through a `Sender` (OTLP/HTTP in `http-load.ts`, OTLP/gRPC in `grpc-load.ts`) for a fixed time, the
 * latency record, and the summary both phases are compared by.
 */
import type { Payload } from './payloads.ts';

/** How the collector answered one export. */
export type Outcome = 'ok' | 'partial' | 'pushed-back' | 'failed';

/** One protocol's way to send an export. */
export interface Sender {
  /** Sends `body` for `tenant` on the connection / channel of `worker`. */
  send(worker: number, tenant: string, body: Buffer): Promise<Outcome>;
  close(): Promise<void>;
}

export interface LoadOptions {
  readonly payloads: readonly Payload[];
  /** Workers, each with one export in flight. */
  readonly clients: number;
  readonly durationSeconds: number;
  /** Load before the timed part: stored and checked, not timed. */
  readonly warmUpMs: number;
  /** Open loop: offer this many points/s instead of as many as the workers carry. */
  readonly rate?: number | undefined;
  /** Called between warm-up and the timed part (e.g. to take CPU readings). */
  readonly atTimedStart?: () => Promise<void>;
}

export interface LoadResult {
  /** Answered in the timed part (any outcome). */
  readonly requests: number;
  readonly ok: number;
  readonly partial: number;
  readonly pushedBack: number;
  readonly failed: number;
  readonly acceptedPoints: number;
  readonly elapsedSeconds: number;
  /** Latencies (ms) of the timed part, sorted. */
  readonly latencies: Float64Array;
}

export interface LoadSummary {
  readonly pointsPerSecond: number;
  readonly requestsPerSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

const MAX_LATENCIES = 5_000_000;
const PUSH_BACK_PAUSE_MS = 50;

// Shared by every phase: a body sent in the HTTP phase must not come back byte-identical in the gRPC phase.
let sequence = 0;

/**
 * Runs the workers for `warmUpMs` and then `durationSeconds`. Every `ok`/`partial` answer adds the payload's value
 * sum to `acknowledged` (per tenant, warm-up included): what storage must hold afterwards.
 */
export async function runLoad(
  sender: Sender,
  options: LoadOptions,
  acknowledged: Map<string, number>,
): Promise<LoadResult> {
  const { payloads, clients } = options;
  const latencies = new Float64Array(MAX_LATENCIES);
  const counts = { requests: 0, ok: 0, partial: 0, pushedBack: 0, failed: 0, acceptedPoints: 0 };
  const pointsPerRequest = payloads[0]?.points ?? 1;
  const requestsPerSecond = options.rate === undefined ? undefined : options.rate / pointsPerRequest;
  let phaseStart = 0;
  let issued = 0;

  // Closed loop by default: a worker sends its next export as soon as the previous one is answered. With a rate,
  // export k is due at phaseStart + k / requestsPerSecond and its latency counts from then, so time queued behind a
  // slow answer is measured (no coordinated omission).
  const worker = async (index: number, deadline: number, timed: boolean) => {
    let next = index;
    while (performance.now() < deadline) {
      const payload = payloads[next % payloads.length]!;
      next += clients;
      let started = performance.now();
      if (requestsPerSecond !== undefined) {
        const due = phaseStart + (issued++ * 1_000) / requestsPerSecond;
        if (due >= deadline) break;
        if (due > started) await sleep(due - started);
        started = due;
      }
      const outcome = await sender.send(index, payload.tenant, distinctBody(payload.body, sequence++));
      const elapsed = performance.now() - started;
      if (outcome === 'ok' || outcome === 'partial') {
        acknowledged.set(payload.tenant, (acknowledged.get(payload.tenant) ?? 0) + payload.valueSum);
      }
      // Warm-up failures still fail the run; the rest counts only when timed.
      if (outcome === 'failed') counts.failed++;
      if (outcome === 'partial') counts.partial++;
      if (timed) {
        if (counts.requests < MAX_LATENCIES) latencies[counts.requests] = elapsed;
        counts.requests++;
        if (outcome === 'ok' || outcome === 'partial') {
          counts.ok++;
          counts.acceptedPoints += payload.points;
        }
      }
      if (outcome === 'pushed-back') {
        counts.pushedBack++;
        await sleep(PUSH_BACK_PAUSE_MS);
      }
    }
  };
  const runAll = (deadline: number, timed: boolean) =>
    Promise.all(Array.from({ length: clients }, (_, index) => worker(index, deadline, timed)));

  phaseStart = performance.now();
  await runAll(phaseStart + options.warmUpMs, false);
  await options.atTimedStart?.();
  const started = performance.now();
  phaseStart = started;
  issued = 0;
  await runAll(started + options.durationSeconds * 1_000, true);
  const elapsedSeconds = (performance.now() - started) / 1_000;
  return {
    ...counts,
    elapsedSeconds,
    latencies: latencies.slice(0, Math.min(counts.requests, MAX_LATENCIES)).sort(),
  };
}

export function summarize(result: LoadResult): LoadSummary {
  return {
    pointsPerSecond: result.acceptedPoints / result.elapsedSeconds,
    requestsPerSecond: result.ok / result.elapsedSeconds,
    p50: percentile(result.latencies, 50),
    p99: percentile(result.latencies, 99),
    max: percentile(result.latencies, 100),
  };
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The body with an unknown field (number 9999, varint `sequence`) appended, which OTLP decoders skip. Real
 * SDK exports always differ (timestamps, values); the collector answers a byte-identical body within its
 * resend window as a retry of the first and does not count it again, so reusing a pre-encoded payload as-is
 * would measure that, not ingestion.
 */
function distinctBody(body: Uint8Array, sequence: number): Buffer {
  const UNKNOWN_VARINT_FIELD_TAG = (9999 << 3) | 0;
  return Buffer.concat([body, varint(UNKNOWN_VARINT_FIELD_TAG), varint(sequence)]);
}

function varint(value: number): Uint8Array {
  const bytes: number[] = [];
  let rest = value;
  do {
    bytes.push((rest & 0x7f) | (rest > 0x7f ? 0x80 : 0));
    rest = Math.floor(rest / 128);
  } while (rest > 0);
  return Uint8Array.from(bytes);
}
