// A worker thread's bootstrap, in plain JavaScript. It loads the entry module
// (workerData.entry, a URL) and calls its main(workerData.init). From the
// compiled package the entry is JavaScript; from the TypeScript sources (tests,
// development) it registers tsx first, since a Worker inherits neither
// `node --import tsx` nor the bin's tsx registration.
import { workerData } from 'node:worker_threads';

if (workerData.entry.endsWith('.ts')) {
  const { register } = await import('tsx/esm/api');
  register();
}
const { main } = await import(workerData.entry);
main(workerData.init);
