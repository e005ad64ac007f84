/** Human output: aligned tables and short forms. Machine output is `--json` on stdout. */
import { oneLine, stepLabel } from '../core/text';
import type { StepReport } from '../core/types';

export { oneLine, stepLabel };

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

export function seconds(ms: number): string {
  return ms < 1000 ? `${ms}ms` : `${(ms / 1000).toFixed(1)}s`;
}

export function stepsTable(steps: StepReport[]): string {
  return table(
    ['STEP', 'STATE', 'TIME', 'SNAPSHOT', 'DIGEST', 'COMMAND'],
    steps.map((s) => [String(s.index + 1), s.state, s.cached ? '-' : seconds(s.durationMs), s.snapshotId ?? '-', s.digest.slice(0, 12), stepLabel(s)]),
  );
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}
