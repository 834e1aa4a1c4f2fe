import { silentLogger } from '@tallyhouse/model';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ClickHouseMetricExporter,
  EmbeddedEngineUnavailableError,
  openEmbeddedConnection,
} from '../src/index.ts';
import { mixedBatch, tempDir } from './support.ts';

// This process's engine is bound to one directory; a second one cannot be opened here.
const bound = openEmbeddedConnection(tempDir('bound'));
afterAll(async () => {
  await bound.close();
});

describe('when the embedded engine cannot be opened', () => {
  it('start() fails with a clear, typed error', async () => {
    const exporter = new ClickHouseMetricExporter({
      dataDir: tempDir('other'),
      logger: silentLogger,
      env: {},
    });
    const failure = exporter.start();
    await expect(failure).rejects.toBeInstanceOf(EmbeddedEngineUnavailableError);
    await expect(failure).rejects.toThrow(/TALLYHOUSE_DATA_DIR/);
  });

  it('consumeBatch hands every point back instead of keeping what could never be written', async () => {
    const exporter = new ClickHouseMetricExporter({
      dataDir: tempDir('other'),
      logger: silentLogger,
      env: {},
    });
    const batch = mixedBatch('b-no-engine');
    const result = await exporter.consumeBatch(batch);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toBeInstanceOf(EmbeddedEngineUnavailableError);
    expect(result.failed).toEqual(batch.points);
    expect(exporter.stats().refusedPoints).toBe(5);
  });
});
