import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ADMIN_KEY, startService, type TestService } from './harness.ts';
import { startReceiver } from './receiver.ts';
import { seedShop, type Shop } from './dashboard.seed.ts';
import { CHROMIUM, HOW_TO_INSTALL, chromiumFound, skipWithoutBrowser } from './browser.ts';
const usd = (v: string | number) => new Intl.NumberFormat('en', { style: 'currency', currency: 'USD' }).format(Number(v));
const usdWhole = (v: string | number) => new Intl.NumberFormat('en', { style: 'currency', currency: 'USD', maximumFractionDigits: 0 }).format(Number(v));
const int = (v: number) => new Intl.NumberFormat('en').format(v);

interface Cell { r_score: number; f_score: number; segment: string; customers: number }

describe.skipIf(skipWithoutBrowser('test/dashboard.e2e.test.ts'))('dashboard in headless Chromium', () => {
  let svc: TestService;
  let shop: Shop;
  let browser: Browser;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const requested: string[] = [];

  // API bodies are checked field by field below.
  const api = async (path: string, key = ADMIN_KEY): Promise<any> => {
    const res = await fetch(`${shop.base}${path}`, { headers: { authorization: `Bearer ${key}` } });
    expect(res.status, path).toBe(200);
    return res.json();
  };

  async function open(key: string, options: { timezoneId?: string } = {}): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, locale: 'en-US', ...options });
    page.on('request', (r) => requested.push(r.url()));
    await page.goto(`${shop.base}/dashboard`);
    await page.fill('#key', key);
    await page.click('#login-form button[type=submit]');
    return page;
  }
  const ready = (page: Page, view: string) => page.waitForSelector(`body[data-ready="${view}"]`);
  const text = (page: Page, selector: string) => page.locator(selector).first().evaluate((el) => el.textContent?.trim() ?? '');
  // A string, so the test runner's transform leaves the dynamic import alone: the page's own ECharts module.
  const inPage = <T>(page: Page, body: string): Promise<T> =>
    page.evaluate(`(async () => { const echarts = await import('/dashboard/vendor/echarts.esm.min.mjs'); ${body} })()`);
  const chartOption = (page: Page, id: string) =>
    inPage<any>(page, `return JSON.parse(JSON.stringify(echarts.getInstanceByDom(document.getElementById(${JSON.stringify(id)})).getOption(), (k, v) => (typeof v === 'function' ? undefined : v)));`);

  beforeAll(async () => {
    // Reached without a browser only under CI, where that is a failure with a clear reason.
    if (!chromiumFound()) throw new Error(`no Chromium at ${CHROMIUM}: ${HOW_TO_INSTALL}`);
    receiver = await startReceiver();
    svc = await startService({ config: { WEBHOOK_ALLOW_PRIVATE_TARGETS: true } });
    await svc.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = svc.app.server.address() as { port: number };
    [shop, browser] = await Promise.all([
      seedShop(`http://127.0.0.1:${port}`, ADMIN_KEY, { customers: 150, webhookUrl: receiver.url() }),
      chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] }),
    ]);
  });
  afterAll(async () => {
    await browser?.close();
    await svc?.close();
    await receiver?.close();
  });

  it('refuses a wrong key with a clear message and stays on the sign-in form', async () => {
    const page = await open('not-a-real-key-0000000000');
    await page.waitForSelector('#login-error:not([hidden])');
    expect(await text(page, '#login-error')).toBe('This API key is unknown or revoked.');
    expect(await page.isVisible('#nav')).toBe(false);
    expect(await page.evaluate("sessionStorage.getItem('tierwise.key')")).toBeNull();
    await page.close();
  });

  it('signs in with a customers:read key and shows the seeded figures on the overview charts', async () => {
    const page = await open(shop.readKey);
    await ready(page, 'overview');
    expect(await page.evaluate("sessionStorage.getItem('tierwise.key')")).toBe(shop.readKey);
    const summary = await api('/v1/reports/summary');
    const pareto = await api('/v1/reports/pareto');
    expect(summary.customers).toBe(180);
    expect(await text(page, '[data-kpi=customers] .value')).toBe(int(summary.customers));
    expect(await text(page, '[data-kpi=buyers] .value')).toBe(int(summary.buyers));
    expect(summary.prospects).toBeGreaterThanOrEqual(30); // the seeded prospects, plus buyers whose every order was cancelled or refunded
    expect(await text(page, '[data-kpi=prospects] .value')).toBe(int(summary.prospects));
    expect(await text(page, '[data-kpi=revenue] .value')).toBe(usdWhole(summary.net_revenue));
    expect(await text(page, '[data-kpi=at_risk] .value')).toBe(int(summary.at_risk.customers));
    expect(await text(page, '[data-kpi=revenue_at_risk] .value')).toBe(usdWhole(summary.at_risk.net_revenue));

    // The tier bars carry the summary's counts and revenue, in tier order.
    const tiers = await chartOption(page, 'chart-tiers');
    const byTier = new Map<string, { customers: number; net_revenue: string }>(summary.by_tier.map((g: { key: string }) => [g.key, g]));
    expect(tiers.xAxis[0].data).toEqual(['High', 'Medium', 'Low']);
    expect(tiers.series[0].data).toEqual(['high', 'medium', 'low'].map((k) => byTier.get(k)!.customers));
    expect(tiers.series[1].data).toEqual(['high', 'medium', 'low'].map((k) => Number(byTier.get(k)!.net_revenue)));
    const rows = await page.locator('[data-table=tiers] tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
    expect(rows[0]).toEqual(['High', int(byTier.get('high')!.customers), expect.any(String), usd(byTier.get('high')!.net_revenue), expect.any(String)]);

    const funnel = await chartOption(page, 'chart-lifecycle');
    const stages = Object.fromEntries(funnel.series[0].data.map((d: { name: string; value: number }) => [d.name, d.value]));
    expect(stages.Prospect).toBe(summary.prospects);
    expect(funnel.series[0].data.reduce((s: number, d: { value: number }) => s + d.value, 0)).toBe(summary.customers);

    const curve = await chartOption(page, 'chart-pareto');
    expect(curve.series[0].data).toEqual(pareto.points.map((p: { buyer_share: number; revenue_share: number }) => [p.buyer_share * 100, p.revenue_share * 100]));
    expect(curve.series[0].data.at(-1)[1]).toBeCloseTo(100, 9);
    const a = summary.by_abc_class.find((g: { key: string }) => g.key === 'A');
    expect(await text(page, '#abc-table tbody tr:first-child td:nth-child(2)')).toBe(int(a.customers));
    await page.close();
  });

  it('lists exactly the customers of the RFM cell that is clicked', async () => {
    const page = await open(shop.readKey);
    await ready(page, 'overview');
    await page.click('#nav a[data-view=rfm]');
    await ready(page, 'rfm');
    const grid: { cells: Cell[] } = await api('/v1/reports/rfm-grid', shop.readKey);
    // The fullest cell that still fits on one page (25 rows).
    const cell = grid.cells.filter((c) => c.customers > 1 && c.customers <= 25).sort((x, y) => y.customers - x.customers)[0]!;
    const option = await chartOption(page, 'chart-rfm');
    expect(option.series[0].data.map((d: { value: number[] }) => d.value)).toEqual(grid.cells.map((c) => [c.f_score - 1, c.r_score - 1, c.customers]));

    // A real mouse click on the cell's centre, located through the chart's own coordinate system.
    const point = await inPage<{ x: number; y: number }>(page, `
      const el = document.getElementById('chart-rfm');
      const [x, y] = echarts.getInstanceByDom(el).convertToPixel({ seriesIndex: 0 }, [${cell.f_score - 1}, ${cell.r_score - 1}]);
      const box = el.getBoundingClientRect();
      return { x: box.left + x, y: box.top + y };`);
    await page.mouse.click(point.x, point.y);
    await page.waitForSelector(`#rfm-cell-customers[data-loaded="${cell.r_score}:${cell.f_score}"]`);
    const shown = await page.locator('#rfm-cell-customers tbody a.customer-link').allTextContents();
    const expected = (await api(`/v1/customers?r_score=${cell.r_score}&f_score=${cell.f_score}&limit=1000`, shop.readKey)).items.map((c: { id: string }) => c.id);
    expect(shown.length).toBe(cell.customers);
    expect([...shown].sort()).toEqual([...expected].sort());
    expect(await text(page, '#rfm-cell-title')).toContain(`R${cell.r_score} · F${cell.f_score}`);
    expect(page.url()).toContain(`#/rfm?r=${cell.r_score}&f=${cell.f_score}`);
    await page.close();
  });

  it('shows a customer with metrics, tier, playbook and the history as a timeline', async () => {
    const [top] = (await api('/v1/customers?at_risk=true&sort=-net_revenue&limit=1')).items;
    const history = await api(`/v1/customers/${top.id}/history`);
    const page = await open(shop.readKey);
    await ready(page, 'overview');
    await page.click('#nav a[data-view=at-risk]');
    await ready(page, 'at-risk');
    expect(await text(page, '#at-risk-customers tbody tr:first-child a')).toBe(top.id);
    await page.click('#at-risk-customers tbody tr:first-child a');
    await ready(page, 'customer');
    expect(await text(page, '#view h1')).toBe(top.id);
    expect(await text(page, '[data-field=net_revenue]')).toBe(usd(top.metrics.net_revenue));
    expect(await text(page, '#customer-playbook')).toContain(top.playbook.summary);
    const items = page.locator('#customer-history li');
    expect(await items.count()).toBe(history.items.length);
    expect(history.items.length).toBeGreaterThanOrEqual(3);
    const kinds = await items.evaluateAll((lis) => lis.map((li) => li.getAttribute('data-kind')));
    expect(kinds).toEqual(history.items.map((h: { kind: string }) => h.kind));
    expect(await items.allTextContents()).toContainEqual(expect.stringContaining('flagged at risk'));
    await page.close();
  });

  it('shows the tier migration matrix and flow between two instants, as the report counts them', async () => {
    const to = new Date().toISOString();
    const report = await api(`/v1/reports/tier-migration?from=${encodeURIComponent(shop.beforePolicyChange)}&to=${encodeURIComponent(to)}`, shop.readKey);
    const moved = report.cells.filter((c: { from_tier: string | null; to_tier: string | null }) => c.from_tier !== c.to_tier && c.from_tier !== null);
    expect(moved.length).toBeGreaterThan(0); // the seeded policy change moved customers
    const page = await open(shop.readKey);
    await ready(page, 'overview');
    await page.goto(`${shop.base}/dashboard#/migration?from=${encodeURIComponent(shop.beforePolicyChange)}&to=${encodeURIComponent(to)}`);
    await ready(page, 'migration');
    for (const cell of report.cells) {
      const td = page.locator(`#migration-matrix td[data-from="${cell.from_tier ?? ''}"][data-to="${cell.to_tier ?? ''}"]`);
      expect(await td.textContent()).toBe(int(cell.customers));
    }
    const flow = await chartOption(page, 'chart-migration');
    expect(flow.series[0].links.map((l: { value: number }) => l.value).sort()).toEqual(
      report.cells.filter((c: { customers: number }) => c.customers > 0).map((c: { customers: number }) => c.customers).sort(),
    );
    await page.close();
  });

  it('reads the migration dates as local days and shows instants as local days (UTC+14)', async () => {
    const page = await open(shop.readKey, { timezoneId: 'Pacific/Kiritimati' });
    await ready(page, 'overview');
    // the report request a navigation makes, once the view has drawn
    const show = async (navigate: () => Promise<unknown>) => {
      const [request] = await Promise.all([page.waitForRequest(/\/v1\/reports\/tier-migration/), navigate()]);
      await ready(page, 'migration');
      return new URL(request.url()).searchParams;
    };
    const byDays = await show(() => page.goto(`${shop.base}/dashboard#/migration?from=2026-01-10&to=2026-01-20`));
    // the end of 2026-01-10 in Kiritimati is 09:59:59.999 UTC that day
    expect(byDays.get('from')).toBe('2026-01-10T09:59:59.999Z');
    expect(byDays.get('to')).toBe('2026-01-20T09:59:59.999Z');
    expect(await page.inputValue('#migration-from')).toBe('2026-01-10');
    expect(await page.inputValue('#migration-to')).toBe('2026-01-20');

    // noon UTC is already the next day there
    const from = encodeURIComponent('2026-01-10T12:00:00Z');
    const byInstants = await show(() => page.goto(`${shop.base}/dashboard#/migration?from=${from}&to=${encodeURIComponent('2026-01-20T12:00:00Z')}`));
    expect(byInstants.get('from')).toBe('2026-01-10T12:00:00.000Z');
    expect(await page.inputValue('#migration-from')).toBe('2026-01-11');
    expect(await page.inputValue('#migration-to')).toBe('2026-01-21');

    // the form sends the local days back
    await page.fill('#migration-from', '2026-02-01');
    const submitted = await show(() => page.click('form.row button[type=submit]'));
    expect(submitted.get('from')).toBe('2026-02-01T09:59:59.999Z');
    expect(submitted.get('to')).toBe('2026-01-21T09:59:59.999Z');
    await page.close();
  });

  it('escapes the values in chart tooltips (tier, segment and stage names are text, not HTML)', async () => {
    const page = await open(shop.readKey);
    await ready(page, 'overview');
    const tooltip = (id: string, params: unknown) =>
      inPage<string>(page, `return echarts.getInstanceByDom(document.getElementById(${JSON.stringify(id)})).getOption().tooltip[0].formatter(${JSON.stringify(params)});`);
    expect(await tooltip('chart-lifecycle', { name: '<img src=x>', value: 3 })).toMatch(/^&lt;img src=x&gt;: 3 /);
    await page.goto(`${shop.base}/dashboard#/rfm`);
    await ready(page, 'rfm');
    const cell = { r_score: 1, f_score: 2, segment: '<b>odd</b>', customers: 4, net_revenue: '5' };
    const rfmTip = await tooltip('chart-rfm', { data: { cell } });
    expect(rfmTip.split('<br>')[0]).toBe('R1 · F2 · &lt;b&gt;odd&lt;/b&gt;');
    await page.goto(`${shop.base}/dashboard#/migration`);
    await ready(page, 'migration');
    expect(await tooltip('chart-migration', { dataType: 'edge', data: { source: 'from:<i>x</i>', target: 'to:y', value: 2 } })).toBe('&lt;i&gt;x&lt;/i&gt; → y: 2');
    expect(await tooltip('chart-migration', { dataType: 'node', name: 'to:"q"&' })).toBe('&quot;q&quot;&amp;');
    await page.close();
  });

  it('falls back to the overview for a malformed hash', async () => {
    const page = await open(shop.readKey);
    await ready(page, 'overview');
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${shop.base}/dashboard#/customer/%E0`);
    await page.reload();
    await ready(page, 'overview');
    expect(await page.getAttribute('#view', 'data-view')).toBe('overview');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('switches labels to Simplified Chinese, numbers formatted for zh-CN', async () => {
    const page = await open(shop.readKey);
    await ready(page, 'overview');
    expect(await text(page, '#nav a[data-view=overview]')).toBe('Overview');
    await page.selectOption('#lang', 'zh-CN');
    await ready(page, 'overview');
    expect(await text(page, '#nav a[data-view=overview]')).toBe('总览');
    expect(await text(page, '[data-kpi=customers] .label')).toBe('客户总数');
    expect(await page.evaluate('document.documentElement.lang')).toBe('zh-CN');
    const tiers = await chartOption(page, 'chart-tiers');
    expect(tiers.xAxis[0].data).toEqual(['高价值', '中价值', '低价值']);
    const summary = await api('/v1/reports/summary');
    const zh = new Intl.NumberFormat('zh-CN', { style: 'currency', currency: 'USD', maximumFractionDigits: 0 }).format(Number(summary.net_revenue));
    expect(await text(page, '[data-kpi=revenue] .value')).toBe(zh);
    await page.selectOption('#lang', 'en');
    await page.close();
  });

  it('shows segments with sizes, exports CSV with the key, and webhooks only for an admin key', async () => {
    const sizes = await api('/v1/reports/segment-sizes');
    const vip = sizes.items.find((s: { key: string }) => s.key === 'vip');
    const reader = await open(shop.readKey);
    await ready(reader, 'overview');
    await reader.click('#nav a[data-view=segments]');
    await ready(reader, 'segments');
    await reader.waitForSelector('#webhooks-needs-admin');
    expect(await text(reader, '#webhooks-needs-admin')).toContain('need an admin key');
    const row = reader.locator('#segments-table tbody tr', { hasText: 'vip' });
    expect(await row.locator('[data-col=members]').textContent()).toBe(int(vip.members));
    const [download] = await Promise.all([reader.waitForEvent('download'), reader.click('button[data-export=vip]')]);
    expect(download.suggestedFilename()).toBe('vip.csv');
    const csv = await readFile(await download.path(), 'utf8');
    expect(csv.trim().split('\n').length).toBe(vip.members + 1);
    await reader.close();

    const admin = await open(ADMIN_KEY);
    await ready(admin, 'overview');
    await admin.click('#nav a[data-view=segments]');
    await admin.waitForSelector('#webhooks-table');
    expect(await text(admin, '#webhooks-table tbody tr')).toContain(receiver.url());
    await admin.close();
  });

  it('loaded nothing from outside the service', () => {
    expect(requested.length).toBeGreaterThan(20);
    expect(requested.filter((url) => !url.startsWith(`${shop.base}/`) && !url.startsWith('blob:') && !url.startsWith('data:'))).toEqual([]);
  });
});
