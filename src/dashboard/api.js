// The dashboard's only data source: the public /v1 API, with the key from session storage.
const KEY = 'tierwise.key';

export const getKey = () => sessionStorage.getItem(KEY);
export const setKey = (key) => sessionStorage.setItem(KEY, key);
export const clearKey = () => sessionStorage.removeItem(KEY);

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail ?? problem?.title ?? `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

async function call(path, key = getKey()) {
  const res = await fetch(path, { headers: { authorization: `Bearer ${key}`, accept: 'application/json, text/csv' } });
  if (!res.ok) {
    const problem = await res.json().catch(() => null);
    throw new ApiError(res.status, problem);
  }
  return res;
}

export async function get(path, key) {
  return (await call(path, key)).json();
}

/**
 * Whole-table reports may be this old (seconds): the API then answers from the last computation
 * instead of scanning every customer again for each viewer.
 */
export const REPORT_MAX_AGE = 60;
export const report = (name, params = {}) => get(`/v1/reports/${name}${query({ max_age: REPORT_MAX_AGE, ...params })}`);

/** A query string from an object, leaving out empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** Downloads a file from an endpoint that needs the Authorization header, which a plain link cannot send. */
export async function download(path, filename) {
  const blob = await (await call(path)).blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
