// The status page in a real browser: Debian's Chromium, headless, against the real `flare serve --demo`.
// Expectations come from the JSON API of the same server, never from a list written here.
//
// `flare serve` makes reads public, so an anonymous reader sees the public page. The tests read as staff (a key
// with scope incidents:read, sent by the browser as Authorization), except those of public mode, which read as
// the public and check it against what staff see.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

import { ARTIFACTS, Browser, Flare, until } from './harness.mjs';

const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
const IMPACT = { degraded: 'degraded performance', partial_outage: 'partial outage', major_outage: 'major outage' };
const DAY_NAME = /^\d{1,2} [A-Z][a-z]{2} \d{4}: \d{1,3}(\.\d)?% available, (no incidents|1 incident|\d+ incidents)$/;

let flare;
let browser;
let systems;
let staff;

before(async () => {
  flare = await Flare.start();
  browser = await Browser.start();
  staff = { authorization: `Bearer ${await flare.key('incidents:read')}` };
  flare.readAs(staff.authorization.slice('Bearer '.length));
  systems = new Map((await flare.json('/api/systems')).systems.map((s) => [s.id, s.name]));
});

after(async () => {
  await browser?.stop();
  await flare?.stop();
});

/// `2026-11-22 09:05 UTC`, as the page writes a time.
function readable(rfc3339) {
  return `${rfc3339.slice(0, 10)} ${rfc3339.slice(11, 16)} UTC`;
}

function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

/// The tickets the incident list of the range shows, in its order.
async function listed(page) {
  return page.locator('section[aria-labelledby="list-h"] table.incidents tbody tr td:first-child a').allTextContents();
}

/// A page as staff see it, or as the public does with `{ anonymous: true }`.
async function open(path, { anonymous = false, ...options } = {}) {
  const page = await browser.page({ ...options, headers: anonymous ? {} : staff });
  await page.goto(`${flare.base}${path}`);
  return page;
}

/// The tickets the API has for the last `days` days, with the page's filters applied.
async function expected(query) {
  return (await flare.incidents(query)).map((i) => i.ticket).sort();
}

function lastDays(days) {
  const to = new Date();
  return { from: new Date(to.getTime() - days * 86_400_000).toISOString(), to: to.toISOString() };
}

describe('the incident list', () => {
  test('every incident the API has in the chosen range is listed', async () => {
    const to = new Date();
    const from = new Date(to.getTime() - 20 * 86_400_000);
    const page = await open(`/?from=${isoDay(from)}&to=${isoDay(to)}`);
    const api = await expected({ from: isoDay(from), to: new Date().toISOString() });
    assert.ok(api.length > 0, 'the demo data has incidents in the last 20 days');
    assert.deepEqual((await listed(page)).sort(), api);
    await page.close();
  });

  test('no incident outside the chosen range is listed', async () => {
    const from = new Date(Date.now() - 89 * 86_400_000);
    const to = new Date(Date.now() - 60 * 86_400_000);
    const inside = new Set(await expected({ from: isoDay(from), to: isoDay(to) }));
    const everything = await expected(lastDays(90));
    const outside = everything.filter((t) => !inside.has(t));
    assert.ok(inside.size > 0 && outside.length > 0, 'the demo data has incidents on both sides of the range');
    const page = await open(`/?from=${isoDay(from)}&to=${isoDay(new Date(to.getTime() - 86_400_000))}`);
    const shown = new Set(await listed(page));
    assert.deepEqual(outside.filter((t) => shown.has(t)), []);
    await page.close();
  });
});

describe('quick ranges', () => {
  for (const [range, days, label] of [['24h', 1, '24 hours'], ['7d', 7, '7 days'], ['30d', 30, '30 days'], ['90d', 90, '90 days']]) {
    test(`the ${label} quick range lists that range's incidents and puts it in the URL`, async () => {
      const page = await open('/?range=24h');
      await page.getByRole('link', { name: `Last ${label}` }).click();
      await page.waitForURL((url) => url.searchParams.get('range') === range);
      assert.deepEqual((await listed(page)).sort(), await expected(lastDays(days)));
      assert.equal(await page.getByRole('link', { name: `Last ${label}` }).getAttribute('aria-current'), 'true');
      await page.close();
    });
  }
});

