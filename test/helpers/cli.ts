/** Runs the real CLI from source in a child process, as a user would, and captures what it prints. */
import { spawn } from 'node:child_process';
import * as path from 'node:path';

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

const root = path.resolve(__dirname, '../..');
const entry = `require('ts-node').register({ transpileOnly: true, project: ${JSON.stringify(path.join(root, 'tsconfig.json'))} });
require(${JSON.stringify(path.join(root, 'src/cli/main'))}).main(['node', 'snapbuild', ...process.argv.slice(1)]);`;

/** Starts the CLI and leaves it running (for `snapbuild worker`); the caller kills it. */
export function spawnSnapbuild(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawn(process.execPath, ['-e', entry, ...args], { cwd: root, env: { ...process.env, ...env } });
}

export function snapbuild(args: string[], env: NodeJS.ProcessEnv = {}, opts: { cwd?: string } = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-e', entry, ...args], { cwd: opts.cwd ?? root, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
