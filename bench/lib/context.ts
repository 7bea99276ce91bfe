/** What every scenario gets: the counts, the targets, the emulator's admin port, a log. */
import { now } from "./load.ts";
import { assertAlive } from "./processes.ts";
import type { ByTarget, Emulator, Target, TargetKey } from "./targets.ts";

export interface Counts {
  warm: number;
  seq: number;
  c50: number;
  c50Rounds: number;
  stream: number;
  streams: number;
  image: number;
  abort: number;
  abortPk: number;
}

export const QUICK: Counts = {
  warm: 30,
  seq: 100,
  c50: 300,
  c50Rounds: 1,
  stream: 15,
  streams: 200,
  image: 1,
  abort: 2,
  abortPk: 1,
};
export const FULL: Counts = {
  warm: 200,
  seq: 1500,
  c50: 3000,
  c50Rounds: 3,
  stream: 120,
  streams: 1000,
  image: 6,
  abort: 8,
  abortPk: 2,
};

export interface Context {
  n: Counts;
  quick: boolean;
  emu: Emulator;
  targets: Target[];
  /** The targets with these keys, in this order, and the variants (`--variant`) after them. */
  only(keys: readonly TargetKey[]): Target[];
  admin<T>(path: string, body?: unknown): Promise<T>;
  log(msg: string): void;
  checkAlive(): void;
}

export const log = (msg: string) => process.stderr.write(`[bench ${(now() / 1000).toFixed(1)}s] ${msg}\n`);

export function createContext(n: Counts, quick: boolean, emu: Emulator, targets: Target[]): Context {
  const byKey = new Map(targets.map((t) => [t.key, t]));
  return {
    n,
    quick,
    emu,
    targets,
    only: (keys) => [
      ...keys.map((k) => byKey.get(k)).filter((t) => t !== undefined),
      ...targets.filter((t) => t.key.startsWith("variant_") && !keys.includes(t.key)),
    ],
    async admin<T>(path: string, body?: unknown): Promise<T> {
      const res = await fetch(`${emu.admin}${path}`, {
        method: body === undefined ? "GET" : "POST",
        ...(body !== undefined && { body: JSON.stringify(body) }),
      });
      if (!res.ok) throw new Error(`emulator admin ${path}: HTTP ${res.status}`);
      return (await res.json()) as T;
    },
    log,
    checkAlive() {
      for (const t of targets) assertAlive(t.child);
    },
  };
}

export function rotate<T>(items: readonly T[], by: number): T[] {
  const k = by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

export class Errors {
  count = 0;
  first: string | undefined;
  note(error: unknown): void {
    this.count++;
    this.first ??= error instanceof Error ? error.message : String(error);
  }
}

/** One value per target of a list. */
export function perTarget<V>(targets: readonly Target[], f: (t: Target) => V): ByTarget<V> {
  return Object.fromEntries(targets.map((t) => [t.key, f(t)])) as ByTarget<V>;
}