describe('filters', () => {
  async function filterBy(label, field, pick) {
    const page = await open('/?range=90d');
    const select = page.getByLabel(label, { exact: true });
    const values = (await select.locator('option').evaluateAll((os) => os.map((o) => o.value))).filter(Boolean);
    const value = await pick(values);
    await select.selectOption(value);
    await page.getByRole('button', { name: 'Show' }).click();
    await page.waitForURL((url) => url.searchParams.get(field) === value);
    const url = new URL(page.url());
    const query = { from: url.searchParams.get('from'), to: new Date().toISOString(), [field]: value };
    const shown = (await listed(page)).sort();
    await page.close();
    return { shown, api: await expected(query), all: await expected({ from: query.from, to: query.to }) };
  }

  /// A value whose filter keeps some incidents and drops others, so the test can tell a filter from none.
  async function telling(field, values) {
    const all = (await flare.incidents(lastDays(90))).length;
    for (const value of values) {
      const n = (await flare.incidents({ ...lastDays(90), [field]: value })).length;
      if (n > 0 && n < all) return value;
    }
    throw new Error(`no ${field} splits the demo data`);
  }

  test('the system filter lists only that system\'s incidents and puts it in the URL', async () => {
    const { shown, api, all } = await filterBy('System', 'system', (vs) => telling('system', vs));
    assert.deepEqual(shown, api);
    assert.ok(shown.length < all.length);
  });

  test('the severity filter lists only incidents of that severity and puts it in the URL', async () => {
    const { shown, api, all } = await filterBy('Severity', 'severity', (vs) => telling('severity', vs));
    assert.deepEqual(shown, api);
    assert.ok(shown.length < all.length);
  });

  test('the status filter lists only incidents with that status and puts it in the URL', async () => {
    const { shown, api, all } = await filterBy('Status', 'status', (vs) => telling('status', vs));
    assert.deepEqual(shown, api);
    assert.ok(shown.length < all.length);
  });
});

describe('the timeline tooltip', () => {
  /// The widest bar of the 90-day view, so the pointer lands on it and not on a neighbour.
  async function widestBar(page) {
    const bars = page.locator('.bar');
    const widths = await bars.evaluateAll((bs) => bs.map((b) => b.getBoundingClientRect().width));
    return bars.nth(widths.indexOf(Math.max(...widths)));
  }

  async function assertTipDescribes(tip, ticket) {
    const incident = await flare.json(`/api/incidents/${ticket}`);
    const text = await tip.innerText();
    assert.ok(text.includes(incident.title), `title in: ${text}`);
    assert.ok(text.includes(incident.description), `description in: ${text}`);
    for (const s of incident.systems) {
      assert.ok(text.includes(`${systems.get(s.system)} — ${IMPACT[s.impact]}`), `${s.system} in: ${text}`);
    }
    assert.ok(text.includes(incident.engineer ?? 'not assigned'), `engineer in: ${text}`);
    assert.match(text, new RegExp(`Start\\s+${readable(incident.started_at)}`));
    assert.match(text, new RegExp(`End\\s+${incident.resolved_at ? readable(incident.resolved_at) : 'ongoing'}`));
    assert.match(text, /Duration\s+(\d+h )?(\d+m|\d+s)/);
    if (incident.ticket_url) {
      assert.equal(await tip.getByRole('link', { name: 'Open ticket' }).getAttribute('href'), incident.ticket_url);
    } else {
      assert.match(text, /Ticket\s+none/);
    }
  }

  test('hovering a bar shows its incident\'s title, description, systems, engineer, times, duration and ticket', async () => {
    const page = await open('/?range=90d');
    const bar = await widestBar(page);
    const tip = bar.locator('.tip');
    assert.equal(await tip.isVisible(), false);
    await bar.locator('a').first().hover();
    await tip.waitFor({ state: 'visible', timeout: 5_000 });
    const ticket = (await bar.locator('a').first().getAttribute('href')).split('/').pop();
    await assertTipDescribes(tip, ticket);
    await page.close();
  });

  test('tabbing to a bar shows its incident\'s tooltip with the same details', async () => {
    const page = await open('/?range=90d');
    await page.locator('body').focus();
    let inBar = false;
    for (let n = 0; n < 80 && !inBar; n += 1) {
      await page.keyboard.press('Tab');
      inBar = await page.evaluate(() => Boolean(document.activeElement?.closest('.bar')));
    }
    assert.ok(inBar, 'a timeline bar is reachable with Tab');
    const bar = page.locator('.bar:focus-within');
    const tip = bar.locator('.tip');
    await tip.waitFor({ state: 'visible', timeout: 5_000 });
    const ticket = (await bar.locator('a').first().getAttribute('href')).split('/').pop();
    await assertTipDescribes(tip, ticket);
    await page.close();
  });

  test('Escape hides a focused bar\'s tooltip without moving focus', async () => {
    const page = await open('/?range=90d');
    const link = page.locator('.bar > a').first();
    await link.focus();
    const tip = page.locator('.bar:focus-within .tip');
    await tip.waitFor({ state: 'visible', timeout: 5_000 });
    await page.keyboard.press('Escape');
    await tip.waitFor({ state: 'hidden', timeout: 5_000 });
    assert.equal(await link.evaluate((a) => a === document.activeElement), true);
    await page.close();
  });
});

