/**
 * The processes the bench starts. Each gets a pipe as stdin and `--import bench/watchdog.ts`, so it
 * exits when the bench does, however the bench ends; `stopAll` ends them by pid on a normal exit,
 * and `process.on("exit")` SIGKILLs whatever is left.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import net from "node:net";
import { fileURLToPath } from "node:url";

export const WATCHDOG = fileURLToPath(new URL("../watchdog.ts", import.meta.url));

export interface Child {
  name: string;
  proc: ChildProcess;
  pid: number;
  /** Where its stdout and stderr go (bench/out/<name>.log). */
  logPath: string;
}

const running = new Set<Child>();

process.on("exit", () => {
  for (const c of running) {
    try {
      c.proc.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
});

export interface SpawnOptions {
  name: string;
  /** Node arguments after `--import watchdog.ts`: flags, then the script and its arguments. */
  args: string[];
  env?: Record<string, string>;
  cwd: string;
  logPath: string;
  /** Keep stdout as a pipe (to read a ready line) instead of sending it to the log file. */
  pipeStdout?: boolean;
}

export function spawnNode(opts: SpawnOptions): Child {
  const log = openSync(opts.logPath, "w");
  const proc = spawn(process.execPath, ["--import", WATCHDOG, ...opts.args], {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: ["pipe", opts.pipeStdout ? "pipe" : log, log],
  });
  closeSync(log);
  if (proc.pid === undefined) throw new Error(`could not start ${opts.name}`);
  const child: Child = { name: opts.name, proc, pid: proc.pid, logPath: opts.logPath };
  running.add(child);
  proc.once("exit", () => running.delete(child));
  return child;
}

/** Sends SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
export function stop(child: Child, graceMs = 2_000): Promise<void> {
  if (child.proc.exitCode !== null || child.proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.proc.kill("SIGKILL"), graceMs);
    child.proc.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.proc.kill("SIGTERM");
  });
}

export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((c) => stop(c)));
}

export function isAlive(child: Child): boolean {
  return child.proc.exitCode === null && child.proc.signalCode === null;
}

/** Throws (with the end of its log) when the process has exited. */
export function assertAlive(child: Child): void {
  if (!isAlive(child)) {
    throw new Error(
      `${child.name} exited (code ${child.proc.exitCode}, signal ${child.proc.signalCode}); see ${child.logPath}`,
    );
  }
}

/** A free loopback port (asks the kernel, then releases it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Waits until something accepts HTTP on `origin` (any status), or throws after `timeoutMs`. */
export async function waitForHttp(origin: string, child: Child, timeoutMs = 20_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    assertAlive(child);
    try {
      const res = await fetch(`${origin}/__bench_ready`, { signal: AbortSignal.timeout(1_000) });
      await res.arrayBuffer();
      return;
    } catch {
      if (performance.now() > deadline) throw new Error(`${child.name} did not answer on ${origin}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Reads the first line of a piped stdout. */
export function firstLine(child: Child, timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = "";
    const timer = setTimeout(() => reject(new Error(`${child.name}: no ready line`)), timeoutMs);
    const onExit = () => reject(new Error(`${child.name} exited before it was ready; see ${child.logPath}`));
    child.proc.once("exit", onExit);
    child.proc.stdout?.on("data", (d: Buffer) => {
      buf += d.toString("utf8");
      const nl = buf.indexOf("\n");
      if (nl >= 0) {
        clearTimeout(timer);
        child.proc.off("exit", onExit);
        child.proc.stdout?.removeAllListeners("data");
        child.proc.stdout?.resume();
        resolve(buf.slice(0, nl));
      }
    });
  });
}
