import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { delimiter, dirname, isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The workspace root (this file is apps/example-kit/src/test/pnpm.ts). */
export const WORKSPACE = fileURLToPath(new URL('../../../../', import.meta.url));

/** Runs a command to its end and returns its output (stdout and stderr); rejects with the output when it fails. */
export async function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
  const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} (in ${cwd}) failed with ${code}:\n${output}`);
  return output;
}

let found: Promise<string> | undefined;

/**
 * The pnpm the workspace pins (`packageManager`): the one on PATH if it is that version (CI installs it), else that
 * version through npx. A path, so that a test can run it without npx in between (a Ctrl-C must reach pnpm only).
 */
export function pnpmPath(): Promise<string> {
  return (found ??= (async () => {
    const { packageManager } = JSON.parse(await readFile(`${WORKSPACE}package.json`, 'utf8')) as { packageManager: string };
    const onPath = await run('pnpm', ['--version'], WORKSPACE).catch(() => '');
    if (`pnpm@${onPath.trim()}` === packageManager) return 'pnpm';
    return (await run('npx', ['-y', '-p', packageManager, '-c', 'command -v pnpm'], WORKSPACE)).trim();
  })());
}

/** The environment pnpm runs in: its own directory first on PATH (turbo and nested scripts look pnpm up there). */
async function pnpmEnv(env: NodeJS.ProcessEnv = {}): Promise<NodeJS.ProcessEnv> {
  const path = await pnpmPath();
  const bin = isAbsolute(path) ? `${dirname(path)}${delimiter}` : '';
  return { ...process.env, COREPACK_INTEGRITY_KEYS: '0', ...env, PATH: `${bin}${process.env.PATH ?? ''}` };
}

/** Runs pnpm with these arguments to its end (scripts' corepack check off, as DEVELOPERS.md says). */
export const pnpm = async (args: string[], cwd = WORKSPACE): Promise<string> => run(await pnpmPath(), args, cwd, await pnpmEnv());

export interface Interactive {
  child: ChildProcess;
  readonly stdout: string;
  readonly stderr: string;
  /** Ctrl-C in a terminal: SIGINT to the whole process group (pnpm, its script and the app), twice; resolves with the exit. */
  interrupt(): Promise<[number | null, NodeJS.Signals | null]>;
}

/**
 * Starts `pnpm <args>` as a terminal's foreground job (its own process group) and resolves once its output matches
 * `ready`.
 */
export async function startPnpm(args: string[], { env = {}, ready }: { env?: NodeJS.ProcessEnv; ready: RegExp }): Promise<Interactive> {
  const child = spawn(await pnpmPath(), args, {
    cwd: WORKSPACE,
    env: await pnpmEnv(env),
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.once('exit', (code, signal) => resolve([code, signal])),
  );
  const deadline = Date.now() + 60_000;
  while (!ready.test(stdout)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`pnpm ${args.join(' ')} did not get ready (exit ${child.exitCode}):\n${stdout}\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    child,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    async interrupt() {
      const signal = () => {
        try {
          process.kill(-child.pid!, 'SIGINT');
        } catch {
          // the whole group has exited already
        }
      };
      signal();
      await new Promise((r) => setTimeout(r, 20));
      signal();
      return exited;
    },
  };
}
