/** Regenerates .env.example from the configuration's variable table: `npx tsx scripts/env-example.ts`. */
import { writeFileSync } from 'node:fs';
import { VARIABLES } from '../src/config/index.js';

const lines = ['# Pagos Hotspot configuration. Required variables have no default.', ''];
for (const v of VARIABLES) {
  lines.push(`# ${v.doc}${v.required ? ' (required)' : ''}`);
  lines.push(`${v.name}=${v.required ? '' : v.default}`);
  lines.push('');
}
writeFileSync('.env.example', lines.join('\n'));
