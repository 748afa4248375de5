import type { Deps } from '../deps.ts';
import { parseRule, type Rule } from '../domain/rules/rules.ts';
import { orderSegments } from '../domain/rules/segments.ts';
import * as repo from '../store/segments.repo.ts';
import { conflict, notFound, validationError } from './errors.ts';
import { startJob } from './jobs.service.ts';

export async function findSegmentOr404(deps: Pick<Deps, 'db'>, key: string): Promise<repo.SegmentRow> {
  const segment = await repo.findSegment(deps.db, key);
  if (!segment) throw notFound(`Segment "${key}"`);
  return segment;
}

/** The rule, checked on its own and so that the whole set of segments stays free of cycles (a 400 otherwise). */
async function checkRule(deps: Pick<Deps, 'db'>, key: string, rule: unknown): Promise<Rule> {
  const parsed = parseRule(rule, { path: 'rule' });
  if (!parsed.ok) throw validationError(parsed.errors, 'The segment rule is invalid; see errors.');
  const others = (await repo.listSegments(deps.db)).filter((s) => s.key !== key).map(repo.toDefinition);
  const ordered = orderSegments([...others, { key, rule: parsed.rule }]);
  if (!ordered.ok) throw validationError([{ path: 'rule', message: ordered.message }]);
  return parsed.rule;
}

/** Creates or replaces a segment, then starts the job that brings its membership up to date. */
export async function saveSegment(deps: Pick<Deps, 'db' | 'queues' | 'clock'>, input: { key: string; name: string; rule: unknown }) {
  const rule = await checkRule(deps, input.key, input.rule);
  const segment = await repo.upsertSegment(deps.db, { key: input.key, name: input.name, rule }, deps.clock.now());
  const jobId = await startJob(deps, { kind: 'segment_membership', segment: segment.key });
  return { segment, jobId };
}

/** Deletes a segment; refused (409) while another segment's rule refers to it. */
export async function deleteSegment(deps: Pick<Deps, 'db'>, key: string): Promise<void> {
  const others = (await repo.listSegments(deps.db)).filter((s) => s.key !== key).map(repo.toDefinition);
  const ordered = orderSegments(others);
  if (!ordered.ok) throw conflict('segment_in_use', `Segment "${key}" is referred to by another segment: ${ordered.message}.`);
  if (!(await repo.deleteSegment(deps.db, key))) throw notFound(`Segment "${key}"`);
}
