// Checks a served cwfy site in headless Debian chromium (through playwright-core):
//   1. axe-core: zero WCAG 2.1 A/AA violations on each page;
//   2. without JavaScript, each page shows the same text, numbers, charts and tables;
//   3. at 360 px nothing scrolls sideways and no text is cut; at 1280 px the content uses the width.
// With CWFY_SCREENSHOTS=1 it also saves the README's docs/screenshot-phone-ward.png and
// docs/screenshot-desktop-day.png.
//
// Usage: node browser.mjs SITE_DIR BASE_URL      (BASE_URL: where `cwfy serve` serves SITE_DIR)
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_FLAGS, pickPages } from './pages.mjs';

const require = createRequire(import.meta.url);
const AXE = require.resolve('axe-core/axe.min.js');
const [site, base] = process.argv.slice(2);
if (!site || !base) {
  console.error('usage: node browser.mjs SITE_DIR BASE_URL');
  process.exit(2);
}
const pages = pickPages(site);
const failures = [];
const fail = (kind, page, message) => {
  failures.push(`${kind} — ${page}: ${message}`);
};

const profile = mkdtempSync(join(tmpdir(), 'cwfy-chromium-'));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: CHROMIUM,
  args: CHROMIUM_FLAGS,
  headless: true,
  viewport: { width: 1280, height: 800 },
}).catch((e) => {
  console.error(`cannot start ${CHROMIUM}: ${e.message}\nInstall it with: apt-get install -y chromium`);
  process.exit(1);
});
// The persistent context runs with JavaScript; a second browser runs without it.
const noJsProfile = mkdtempSync(join(tmpdir(), 'cwfy-chromium-nojs-'));
const noJs = await chromium.launchPersistentContext(noJsProfile, {
  executablePath: CHROMIUM,
  args: CHROMIUM_FLAGS,
  headless: true,
  javaScriptEnabled: false,
  viewport: { width: 1280, height: 800 },
});

/** What a page shows: main's visible text, and how many tables, charts and figures it has. */
async function shown(page) {
  // Reading the DOM from the outside works without the page's JavaScript.
  const main = page.locator('main');
  return {
    text: (await main.innerText()).replace(/\s+/g, ' ').trim(),
    tables: await page.locator('main table').count(),
    charts: await page.locator('main svg[role="img"], main img[src$=".svg"]').count(),
    figures: await page.locator('main figure').count(),
  };
}

async function open(context, path, viewport) {
  const page = await context.newPage();
  if (viewport) await page.setViewportSize(viewport);
  const url = new URL(path, base).href;
  const response = await page.goto(url, { waitUntil: 'load' });
  if (!response || response.status() !== 200) {
    throw new Error(`${url}: HTTP ${response ? response.status() : 'no response'}`);
  }
  return page;
}

/** Elements wider than the viewport or cut by their box, at the page's current width. */
async function overflow(page) {
  return page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    const problems = [];
    const scrolls = (el) => {
      for (let p = el.parentElement; p; p = p.parentElement) {
        const o = getComputedStyle(p).overflowX;
        if (o === 'auto' || o === 'scroll') return true;
      }
      return false;
    };
    const name = (el) =>
      el.tagName.toLowerCase() + (el.id ? `#${el.id}` : '') + (el.className && typeof el.className === 'string' ? `.${el.className.trim().split(/\s+/).join('.')}` : '');
    if (document.documentElement.scrollWidth > width) {
      problems.push(`the page scrolls sideways: ${document.documentElement.scrollWidth}px wide in a ${width}px window`);
    }
    for (const el of document.body.querySelectorAll('*')) {
      const style = getComputedStyle(el);
      if (style.display === 'none' || style.visibility === 'hidden') continue;
      const box = el.getBoundingClientRect();
      if (box.width === 0 && box.height === 0) continue;
      // An SVG clips what it draws to its own box (a map's neighbouring wards run past its
      // edge): what shows of an element inside one ends at the SVG's edge.
      const svg = el.ownerSVGElement ? el.closest('svg') : null;
      const clip = svg && getComputedStyle(svg).overflow !== 'visible' ? svg.getBoundingClientRect().right : Infinity;
      const r = { right: Math.min(box.right, clip) };
      // The skip link waits off-screen until focused.
      if (el.classList.contains('skip')) continue;
      if (r.right > width + 0.5 && !scrolls(el)) {
        problems.push(`${name(el)} reaches ${Math.round(r.right)}px, past the ${width}px window`);
      }
      // Text fields scroll their own text by design; anything else that clips cuts text.
      const field = ['INPUT', 'TEXTAREA', 'SELECT'].includes(el.tagName);
      const clips = !field && (['hidden', 'clip'].includes(style.overflowX) || style.textOverflow === 'ellipsis');
      if (clips && el.scrollWidth > el.clientWidth + 1) {
        problems.push(`${name(el)} cuts its content (${el.scrollWidth}px in ${el.clientWidth}px)`);
      }
    }
    return problems.slice(0, 10);
  });
}

