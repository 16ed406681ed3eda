import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { detectorDefaults } from '../../src/consumers/detectors/index.js';

it('docs/detectors.md describes every detector in the catalog', () => {
  const doc = readFileSync(new URL('../../docs/detectors.md', import.meta.url), 'utf8');
  const names = Object.keys(detectorDefaults()).filter((k) => k !== 'alerts');
  assert.ok(names.length >= 10, `catalog: ${names.join(', ')}`);
  for (const name of names) assert.match(doc, new RegExp(`^\\| \`${name}\` \\|`, 'm'), `${name} has a row`);
});
