/**
 * `Server-Timing` with the service's own cost: the time spent handling the request minus the time
 * spent waiting on the upstream (chat and on-demand load) and in the admission queue.
 */
export function serverTiming(elapsedMs: number, timings?: { upstreamMs: number; queueMs?: number }): string {
  const upstream = timings?.upstreamMs ?? 0;
  const queue = timings?.queueMs ?? 0;
  const overhead = Math.max(0, elapsedMs - upstream - queue);
  let header = `overhead;dur=${overhead.toFixed(2)}`;
  if (timings) header += `, upstream;dur=${upstream.toFixed(2)}`;
  if (queue) header += `, queue;dur=${queue.toFixed(2)}`;
  return header;
}