describe('a day\'s drill-down', () => {
  test('opening a day lists that day\'s incidents with start, end, duration and ticket', async () => {
    const page = await open('/');
    const days = page.locator('[data-strip] a');
    const names = await days.evaluateAll((as) => as.map((a) => a.getAttribute('aria-label')));
    const busy = names.findIndex((n) => !n.endsWith('no incidents'));
    assert.ok(busy >= 0, 'some day of the demo data has an incident');
    const href = await days.nth(busy).getAttribute('href');
    await days.nth(busy).click();
    await page.waitForURL((url) => url.searchParams.has('day'));
    const params = new URL(href, flare.base).searchParams;
    const day = params.get('day');
    const from = new Date(`${day}T00:00:00Z`);
    const to = new Date(Math.min(from.getTime() + 86_400_000, Date.now()));
    const api = await expected({ from: from.toISOString(), to: to.toISOString(), system: params.get('system') });
    const rows = page.locator('#day table.incidents tbody tr');
    const tickets = await rows.locator('td:first-child a').allTextContents();
    assert.deepEqual(tickets.sort(), api);
    for (const row of await rows.all()) {
      for (const cell of ['Start', 'End', 'Duration', 'Ticket']) {
        assert.notEqual((await row.locator(`td[data-label="${cell}"]`).innerText()).trim(), '', `${cell} is filled`);
      }
    }
    await page.close();
  });
});

describe('the 90-day strips by keyboard', () => {
  test('each strip is one tab stop', async () => {
    const page = await open('/');
    const stops = await page.locator('[data-strip]').evaluateAll((strips) =>
      strips.map((s) => Array.from(s.querySelectorAll('a')).filter((a) => a.tabIndex >= 0).length));
    assert.ok(stops.length === systems.size);
    assert.deepEqual(stops, stops.map(() => 1));
    await page.locator('[data-strip] a[tabindex="0"]').first().focus();
    await page.keyboard.press('Tab');
    const next = await page.evaluate(() => document.activeElement?.closest('[data-strip]')?.getAttribute('aria-labelledby'));
    const first = await page.locator('[data-strip]').first().getAttribute('aria-labelledby');
    assert.notEqual(next, first, 'Tab leaves the strip instead of walking its days');
    await page.close();
  });

  test('arrow keys, Home and End move between a strip\'s days and take the tab stop along', async () => {
    const page = await open('/');
    const strip = page.locator('[data-strip]').first();
    const focusedIndex = () => strip.evaluate((s) => Array.from(s.querySelectorAll('a')).indexOf(document.activeElement));
    const count = await strip.locator('a').count();
    await strip.locator('a[tabindex="0"]').focus();
    assert.equal(await focusedIndex(), count - 1, 'the tab stop starts on today');
    await page.keyboard.press('ArrowLeft');
    assert.equal(await focusedIndex(), count - 2);
    await page.keyboard.press('Home');
    assert.equal(await focusedIndex(), 0);
    await page.keyboard.press('ArrowRight');
    assert.equal(await focusedIndex(), 1);
    assert.equal(await strip.locator('a[tabindex="0"]').count(), 1);
    assert.equal(await strip.locator('a').nth(1).getAttribute('tabindex'), '0');
    await page.keyboard.press('End');
    assert.equal(await focusedIndex(), count - 1);
    await page.close();
  });

  test('Enter on a day opens its drill-down', async () => {
    const page = await open('/');
    await page.locator('[data-strip] a[tabindex="0"]').first().focus();
    await page.keyboard.press('ArrowLeft');
    await page.keyboard.press('Enter');
    await page.waitForURL((url) => url.searchParams.has('day'));
    assert.ok(await page.locator('#day h2').isVisible());
    await page.close();
  });

  test('every day is named with its date, availability and incident count', async () => {
    const page = await open('/');
    const names = await page.locator('[data-strip] a').evaluateAll((as) => as.map((a) => a.getAttribute('aria-label')));
    assert.equal(names.length, systems.size * 90);
    const unnamed = names.filter((n) => !DAY_NAME.test(n ?? ''));
    assert.deepEqual(unnamed, []);
    await page.close();
  });
});

