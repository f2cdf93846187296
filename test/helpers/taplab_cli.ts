// The taplab command run from the TypeScript sources (through tsx), for tests
// that spawn it when dist/ is older than src/: `node --import tsx test/helpers/taplab_cli.ts ARGS`.
import { main } from '../../src/tools/cli.js';

process.exitCode = await main(process.argv.slice(2));
