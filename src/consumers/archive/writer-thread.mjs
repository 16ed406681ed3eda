// The archive writer thread's bootstrap, in plain JavaScript: a Worker inherits
// neither `node --import tsx` nor the bin's tsx registration, so it registers
// tsx itself, then loads the TypeScript entry module (workerData.entry, a URL)
// and calls its main(workerData.init).
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const { main } = await import(workerData.entry);
main(workerData.init);
