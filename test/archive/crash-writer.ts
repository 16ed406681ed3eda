/**
 * Test-only: a sustained stream of events through the archive consumer, for the
 * crash test to SIGKILL. Prints `committed <last seq>` after each committed
 * batch (stdout on a pipe is synchronous on Linux, and writeSync makes sure).
 * Usage: node --import tsx crash-writer.ts DATA_DIR BATCH_SIZE [MAX_DB_MB]
 */
import { writeSync } from 'node:fs';
import { EmbeddedBus } from '../../src/bus/embedded.js';
import { startArchive } from '../../src/consumers/archive/consumer.js';
import { message, seqOf } from './events.js';

const [dataDir, batch, maxDbMb] = process.argv.slice(2);
const bus = new EmbeddedBus();
startArchive(bus, {
  dataDir: dataDir!,
  batchSize: Number(batch),
  flushMs: 20,
  foldRate: 0,
  ...(maxDbMb ? { maxDbMb: Number(maxDbMb) } : {}),
  onCommit: (b) => writeSync(1, `committed ${seqOf(b.last)}\n`),
  onError: (e) => writeSync(2, `${e.message}\n`),
});
let seq = 0;
for (;;) {
  for (let i = 0; i < 250; i++) bus.publish(message(seq++, { pad: 200 }));
  // Sustained, never dropping: let the archive take what is queued before publishing more.
  await bus.drain();
}
