/**
 * Polls until `check` returns a value other than undefined, or fails after `timeoutMs`. No vitest
 * import, so scripts outside the test runner (the dashboard screenshots) can use it too.
 */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 15_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
