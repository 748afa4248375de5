import type { Job } from 'bullmq';
import type { Deps } from '../deps.ts';
import type { JobPayloads } from '../queues/queues.ts';
import { previewPolicy } from '../services/preview.service.ts';
import { fitModelAndRescore, refreshAndRescore, refreshSegmentMembership } from '../services/rescore.service.ts';
import { sweepDueReviews } from '../services/sweep.service.ts';
import { purgeOldMessages } from '../services/webhooks.service.ts';

/** One maintenance job: its kind names the use case; progress goes to the job, which GET /v1/jobs/{id} reports. */
export async function processMaintenance(deps: Deps, job: Job<JobPayloads['maintenance']>): Promise<unknown> {
  const data = job.data;
  const onProgress = (p: number) => job.updateProgress(p);
  switch (data.kind) {
    case 'sweep':
      return sweepDueReviews(deps);
    case 'purge_outbox':
      return purgeOldMessages(deps);
    case 'rescore':
      return refreshAndRescore(deps, { onProgress, changedOnly: data.changedOnly ?? false });
    case 'segment_membership':
      return refreshSegmentMembership(deps, data.segment, onProgress);
    case 'fit_model':
      return fitModelAndRescore(deps, data, onProgress);
    case 'preview_policy':
      return previewPolicy(deps, data.policy, onProgress);
    default: {
      // A job queued by an earlier version under the rescore's old name.
      const { kind } = data as { kind: string };
      if (kind === 'refresh_stats') return refreshAndRescore(deps, { onProgress });
      throw new Error(`unknown maintenance job kind "${kind}"`);
    }
  }
}
