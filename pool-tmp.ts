import { V2KeyPool } from './src/sources/p2p/v2-keys.ts';
import { setTimeout as sleep } from 'node:timers/promises';
for (let round = 0; round < 8; round++) {
  const pool = new V2KeyPool(round % 2 ? 1024 : 64);
  while (pool.ready < 40) await sleep(2);
  for (let i = 0; i < 30; i++) pool.take();
  const t = Date.now();
  const timer = setTimeout(() => console.log('close still pending after 5 s, round', round), 5000);
  await pool.close();
  clearTimeout(timer);
  console.log('round', round, 'closed in', Date.now() - t, 'ms');
}