describe('without script', () => {
  test('the page lists the range\'s incidents and every day stays reachable by Tab', async () => {
    const page = await open('/?range=30d', { javaScriptEnabled: false });
    assert.deepEqual((await listed(page)).sort(), await expected(lastDays(30)));
    const unreachable = await page.locator('[data-strip] a').evaluateAll((as) => as.filter((a) => a.tabIndex < 0).length);
    assert.equal(unreachable, 0);
    await page.close();
  });
});

describe('the refresh', () => {
  test('an unchanged page is revalidated every minute and answered 304', async () => {
    const page = await browser.page({ headers: staff });
    await page.clock.install();
    await page.goto(`${flare.base}/`);
    const statuses = [];
    page.on('response', (r) => { if (r.request().headers()['if-none-match']) statuses.push(r.status()); });
    // A page whose ongoing incidents cross a minute meanwhile changes once; the next minute it is unchanged.
    for (let tick = 0; tick < 3 && !statuses.includes(304); tick += 1) {
      const seen = statuses.length;
      await page.clock.runFor(60_000);
      await until('the refresh request', 10_000, () => statuses.length > seen);
    }
    assert.ok(statuses.includes(304), `statuses: ${statuses}`);
    await page.close();
  });

  test('a change shows up at the next refresh and the focused day keeps focus', async () => {
    const page = await browser.page({ headers: staff });
    await page.clock.install();
    await page.goto(`${flare.base}/`);
    const cell = page.locator('[data-strip] a[tabindex="0"]').first();
    await cell.focus();
    await page.keyboard.press('ArrowLeft');
    const href = await page.evaluate(() => document.activeElement.getAttribute('href'));
    const key = await flare.key('incidents:write');
    const title = `Refresh check ${Date.now()}`;
    await openIncident(key, title);
    await page.clock.runFor(60_000);
    await page.getByText(title).first().waitFor({ state: 'attached', timeout: 10_000 });
    assert.equal(await page.evaluate(() => document.activeElement.getAttribute('href')), href);
    await page.close();
  });
});

async function openIncident(key, title) {
  const system = [...systems.keys()][0];
  const response = await fetch(`${flare.base}/api/incidents`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      title,
      description: 'Opened by the browser tests.',
      severity: 'sev4',
      systems: [{ system, impact: 'degraded' }],
      started_at: new Date(Date.now() - 60_000).toISOString(),
      notify: false,
    }),
  });
  assert.equal(response.status, 201, await response.text());
}

describe('escaping', () => {
  test('an incident titled with markup shows as text and runs nothing', async () => {
    const title = '<img src=x onerror=alert(1)>';
    await openIncident(await flare.key('incidents:write'), title);
    const page = await browser.page();
    let dialogs = 0;
    page.on('dialog', async (dialog) => { dialogs += 1; await dialog.dismiss(); });
    await page.goto(`${flare.base}/`);
    await page.getByText(title).first().waitFor({ state: 'attached' });
    assert.equal(await page.locator('img[src="x"]').count(), 0);
    assert.equal(dialogs, 0);
    await page.close();
  });
});

