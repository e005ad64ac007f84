/** Human output: aligned tables and short forms. Machine output is `--json` on stdout. */
import type { StepReport } from '../core/types';

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

export function oneLine(text: string, max = 60): string {
  const first = text.trim().split('\n')[0];
  const more = text.trim().includes('\n') ? ' ...' : '';
  return first.length + more.length > max ? first.slice(0, max - 3) + '...' : first + more;
}

export function seconds(ms: number): string {
  return ms < 1000 ? `${ms}ms` : `${(ms / 1000).toFixed(1)}s`;
}

export function stepLabel(s: Pick<StepReport, 'name' | 'run'>): string {
  return s.name ?? oneLine(s.run);
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
