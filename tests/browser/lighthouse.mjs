// Runs Lighthouse (mobile, its default) in headless Debian chromium against a served cwfy site on
// the home, ward week and service week pages; fails when any category scores under the minimum.
//
// Usage: node lighthouse.mjs SITE_DIR BASE_URL [MIN_SCORE=95]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as chromeLauncher from 'chrome-launcher';
import lighthouse from 'lighthouse';
import { CHROMIUM, CHROMIUM_FLAGS, pickPages } from './pages.mjs';

const [site, base, min = '95'] = process.argv.slice(2);
if (!site || !base) {
  console.error('usage: node lighthouse.mjs SITE_DIR BASE_URL [MIN_SCORE]');
  process.exit(2);
}
const minimum = Number(min);
const all = pickPages(site);
const pages = { home: all.home, 'ward week': all['ward week'], 'service week': all['service week'] };
const categories = ['performance', 'accessibility', 'best-practices', 'seo'];
const RUNS = 3;
const failures = [];
const rows = [];

const profile = mkdtempSync(join(tmpdir(), 'cwfy-lighthouse-'));
const chrome = await chromeLauncher.launch({
  chromePath: CHROMIUM,
  chromeFlags: CHROMIUM_FLAGS,
  userDataDir: profile,
  logLevel: 'error',
});
try {
  for (const [kind, path] of Object.entries(pages)) {
    const url = new URL(path, base).href;
    // Up to RUNS runs, keeping the best score of each category: on a shared two-core CI machine
    // another process can stall one run's main thread (Lighthouse's own advice is to run it
    // several times); a page that really is slow fails every run.
    let best = null;
    let report = null;
    for (let run = 1; run <= RUNS; run++) {
      const result = await lighthouse(url, {
        port: chrome.port,
        output: 'json',
        logLevel: 'error',
        onlyCategories: categories,
      });
      const lhr = result.lhr;
      if (lhr.runtimeError) {
        failures.push(`${kind} (${url}): Lighthouse could not run: ${lhr.runtimeError.message}`);
        best = null;
        break;
      }
      const scores = Object.fromEntries(categories.map((c) => [c, Math.round((lhr.categories[c].score ?? 0) * 100)]));
      if (!best) {
        best = { scores, lhr, runs: run };
      } else {
        for (const c of categories) best.scores[c] = Math.max(best.scores[c], scores[c]);
        best.runs = run;
        best.lhr = lhr;
      }
      report = result.report;
      if (categories.every((c) => best.scores[c] >= minimum)) break;
    }
    if (!best) continue;
    for (const c of categories) {
      if (best.scores[c] < minimum) {
        // Name the audits that cost points in the last run, so the fix is obvious.
        const lhr = best.lhr;
        const lost = lhr.categories[c].auditRefs
          .filter((r) => r.weight > 0 && (lhr.audits[r.id].score ?? 1) < 1)
          .map((r) => `${r.id} (${lhr.audits[r.id].displayValue || lhr.audits[r.id].title})`);
        failures.push(`${kind} (${url}): ${c} ${best.scores[c]} < ${minimum} in ${best.runs} runs; audits below full marks: ${lost.join(', ') || 'none weighted'}`);
      }
    }
    rows.push({ kind, path: `/${path}`, runs: best.runs, ...best.scores });
    if (process.env.CWFY_LIGHTHOUSE_REPORTS) {
      writeFileSync(join(process.env.CWFY_LIGHTHOUSE_REPORTS, `${kind.replace(/\W+/g, '-')}.json`), report);
    }
  }
} finally {
  await chrome.kill();
  rmSync(profile, { recursive: true, force: true });
}

console.log('Lighthouse scores (mobile):');
console.log(`  ${'page'.padEnd(36)} ${categories.map((c) => c.padStart(15)).join('')}   runs`);
for (const r of rows) {
  console.log(`  ${`${r.kind} (${r.path})`.padEnd(36)} ${categories.map((c) => String(r[c]).padStart(15)).join('')}   ${r.runs}`);
}
if (failures.length > 0) {
  console.error(`\n${failures.length} Lighthouse check(s) failed:`);
  for (const f of failures) console.error(`  ${f}`);
  process.exit(1);
}
console.log(`Lighthouse: every category at least ${minimum} on every page`);
