// `node --import ./test/helpers/module-log.mjs ...`: every module the process
// resolves through the ESM loader, one URL a line, appended to $MODULE_LOG.
// Used to prove what a command does not load (test/cli/settings.test.ts).
import { register } from 'node:module';
import { URL } from 'node:url';

register(new URL('./module-log-hooks.mjs', import.meta.url));