for (const [kind, path] of Object.entries(pages)) {
  const label = `${kind} (/${path})`;
  // 1. Accessibility.
  const page = await open(browser, path);
  await page.addScriptTag({ path: AXE });
  const axe = await page.evaluate(() =>
    // eslint-disable-next-line no-undef
    axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
      resultTypes: ['violations'],
    }),
  );
  for (const v of axe.violations) {
    const where = v.nodes.slice(0, 5).map((n) => `\n      ${n.target.join(' ')}: ${n.failureSummary.replace(/\s+/g, ' ')}`).join('');
    fail('axe', label, `${v.id} (${v.impact}): ${v.help} — ${v.nodes.length} element(s)${where}`);
  }
  console.log(`axe  ${label}: ${axe.violations.length} violations, ${axe.passes ? axe.passes.length : 0} rules passed`);

  // 2. Without JavaScript: the same content.
  const withJs = await shown(page);
  const plain = await open(noJs, path);
  const withoutJs = await shown(plain);
  if (withoutJs.text !== withJs.text) {
    fail('no-js', label, 'the text of <main> differs without JavaScript');
  }
  for (const k of ['tables', 'charts', 'figures']) {
    if (withoutJs[k] !== withJs[k]) fail('no-js', label, `${withoutJs[k]} ${k} without JavaScript, ${withJs[k]} with it`);
  }
  if (kind !== 'about' && kind !== 'data') {
    if (!/\d/.test(withoutJs.text)) fail('no-js', label, 'no number shown without JavaScript');
    if (withoutJs.tables === 0) fail('no-js', label, 'no table without JavaScript');
  }
  console.log(`nojs ${label}: ${withoutJs.tables} tables, ${withoutJs.charts} charts, ${withoutJs.text.length} characters of text`);
  await plain.close();

  // 3. Phone and desktop widths.
  await page.setViewportSize({ width: 360, height: 740 });
  for (const p of await overflow(page)) fail('360px', label, p);
  await page.setViewportSize({ width: 1280, height: 800 });
  for (const p of await overflow(page)) fail('1280px', label, p);
  const used = await page.evaluate(() => document.querySelector('main').getBoundingClientRect().width);
  if (used < 1280 * 0.8) fail('1280px', label, `<main> is ${Math.round(used)}px wide, under 80% of a 1280px window`);
  await page.close();
}

if (process.env.CWFY_SCREENSHOTS === '1') {
  // The README's two screenshots: a ward's week in review on a phone, a day's charts on a desktop.
  const docs = resolve(new URL('../../docs', import.meta.url).pathname);
  const shots = [
    ['screenshot-phone-ward.png', pages['ward week'], { width: 360, height: 740 }],
    ['screenshot-desktop-day.png', pages.home, { width: 1280, height: 800 }],
  ];
  for (const [file, url, size] of shots) {
    const page = await open(browser, url, size);
    await page.evaluate(() => document.querySelector('main h2')?.scrollIntoView());
    await page.screenshot({ path: join(docs, file) });
    await page.close();
  }
  console.log(`screenshots saved in ${docs}`);
}

await browser.close();
await noJs.close();
rmSync(profile, { recursive: true, force: true });
rmSync(noJsProfile, { recursive: true, force: true });

if (failures.length > 0) {
  console.error(`\n${failures.length} browser check(s) failed:`);
  for (const f of failures) console.error(`  ${f}`);
  process.exit(1);
}
console.log('browser checks: all pages pass (axe WCAG 2.1 A/AA, no JavaScript, 360px and 1280px)');