describe('public mode', () => {
  /// Every internal value the demo holds, as staff read them: engineers, reporters, ticket links and keys, root
  /// causes, follow-ups and system owners.
  async function internalValues() {
    const values = new Set();
    for (const listed of await flare.incidents(lastDays(90))) {
      const incident = await flare.json(`/api/incidents/${listed.ticket}`);
      for (const v of [incident.engineer, incident.reporter, incident.ticket_url, incident.root_cause, ...(incident.follow_ups ?? [])]) {
        if (v) values.add(v);
      }
      for (const event of incident.timeline) {
        if (event.actor.kind !== 'system') values.add(event.actor.name);
      }
    }
    for (const system of (await flare.json('/api/systems')).systems) {
      if (system.owner) values.add(system.owner);
    }
    return [...values];
  }

  test('no public page or answer shows an engineer, reporter, owner, ticket or root cause', async () => {
    const internal = await internalValues();
    assert.ok(internal.length >= 5, `the demo data holds internal values: ${internal}`);
    const tickets = (await flare.incidents(lastDays(90), { anonymous: true })).map((i) => i.ticket);
    assert.ok(tickets.length > 0, 'the public reads the incidents themselves');
    const texts = [];
    for (const path of ['/?range=90d', `/incidents/${tickets[0]}`, `/incidents/${tickets.at(-1)}`]) {
      const page = await open(path, { anonymous: true });
      texts.push([path, await page.locator('body').innerText()], [`${path} (HTML)`, await page.content()]);
      await page.close();
    }
    const since = isoDay(new Date(Date.now() - 89 * 86_400_000));
    const answers = [`/api/incidents?from=${since}`, `/api/incidents/${tickets[0]}`, '/api/systems', '/api/availability', '/history.atom'];
    for (const path of answers) {
      const response = await fetch(`${flare.base}${path}`);
      assert.equal(response.status, 200, path);
      texts.push([path, await response.text()]);
    }
    const leaks = texts.flatMap(([path, text]) => internal.filter((v) => text.includes(v)).map((v) => `${path}: ${v}`));
    assert.deepEqual(leaks, []);
  });

  test('a public tooltip shows what happened and when, without engineer or ticket', async () => {
    const page = await open('/?range=90d', { anonymous: true });
    const bar = page.locator('.bar').first();
    await bar.locator('a').first().focus();
    const tip = bar.locator('.tip');
    await tip.waitFor({ state: 'visible', timeout: 5_000 });
    const text = await tip.innerText();
    assert.match(text, /Systems\s/);
    assert.match(text, /Start\s/);
    assert.doesNotMatch(text, /Engineer|Ticket/);
    await page.close();
  });
});

describe('accessibility and layout', () => {
  const sizes = [[1280, 800], [390, 844]];
  for (const colorScheme of ['light', 'dark']) {
    for (const [width, height] of sizes) {
      test(`axe finds no serious or critical violation in ${colorScheme} colours at ${width}×${height}`, async () => {
        const page = await open('/?range=30d', { width, height, colorScheme });
        // Evaluated by the driver, not added as a <script>: the page's CSP rightly refuses inline scripts.
        await page.evaluate(await readFile(AXE, 'utf8'));
        const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
        const bad = result.violations
          .filter((v) => v.impact === 'serious' || v.impact === 'critical')
          .map((v) => `${v.id} (${v.impact}): ${v.help}; ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
        assert.deepEqual(bad, []);
        await page.close();
      });
    }
  }

  test('at 390×844 the page does not scroll sideways', async () => {
    const page = await open('/?range=30d', { width: 390, height: 844 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page is ${overflow}px wider than the screen`);
    await page.close();
  });

  test('full-page screenshots at 1280×800 and 390×844 are saved', async () => {
    for (const [width, height] of sizes) {
      const page = await open('/?range=30d', { width, height });
      const path = join(ARTIFACTS, `status-${width}x${height}.png`);
      await page.screenshot({ path, fullPage: true });
      assert.ok((await stat(path)).size > 10_000, `${path} holds a picture`);
      console.log(`screenshot: ${path}`);
      await page.close();
    }
  });
});

describe('the console', () => {
  test('no page visited logged an error', () => {
    assert.ok(browser.visited.size > 5, `pages visited: ${browser.visited.size}`);
    assert.deepEqual(browser.errors, []);
  });
});
