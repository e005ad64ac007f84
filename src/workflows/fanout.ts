/**
 * The fan-out workflow (DESIGN.md "Fan-out"): plans the prefix tree of every branch, builds each distinct
 * chain of steps once as a child build (shared parents first, siblings in parallel, bounded), then tags each
 * branch's snapshot. One failed branch does not stop the others. Deterministic.
 */
import {
  ApplicationFailure,
  ParentClosePolicy,
  executeChild,
  isCancellation,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { segmentTree, type Segment, type TreeNode } from '../core/segments';
import type { BranchReport, FanoutInput, FanoutProgress, FanoutResult, SegmentReport, StepSpec } from '../core/types';
import { buildWorkflow } from './build';
import { failureMessage, innermost, STEP_FAILED, type StepFailureDetails } from './errors';
import { fanoutProgressQuery } from './messages';
import { providerCall } from './options';

const { planTree, tagSnapshot } = proxyActivities<Activities>(providerCall);

/**
 * At most `n` holders at once, served in order. (Waiting with `condition(() => free > 0)` would let every
 * waiter through at the same check.) A waiter of a cancelled workflow is let through by the holders' release
 * and then fails at once when it starts its child.
 */
class Semaphore {
  private readonly waiting: (() => void)[] = [];
  constructor(private free: number) {}
  async acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}

export async function fanoutWorkflow(input: FanoutInput): Promise<FanoutResult> {
  const started = Date.now();
  const { spec } = input;
  const fanoutId = workflowInfo().workflowId;
  const progress: FanoutProgress = { phase: 'planning', segments: [], branches: [] };
  setHandler(fanoutProgressQuery, () => progress);

  const tree = await planTree({ base: spec.base, common: spec.steps, branches: spec.branches });
  const nodes = new Map<string, TreeNode>(tree.nodes.map((n) => [n.digest, n]));
  const segments = segmentTree(tree);
  const reports = new Map<string, SegmentReport>(
    segments.map((seg) => {
      const last = nodes.get(seg.id)!;
      const report: SegmentReport = {
        id: seg.id,
        parent: seg.parent,
        branches: seg.branches,
        steps: seg.nodes.map((d) => ({ index: nodes.get(d)!.step.index, name: nodes.get(d)!.step.name, run: nodes.get(d)!.step.run, digest: d })),
        state: last.snapshotId ? 'cached' : 'pending',
        snapshotId: last.snapshotId,
      };
      return [seg.id, report];
    }),
  );
  progress.segments = [...reports.values()];
  progress.branches = spec.branches.map((b) => ({ name: b.name, state: 'pending', digest: tree.leaves[b.name], tag: b.tag ?? `${spec.name}:${b.name}` }));
  progress.phase = 'building';

  const limit = new Semaphore(Math.max(1, input.parallel));
  const bySegment = new Map(segments.map((s) => [s.id, s]));
  const building = new Map<string, Promise<string>>();

  /** The snapshot at the end of `seg`, building its parents first; each segment is built at most once. */
  const buildSegment = (seg: Segment): Promise<string> => {
    let promise = building.get(seg.id);
    if (!promise) {
      promise = (async () => {
        const from = seg.parent ? await buildSegment(bySegment.get(seg.parent)!) : tree.baseSnapshotId;
        const report = reports.get(seg.id)!;
        if (report.state === 'cached') return report.snapshotId!;
        await limit.acquire();
        try {
          report.state = 'running';
          report.workflowId = `${fanoutId}/${seg.id.slice(0, 16)}`;
          const only = seg.branches.length === 1 ? spec.branches.find((b) => b.name === seg.branches[0]) : undefined;
          const steps: StepSpec[] = seg.nodes.map((d) => nodes.get(d)!.step);
          const result = await executeChild(buildWorkflow, {
            workflowId: report.workflowId,
            args: [{ spec: { base: from, steps, metadata: { ...spec.metadata, ...only?.metadata }, keepFailedInstanceSeconds: 0 }, recipeName: input.recipeName }],
            // A parent that is terminated still lets its children stop their builder instances.
            parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
          });
          Object.assign(report, { state: 'built', snapshotId: result.snapshotId });
          return result.snapshotId;
        } catch (err) {
          Object.assign(report, { state: isCancellation(err) ? 'cancelled' : 'failed', error: failureMessage(err) });
          throw err;
        } finally {
          limit.release();
        }
      })();
      building.set(seg.id, promise);
    }
    return promise;
  };

  const outcomes = await Promise.allSettled(
    spec.branches.map(async (branch, i) => {
      const report = progress.branches[i];
      const leaf = bySegment.get(tree.leaves[branch.name])!;
      const wasCached = reports.get(leaf.id)!.state === 'cached';
      try {
        const snapshotId = await buildSegment(leaf);
        await tagSnapshot({
          snapshotId,
          tag: report.tag,
          metadata: { ...branch.metadata, branch: branch.name, recipe: spec.name, 'snapbuild-fanout': fanoutId },
        });
        Object.assign(report, { state: wasCached ? 'cached' : 'built', snapshotId });
      } catch (err) {
        Object.assign(report, { state: isCancellation(err) ? 'cancelled' : isVerifyFailure(err) ? 'rejected' : 'failed', error: failureMessage(err) });
        throw err;
      }
    }),
  );
  for (const r of progress.segments) if (r.state === 'pending') r.state = 'skipped';
  const cancelled = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected' && isCancellation(o.reason));
  if (cancelled) {
    progress.phase = 'cancelled';
    throw cancelled.reason;
  }
  progress.phase = 'done';
  return { ...progress, durationMs: Date.now() - started };
}


function isVerifyFailure(err: unknown): boolean {
  const inner = innermost(err);
  return inner instanceof ApplicationFailure && inner.type === STEP_FAILED && (inner.details?.[0] as StepFailureDetails | undefined)?.verify === true;
}
