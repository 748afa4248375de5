import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type TestService } from './harness.ts';

// The browser's own dictionary modules (plain JavaScript, no type declarations).
const load = async (file: string) => ((await import(new URL(`../src/dashboard/i18n/${file}`, import.meta.url).href)) as { default: unknown }).default;
const en = (await load('en.js')) as Record<string, string>;
const zhCN = (await load('zh-CN.js')) as Record<string, string>;
const labels = (await load('labels.js')) as Record<'en' | 'zh-CN', Record<string, Record<string, string>>>;

describe('dashboard files', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startService({ workers: false });
  });
  afterAll(async () => svc?.close());
  const get = (url: string) => svc.app.inject({ method: 'GET', url });

  it('serves the app at /dashboard without a key, locked to this origin by its CSP', async () => {
    for (const url of ['/dashboard', '/dashboard/']) {
      const res = await get(url);
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.body).toContain('<script type="module" src="/dashboard/app.js"></script>');
      expect(res.headers['content-security-policy']).toContain("default-src 'self'");
      expect(res.headers['content-security-policy']).toContain("connect-src 'self'");
    }
    const html = (await get('/dashboard')).body;
    expect(html).not.toMatch(/https?:\/\//);
  });

  it('serves its modules and the ECharts build from the installed package', async () => {
    const app = await get('/dashboard/app.js');
    expect(app.statusCode).toBe(200);
    expect(app.headers['content-type']).toMatch(/javascript/);
    const echarts = await get('/dashboard/vendor/echarts.esm.min.mjs');
    expect(echarts.statusCode).toBe(200);
    expect(echarts.headers['content-type']).toMatch(/javascript/);
    expect(echarts.body.length).toBeGreaterThan(500_000);
    expect(echarts.body).toContain('getInstanceByDom');
    // Only that one file of the package, and nothing outside the dashboard folder.
    for (const url of ['/dashboard/vendor/echarts.js', '/dashboard/vendor/../package.json', '/dashboard/../../package.json', '/dashboard/%2e%2e/app.ts']) {
      expect((await get(url)).statusCode, url).toBe(404);
    }
  });

  it('keeps the dashboard out of the API reference', async () => {
    const spec = (await get('/openapi.json')).json();
    expect(Object.keys(spec.paths).filter((p) => p.startsWith('/dashboard'))).toEqual([]);
    expect(Object.keys(spec.paths)).toEqual(expect.arrayContaining(['/v1/reports/rfm-grid', '/v1/reports/pareto', '/v1/reports/at-risk', '/v1/reports/segment-sizes']));
  });

  it('has every label in both languages', () => {
    expect(Object.keys(zhCN).sort()).toEqual(Object.keys(en).sort());
    for (const [key, text] of Object.entries(zhCN)) {
      const placeholders = (s: string) => (s.match(/\{\w+\}/g) ?? []).sort();
      expect(placeholders(text), key).toEqual(placeholders(en[key]!));
    }
    for (const kind of Object.keys(labels.en)) {
      expect(Object.keys(labels['zh-CN'][kind] ?? {}).sort(), kind).toEqual(Object.keys(labels.en[kind]!).sort());
    }
  });
});
