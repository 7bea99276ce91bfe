/** Memory and CPU time of a process, from /proc (Linux). */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

let clockTicks: number | undefined;
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

function statusField(pid: number, field: string): number {
  const text = readFileSync(`/proc/${pid}/status`, "utf8");
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text);
  return m ? Number(m[1]) * 1024 : Number.NaN;
}

/** Resident set size now, in bytes. */
export const rssBytes = (pid: number): number => statusField(pid, "VmRSS");
/** Peak resident set size since the process started (VmHWM), in bytes. */
export const hwmBytes = (pid: number): number => statusField(pid, "VmHWM");

/**
 * User + system CPU time used so far, in milliseconds (resolution: one clock tick, usually 10 ms):
 * of the whole process, or of one of its threads (`tid`; the main thread's is the pid).
 */
export function cpuMs(pid: number, tid?: number): number {
  const stat = readFileSync(
    tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`,
    "utf8",
  );
  // The command name (field 2) may contain spaces: count fields after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1000) / ticksPerSecond();
}

export const MiB = 1024 * 1024;

/** Polls VmRSS every `everyMs` and keeps the highest value seen. */
export class RssSampler {
  #peak = 0;
  #timer: NodeJS.Timeout;
  readonly #pid: number;
  constructor(pid: number, everyMs = 20) {
    this.#pid = pid;
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), everyMs);
  }
  #sample(): void {
    try {
      this.#peak = Math.max(this.#peak, rssBytes(this.#pid));
    } catch {
      // the process is gone: keep what we saw
    }
  }
  /** Stops polling; the peak in bytes. */
  stop(): number {
    clearInterval(this.#timer);
    this.#sample();
    return this.#peak;
  }
}
