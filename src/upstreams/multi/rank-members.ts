/** What ranking needs to know of an upstream: how busy it is, how much it can take, its order. */
export interface Rankable {
  inflight: number;
  capacity: number;
  weight: number;
  /** Models it has loaded: between equally busy upstreams, a load goes to the emptier one. */
  loadedCount?: number;
}

/**
 * The least busy first, relative to what each can take: the lowest (chats in flight + 1) /
 * (capacity × weight), i.e. where one more chat fills the smallest share. Ties go to the upstream
 * with fewer models loaded, then to the one configured first, so that two service instances with
 * the same view pick the same upstream.
 */
export function rankMembers<T extends Rankable>(members: readonly T[]): T[] {
  const score = (m: Rankable) => (m.inflight + 1) / (m.capacity * m.weight);
  return members
    .map((m, order) => ({ m, order }))
    .sort(
      (a, b) =>
        score(a.m) - score(b.m) || (a.m.loadedCount ?? 0) - (b.m.loadedCount ?? 0) || a.order - b.order,
    )
    .map(({ m }) => m);
}
