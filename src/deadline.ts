/**
 * `work`, or a rejection once `ms` have passed: for probes (health, metrics) that must answer fast
 * even when the upstream's socket is silent. The work itself goes on; its late failure is ignored.
 */
export function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  work.catch(() => {});
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}
