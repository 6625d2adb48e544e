#!/usr/bin/env node
// axe-check.mjs - check HTML reports with axe-core in a real Chromium.
//
//   node tests/tools/axe-check.mjs [--screenshot OUT.png] FILE.html...
//       Open every FILE in one headless Chromium (/usr/bin/chromium, or
//       $CHROMIUM) through playwright-core, run axe-core with the WCAG 2.0, 2.1 and
//       2.2 A and AA rules and axe's best practices (heading order, landmarks), and print "FILE: 0 violations" or each violation (rule,
//       impact, the first nodes). With --screenshot, the first FILE's first screen
//       at 1280x900 is written to OUT.png (for examples/report.png).
//
// Exit codes: 0 no violation, 1 violations, 2 usage, 3 Chromium cannot start
// (the bats file skips then, saying so). Test tooling only: the tools never run node.

import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, '..', 'package.json'));
let chromium, axeSource;
try {
  ({ chromium } = require('playwright-core'));
  axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
} catch (err) {
  console.error(`axe-check: cannot load playwright-core or axe-core (run: npm ci --prefix tests): ${err.message}`);
  process.exit(2);
}

const args = process.argv.slice(2);
let shot = null;
if (args[0] === '--screenshot') {
  shot = args[1];
  args.splice(0, 2);
}
if (!args.length) {
  console.error('usage: axe-check.mjs [--screenshot OUT.png] FILE.html...');
  process.exit(2);
}

let browser;
try {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu'],
  });
} catch (err) {
  console.error(`axe-check: chromium cannot start: ${err.message.split('\n')[0]}`);
  process.exit(3);
}

let bad = 0;
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  for (const [i, file] of args.entries()) {
    await page.goto(pathToFileURL(resolve(file)).href, { waitUntil: 'load' });
    if (i === 0 && shot)
      await page.screenshot({ path: shot, fullPage: false });
    await page.addScriptTag({ content: axeSource });
    const res = await page.evaluate(() => window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] },
      resultTypes: ['violations'],
    }));
    if (!res.violations.length) {
      console.log(`${file}: 0 violations (${res.passes.length} rules passed)`);
      continue;
    }
    bad++;
    for (const v of res.violations)
      console.log(`${file}: ${v.id} (${v.impact}): ${v.help}: ${v.nodes.length} nodes, e.g. ` +
        v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | '));
  }
} finally {
  await browser.close();
}
process.exit(bad ? 1 : 0);
