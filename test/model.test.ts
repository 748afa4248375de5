// End to end: the CDNOW sample transactions go in through POST /v1/events/batch, the fit runs as a
// job through POST /v1/model/fit with as_of at the end of the calibration period (activated), and
// GET /v1/model and GET /v1/customers show the published parameters and predictions. A backtest
// (as_of without activate) is recorded but leaves the model in force and every customer alone.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auth, eventually, manualClock, settle, startService, type TestService } from './harness.ts';
import { MIN_BUYERS, predictCustomer } from '../src/domain/model/predictions.ts';
import { recomputeCustomers } from '../src/services/recompute.service.ts';

// The calibration period ends on 1997-09-30 inclusive: every order stamped that day is observed,
// and T counts whole days to it, so T = (1997-09-30 − first purchase day) / 7 as in the summary.
const AS_OF = '1997-09-30T23:59:59.999Z';
const AFTER_DATA = new Date('1998-07-01T00:00:00Z');

interface Transaction {
  customer: string;
  day: string;
  amount: string;
}

// CDNOW_sample.txt: master_id sample_id YYYYMMDD number_of_cds dollar_value (test/fixtures/CDNOW.md)
function loadTransactions(): Transaction[] {
  const text = readFileSync(new URL('./fixtures/CDNOW_sample.txt', import.meta.url), 'utf8');
  return text
    .trim()
    .split(/\r?\n/)
    .map((line) => {
      const [, sampleId, date, , dollars] = line.trim().split(/\s+/);
      return { customer: String(Number(sampleId)), day: `${date!.slice(0, 4)}-${date!.slice(4, 6)}-${date!.slice(6, 8)}`, amount: dollars! };
    });
}

const relative = (actual: number, expected: number) => Math.abs(actual / expected - 1);

