/**
 * Wraps a load-progress callback so that a client sees at most one update per `intervalMs`: the
 * first value and the final 1.0 always pass. LM Studio may report progress far more often.
 */
export function throttleProgress(
  intervalMs: number,
  emit: (progress: number) => void,
): (progress: number) => void {
  let last = Number.NEGATIVE_INFINITY;
  return (progress) => {
    const now = performance.now();
    if (progress < 1 && now - last < intervalMs) return;
    last = now;
    emit(progress);
  };
}
