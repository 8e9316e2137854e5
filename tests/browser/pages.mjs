// The pages the browser checks visit, picked from a built site: one of each kind a resident sees.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Folders under `dir` in sorted order (names only). */
function folders(dir) {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
}

/** Top-level folders of a site that are not the districts' (whose name is the city's word). */
const NOT_DISTRICTS = ['day', 'service', 'api', 'feeds', 'data', 'about', 'status', 'photos'];

/**
 * The pages to test, as folder paths of the site, by kind: home, the latest and the oldest day
 * page, district 1's week page (`ward/1/` in Chicago, `district/1/` in Boston) and its oldest
 * week, a district × service page, a service week page, the longest service year page (when
 * the site has any), the data, status and about pages.
 */
export function pickPages(site) {
  const word = folders(site).find(
    (f) => !NOT_DISTRICTS.includes(f) && existsSync(join(site, f, '1', 'index.html')),
  );
  if (!word) throw new Error(`${site}: no district pages (such as ward/1/); is this a built cwfy site?`);
  const days = folders(join(site, 'day')).filter((d) => /^\d{4}-\d{2}-\d{2}$/.test(d));
  if (days.length === 0) throw new Error(`${site}: no day pages; is this a built cwfy site?`);
  const latest = days[days.length - 1];
  // A featured service: one that has a column in the latest day's table by district.
  const dayPage = readFileSync(join(site, 'day', latest, 'index.html'), 'utf8');
  const services = [...dayPage.matchAll(new RegExp(`id="?by-${word}-([a-z0-9-]+)`, 'g'))].map((m) => m[1]);
  if (services.length === 0) throw new Error(`${site}/day/${latest}: no featured services`);
  const service = services.includes('potholes') ? 'potholes' : services[0];
  // Folder addresses, as people (and the canonical links) write them; `cwfy serve` answers each
  // with its index.html.
  // An archived day and week: the oldest the site has (archived pages are lighter; issue 21).
  const weeks = folders(join(site, word, '1', 'week')).filter((d) => /^\d{4}-\d{2}-\d{2}$/.test(d));
  if (weeks.length === 0) throw new Error(`${site}/${word}/1/week: no week pages`);
  const pages = {
    home: '',
    day: `day/${latest}/`,
    'archived day': `day/${days[0]}/`,
    'ward week': `${word}/1/`,
    'archived ward week': `${word}/1/week/${weeks[0]}/`,
    'ward × service': `${word}/1/${service}/`,
    'service week': `service/${service}/`,
    data: 'data/',
    status: 'status/',
    about: 'about/',
  };
  // A year of a service without week pages (issue 21): the longest one, the most rows.
  const years = folders(join(site, 'service')).flatMap((slug) =>
    folders(join(site, 'service', slug))
      .filter((y) => /^\d{4}$/.test(y))
      .map((y) => `service/${slug}/${y}/`),
  );
  const size = (path) => statSync(join(site, path, 'index.html')).size;
  if (years.length > 0) pages['service year'] = years.reduce((a, b) => (size(b) > size(a) ? b : a));
  for (const [kind, path] of Object.entries(pages)) {
    if (!existsSync(join(site, path, 'index.html'))) {
      throw new Error(`${join(site, path, 'index.html')} (the ${kind} page) is missing`);
    }
  }
  return pages;
}

/** Flags that keep Debian's chromium off the (closed) network and fit a container. */
export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