describe('predictions on the CDNOW sample, end to end', () => {
  let svc: TestService;
  const clock = manualClock(AFTER_DATA);
  const transactions = loadTransactions();
  const get = async (url: string) => (await svc.app.inject({ method: 'GET', url, headers: auth() })).json();

  beforeAll(async () => {
    svc = await startService({ clock });
    const events = transactions.map((t, i) => ({
      id: `cdnow-${i}`,
      type: 'order',
      customer_id: t.customer,
      order_id: `o-${i}`,
      occurred_at: `${t.day}T00:00:00Z`,
      amount: t.amount,
    }));
    for (let i = 0; i < events.length; i += 1000) {
      const res = await svc.app.inject({ method: 'POST', url: '/v1/events/batch', payload: { events: events.slice(i, i + 1000) }, headers: auth() });
      expect(res.statusCode, res.body).toBe(202);
    }
    await settle(svc, events.length);
  });
  afterAll(async () => svc?.close());

  it('has no model and no predictions before the first fit', async () => {
    expect(transactions).toHaveLength(6919);
    expect(await get('/v1/model')).toEqual({ bgnbd: null, gamma_gamma: null, fitted_at: null, as_of: null, customers: null, last_attempt: null });
    expect((await get('/v1/customers/1')).predictions).toBeNull();
  });

  it('refuses an activate that is not a boolean and names the field', async () => {
    const res = await svc.app.inject({ method: 'POST', url: '/v1/model/fit', payload: { as_of: AS_OF, activate: 'yes' }, headers: auth() });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(res.json().errors).toEqual([expect.objectContaining({ path: 'activate' })]);
  });

  it('refuses as_of in the future and names the field', async () => {
    const res = await svc.app.inject({ method: 'POST', url: '/v1/model/fit', payload: { as_of: '2030-01-01T00:00:00Z' }, headers: auth() });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(res.json().errors).toEqual([{ path: 'as_of', message: 'must not be in the future' }]);
  });

  it('schedules the fit daily', async () => {
    const schedulers = await svc.deps.queues.maintenance.getJobSchedulers();
    expect(schedulers.find((s) => s.key === 'fit-model')).toMatchObject({ pattern: '0 4 * * *', tz: 'UTC' });
  });

  async function fit(asOf?: string, activate?: boolean) {
    const payload = asOf ? { as_of: asOf, ...(activate === undefined ? {} : { activate }) } : undefined;
    const res = await svc.app.inject({ method: 'POST', url: '/v1/model/fit', headers: auth(), ...(payload ? { payload } : {}) });
    expect(res.statusCode, res.body).toBe(202);
    const { job_id } = res.json();
    return eventually(async () => {
      const j = await get(`/v1/jobs/${job_id}`);
      return j.status === 'completed' || j.status === 'failed' ? j : undefined;
    }, 120_000, 'fit job');
  }

  describe('after POST /v1/model/fit with as_of 1997-09-30 and activate: true', () => {
    let model: Record<string, any>;
    beforeAll(async () => {
      // Predictions are "as of now": set the clock to the calibration end so they are comparable with the references.
      clock.set(new Date(AS_OF));
      const job = await fit(AS_OF, true);
      expect(job).toMatchObject({ status: 'completed', kind: 'fit_model', result: { status: 'fitted', activated: true, buyers: 2357, customers: 2357 } });
      model = await get('/v1/model');
    });

    it('GET /v1/model gives the published BG/NBD parameters and log-likelihood', () => {
      const published = { r: 0.2426, alpha: 4.4135, a: 0.7929, b: 2.4258 };
      for (const [name, value] of Object.entries(published)) expect(relative(model.bgnbd[name], value), name).toBeLessThan(0.005);
      expect(Math.abs(model.bgnbd.log_likelihood - -9582.43)).toBeLessThan(0.05);
    });

    it('…and the published Gamma-Gamma parameters, fitted on the 946 repeat buyers', () => {
      const published = { p: 6.2488, q: 3.7446, v: 15.4477 };
      for (const [name, value] of Object.entries(published)) expect(relative(model.gamma_gamma[name], value), name).toBeLessThan(0.005);
    });

    it('says what it observed', () => {
      expect(model).toMatchObject({ as_of: AS_OF, customers: 2357, last_attempt: { status: 'fitted', activated: true, reason: null, customers: 2357, as_of: AS_OF } });
      expect(model.last_attempt.bgnbd).toEqual(model.bgnbd);
      expect(model.last_attempt.gamma_gamma).toEqual(model.gamma_gamma);
    });

    it('every customer is rescored with predictions: P(alive) and CLV of CDNOW ids 1–10', async () => {
      const P_ALIVE = [0.726609, 0.212227, 1, 1, 1, 0.641801, 0.314918, 1, 0.784808, 1];
      const CLV = [36.2785, 4.6375, 8.3441, 8.3441, 8.3441, 283.5236, 6.8814, 8.3441, 43.3536, 8.3441];
      for (let id = 1; id <= 10; id++) {
        const c = await get(`/v1/customers/${id}`);
        expect(Math.abs(c.predictions.p_alive - P_ALIVE[id - 1]!), `p_alive of ${id}`).toBeLessThan(0.002);
        expect(Math.abs(Number(c.predictions.clv_12m) - CLV[id - 1]!), `clv_12m of ${id}`).toBeLessThan(0.5);
        expect(c.predictions.expected_orders_90d).toBeGreaterThan(0);
      }
    });

    it('low_p_alive flags customer 2 (P(alive) 0.21 < 0.3), not customer 1 (0.73)', async () => {
      const codes = async (id: string) => (await get(`/v1/customers/${id}`)).at_risk.reasons.map((r: { code: string }) => r.code);
      expect(await codes('2')).toContain('low_p_alive');
      expect(await codes('1')).not.toContain('low_p_alive');
    });

    it('customer 7 (P(alive) 0.315, no later order) is reviewed when P(alive) crosses 0.3 and flagged from that instant', async () => {
      const seven = await get('/v1/customers/7');
      expect(seven.predictions.p_alive).toBeGreaterThan(0.3);
      const orders = transactions.filter((t) => t.customer === '7').map((t) => ({ occurredAt: new Date(`${t.day}T00:00:00Z`), net: t.amount }));
      const crossing = predictCustomer({ bgnbd: model.bgnbd, gamma_gamma: model.gamma_gamma }, orders, new Date(AS_OF), 0.3)!.pAliveBelowAt!;
      expect(crossing.getTime()).toBeGreaterThan(Date.parse(AS_OF));
      expect(Date.parse(seven.next_review_at)).toBeLessThanOrEqual(crossing.getTime());

      // the review at the crossing (as the sweep would run it, a minute late)
      clock.set(new Date(crossing.getTime() + 60_000));
      await recomputeCustomers(svc.deps, ['7']);
      const after = await get('/v1/customers/7');
      expect(after.predictions.p_alive).toBeLessThan(0.3);
      expect(after.at_risk.reasons).toContainEqual(expect.objectContaining({ code: 'low_p_alive', since: crossing.toISOString() }));
      clock.set(new Date(AS_OF));
      await recomputeCustomers(svc.deps, ['7']);
    });

    it('a saved segment on predictions.p_alive holds exactly the customers whose P(alive) is below 0.5', async () => {
      const put = await svc.app.inject({
        method: 'PUT',
        url: '/v1/segments/fading',
        payload: { name: 'Fading', rule: { field: 'predictions.p_alive', op: 'lt', value: 0.5 } },
        headers: auth(),
      });
      expect(put.statusCode, put.body).toBe(202);
      await eventually(async () => ((await get(`/v1/jobs/${put.json().job_id}`)).status === 'completed' ? true : undefined), 60_000, 'segment job');
      const members: string[] = [];
      let cursor: string | null = null;
      do {
        const page: { items: { customer_id: string }[]; next_cursor: string | null } = await get(`/v1/segments/fading/customers?limit=1000${cursor ? `&cursor=${cursor}` : ''}`);
        members.push(...page.items.map((m) => m.customer_id));
        cursor = page.next_cursor;
      } while (cursor);
      const fading: string[] = [];
      for (const id of ['1', '2', '3', '6', '7', '9']) if ((await get(`/v1/customers/${id}`)).predictions.p_alive < 0.5) fading.push(id);
      expect(fading).toEqual(['2', '7']);
      expect(members).toEqual(expect.arrayContaining(fading));
      expect(members).not.toContain('1');
      expect(members.length).toBeGreaterThan(100);
    });

    it('a fit with too little data is refused, says why, and leaves the previous fit in force', async () => {
      // by the end of 1997-01-01 only 18 customers have bought
      const job = await fit('1997-01-01T23:59:59Z');
      expect(job).toMatchObject({ status: 'completed', result: { status: 'refused', buyers: 18, customers: 0 } });
      const after = await get('/v1/model');
      expect(after.bgnbd).toEqual(model.bgnbd);
      expect(after.fitted_at).toBe(model.fitted_at);
      expect(after.last_attempt).toMatchObject({ status: 'refused', as_of: '1997-01-01T23:59:59.000Z', reason: 'too few buyers: 18 (at least 20 needed)' });
      expect((await get('/v1/customers/1')).predictions.p_alive).toBeCloseTo(0.7266, 2);
    });

    it('a backtest (as_of, no activate) is recorded with its parameters but is not put in force and rescores no one', async () => {
      const before = await get('/v1/customers/2');
      const job = await fit('1997-06-30T23:59:59Z');
      expect(job).toMatchObject({ status: 'completed', result: { status: 'fitted', activated: false, customers: 0, changed: 0 } });
      expect(job.result.buyers).toBeGreaterThan(MIN_BUYERS);
      const after = await get('/v1/model');
      expect(after).toMatchObject({ bgnbd: model.bgnbd, gamma_gamma: model.gamma_gamma, fitted_at: model.fitted_at, as_of: AS_OF });
      expect(after.last_attempt).toMatchObject({ status: 'fitted', activated: false, as_of: '1997-06-30T23:59:59.000Z', reason: null, customers: job.result.buyers });
      expect(after.last_attempt.bgnbd.r).toBeGreaterThan(0);
      expect(after.last_attempt.bgnbd).not.toEqual(model.bgnbd);
      // a recompute after the backtest still scores with the model in force
      await recomputeCustomers(svc.deps, ['2']);
      const two = await get('/v1/customers/2');
      expect(two.predictions).toEqual(before.predictions);
      expect(two.at_risk).toEqual(before.at_risk);
    });

    it('without a body the fit observes every order up to now', async () => {
      // with the clock on 1997-01-01 "now" sees 18 buyers: refused, so no rescore is needed to tell
      clock.set(new Date('1997-01-01T23:59:59Z'));
      const job = await fit();
      expect(job.result).toMatchObject({ status: 'refused', buyers: 18 });
      expect((await get('/v1/model')).last_attempt).toMatchObject({ as_of: '1997-01-01T23:59:59.000Z', status: 'refused' });
      clock.set(new Date(AS_OF));
    });
  });
});
