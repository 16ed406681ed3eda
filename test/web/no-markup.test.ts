/** The dashboard never turns text into markup: no HTML-parsing DOM APIs anywhere in web/src. */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? files(join(dir, n)) : [join(dir, n)]));
}

it('web/src uses no innerHTML, outerHTML, insertAdjacentHTML, document.write or DOMParser', () => {
  const sources = files('web/src').filter((f) => f.endsWith('.ts'));
  assert.ok(sources.length >= 5);
  for (const f of sources) {
    const code = readFileSync(f, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
    assert.doesNotMatch(code, /\.(innerHTML|outerHTML)\b|insertAdjacentHTML|document\.write|DOMParser|createContextualFragment/, f);
  }
});
