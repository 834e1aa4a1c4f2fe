/**
 * A ClickHouse HTTP endpoint over embedded chDB (the exporter's test facade) as its own process, so a
 * collector can use it as `CLICKHOUSE_URL` and a test can take storage down and bring it back:
 *
 *   node --conditions=@tallyhouse/source test/chaos/facade-process.ts <chdbDir>
 *
 * Prints `listening <port>`; stdin lines `down` (every request gets 503) and `up` switch modes; SIGTERM closes.
 */
import { createInterface } from 'node:readline';
import { ClickHouseHttpFacade } from '../../packages/exporter-clickhouse/test/http-facade.ts';

const dir = process.argv[2];
if (dir === undefined) {
  console.error('usage: facade-process.ts <chdbDir>');
  process.exit(2);
}
const facade = new ClickHouseHttpFacade(dir);
const port = await facade.listen(0);
console.log(`listening ${port}`);
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === 'down') facade.misbehave('503');
  else if (line.trim() === 'up') facade.misbehave('ok');
  console.log(`mode ${facade.mode}`);
});
process.once('SIGTERM', () => {
  void facade.close().then(() => process.exit(0));
});
