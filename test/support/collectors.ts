/**
 * Several collector processes (the real `tallyhouse` bin) writing to one store: each with its own data directory,
 * HTTP port and (optionally) gRPC port, all with the store's `collectorEnv` — what a fleet behind a load balancer
 * is. Started together, as a fleet rolls out: the shared schema is created by whichever comes first.
 */
import {
  type CollectorProcess,
  freePort,
  startCollectorProcess,
} from '../../packages/collector/test/support/collector-process.ts';

export interface FleetCollector extends CollectorProcess {
  readonly index: number;
  readonly dataDir: string;
  /** `127.0.0.1:<port>`, as a load balancer names it. */
  readonly address: string;
  readonly grpcPort: number | undefined;
  /** `127.0.0.1:<grpcPort>` */
  readonly grpcAddress: string | undefined;
  /** Its `GET /metrics` (Prometheus text). */
  scrape(): Promise<string>;
}

export async function startCollectors(options: {
  readonly count: number;
  /** The data directory of collector `index`. */
  readonly dataDir: (index: number) => string;
  /** Settings for all of them (the store's `collectorEnv` among them). */
  readonly env: Readonly<Record<string, string>>;
  /** Open an OTLP/gRPC port on each. */
  readonly grpc?: boolean;
}): Promise<FleetCollector[]> {
  const indexes = Array.from({ length: options.count }, (_, index) => index);
  const started = await Promise.allSettled(
    indexes.map(async (index): Promise<FleetCollector> => {
      const dataDir = options.dataDir(index);
      const grpcPort = options.grpc === true ? await freePort() : undefined;
      const collector = await startCollectorProcess({
        dataDir,
        env: {
          ...options.env,
          ...(grpcPort === undefined ? {} : { TALLYHOUSE_GRPC_PORT: String(grpcPort) }),
        },
      });
      return {
        ...collector,
        index,
        dataDir,
        address: `127.0.0.1:${collector.port}`,
        grpcPort,
        grpcAddress: grpcPort === undefined ? undefined : `127.0.0.1:${grpcPort}`,
        async scrape() {
          const response = await fetch(`http://127.0.0.1:${collector.port}/metrics`, {
            signal: AbortSignal.timeout(10_000),
          });
          if (!response.ok) throw new Error(`collector ${index} /metrics answered ${response.status}`);
          return response.text();
        },
      };
    }),
  );
  const failed = started.filter((result) => result.status === 'rejected');
  const running = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  if (failed.length > 0) {
    await Promise.all(running.map((collector) => collector.kill()));
    throw (failed[0] as PromiseRejectedResult).reason;
  }
  return running;
}

/** The sum of the Prometheus samples of `name` that carry every label given (0 when none does). */
export function sampleValue(
  text: string,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): number {
  const wanted = Object.entries(labels);
  let sum = 0;
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null || match[1] !== name) continue;
    const present = new Map(
      [...(match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((label) => [
        label[1],
        label[2],
      ]),
    );
    if (wanted.every(([key, value]) => present.get(key) === value)) sum += Number(match[3]);
  }
  return sum;
}
