/**
 * Takes the README's dashboard screenshots (docs/dashboard-*.png): the real service (API and
 * workers) on a throwaway database and queue prefix, seeded through the public API, photographed
 * in headless Chromium. Needs Postgres, Redis and /usr/bin/chromium (or CHROMIUM_PATH).
 *
 *   npx tsx scripts/screenshots.ts                 # writes docs/dashboard-*.png
 *   SCREENSHOTS_SERVE=1 npx tsx scripts/screenshots.ts   # then keeps serving the seeded dashboard until Ctrl-C
 */
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { chromium, type Page } from 'playwright-core';
import { createDeps, type Deps } from '../src/deps.ts';
import { buildApp } from '../src/http/app.ts';
import { migrateDb } from '../src/store/db.ts';
import { startWorkers, type Workers } from '../src/workers/workers.ts';
import { benchConfig, createDatabase, handleInterrupts, listenLocal, removeThrowaways, runMain } from '../bench/support.ts';
import { startReceiver } from '../test/receiver.ts';
import { seedShop } from '../test/dashboard.seed.ts';

const ADMIN_KEY = `screenshots-admin-${process.pid}-key`;
const OUT = fileURLToPath(new URL('../docs/', import.meta.url));
const EXECUTABLE = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

async function shoot(page: Page, base: string, hash: string, file: string, waitFor?: string) {
  await page.goto(`${base}/dashboard#${hash}`);
  await page.waitForSelector(`body[data-ready]`);
  if (waitFor) await page.waitForSelector(waitFor);
  await page.waitForTimeout(1500); // chart animations
  await page.screenshot({ path: `${OUT}${file}`, fullPage: true });
  console.log(`docs/${file}`);
}

runMain(async () => {
  handleInterrupts();
  await createDatabase();
  let deps: Deps | undefined;
  let workers: Workers | undefined;
  // Every 4th delivery fails, so the webhooks table shows both outcomes.
  let n = 0;
  const receiver = await startReceiver(() => ({ status: ++n % 4 === 0 ? 500 : 200 }));
  try {
    const config = benchConfig({ TIERWISE_ADMIN_KEY: ADMIN_KEY, WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true', CURRENCY: process.env.CURRENCY ?? 'CNY' });
    deps = createDeps(config);
    await migrateDb(deps.db);
    const app = await buildApp(deps);
    workers = await startWorkers(deps);
    const base = await listenLocal(app);
    const shop = await seedShop(base, ADMIN_KEY, { customers: 400, webhookUrl: receiver.url() });
    const atRisk = (await (await fetch(`${base}/v1/customers?at_risk=true&sort=-net_revenue&limit=1`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).json()) as { items: { id: string }[] };
    const topCustomer = atRisk.items[0]!.id;

    await mkdir(OUT, { recursive: true });
    const browser = await chromium.launch({ executablePath: EXECUTABLE, args: ['--no-sandbox'] });
    try {
      const context = await browser.newContext({ viewport: { width: 1360, height: 900 }, deviceScaleFactor: 1, locale: 'en-US' });
      const page = await context.newPage();
      await page.goto(`${base}/dashboard`);
      await page.fill('#key', ADMIN_KEY);
      await page.click('button[type=submit]');
      await page.waitForSelector('body[data-ready="overview"]');
      await shoot(page, base, '/overview', 'dashboard-overview.png');
      await shoot(page, base, '/rfm?r=2&f=4', 'dashboard-rfm.png', '#rfm-cell-customers table');
      const migration = `/migration?from=${encodeURIComponent(shop.beforePolicyChange)}&to=${encodeURIComponent(new Date().toISOString())}`;
      await shoot(page, base, migration, 'dashboard-migration.png');
      await shoot(page, base, '/at-risk', 'dashboard-at-risk.png', '#at-risk-customers table');
      await shoot(page, base, `/customer/${encodeURIComponent(topCustomer)}`, 'dashboard-customer.png');
      await shoot(page, base, '/segments/vip', 'dashboard-segments.png', '#webhooks-table');
      await page.selectOption('#lang', 'zh-CN');
      await shoot(page, base, '/overview', 'dashboard-overview-zh.png');
    } finally {
      await browser.close();
    }
    if (process.env.SCREENSHOTS_SERVE) {
      console.log(`\nServing ${base}/dashboard (admin key ${ADMIN_KEY}, read key ${shop.readKey}); Ctrl-C to stop.`);
      await new Promise<void>((resolve) => process.once('SIGINT', resolve));
    }
    await app.close();
    return 0;
  } finally {
    await workers?.close();
    await deps?.close();
    await receiver.close();
    await removeThrowaways();
  }
});
