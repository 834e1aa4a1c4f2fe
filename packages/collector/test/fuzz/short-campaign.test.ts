/**
 * A short seeded fuzz campaign against the real collector bin (loopback socket, embedded chDB, write-ahead
 * log): valid requests in meaning-preserving re-encodings, corruptions, HTTP twists and random bytes. The long
 * campaign is `npm run fuzz`; FUZZ_SEED / FUZZ_CASES change this one.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { killStrayProcesses } from '../support/node-process.ts';
import { formatReport } from './report.ts';
import { reproduceCommand, runCampaign } from './runner.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 20_260_401);
const CASES = Number(process.env.FUZZ_CASES ?? 200);

afterAll(killStrayProcesses);

describe('the collector under seeded OTLP fuzzing', () => {
  it('answers every request 200 or 4xx, stays up, and stores exactly what it acknowledged, SIGKILL and replay included', async () => {
    const report = await runCampaign({ seed: SEED, cases: CASES });
    if (report.failures.length > 0) console.error(formatReport(report, {}));
    const failures = report.failures.map(
      (f) => `case ${f.index ?? '-'} ${f.category}: ${f.message.split('\n')[0]}`,
    );
    expect(failures, `seed ${SEED}; reproduce with: ${reproduceCommand(SEED)} --cases ${CASES}`).toEqual([]);
  }, 300_000);
});
