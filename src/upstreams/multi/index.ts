/**
 * Several upstreams as one: the core and the surfaces see one Upstream, whose models are the
 * upstreams' models merged (each tagged with its upstream), whose chats go to the least busy
 * upstream that has the model loaded, and whose loads go to the least busy LM Studio that has it
 * downloaded. An upstream that fails before the answer's first byte is skipped for the next one.
 */
import type { FastifyBaseLogger } from "fastify";
import { ServiceError } from "../../errors.ts";
import type {
  ChatEvent,
  ChatRequest,
  DownloadedModel,
  LoadedModel,
  LoadOptions,
  ModelManager,
  ModelType,
  RawRequest,
  RawResponse,
  Upstream,
  UpstreamStatus,
} from "../types.ts";
import { classifyFailure } from "./classify-failure.ts";
import { HealthChecks } from "./health-checks.ts";
import { loadOncePerHost } from "./load-once-per-host.ts";
import { LISTING_FRESH_MS, Member, type MemberSettings } from "./member.ts";
import { rankMembers } from "./rank-members.ts";

export interface MultiUpstreamOptions {
  checkIntervalMs: number;
  /** Budget of a health check (a version call). */
  checkTimeoutMs: number;
  /** How long a load waits for another instance's load of the same model on the same host. */
  loadTimeoutMs: number;
  logger: FastifyBaseLogger;
}

/** Upstreams tried for one request before its error reaches the client. */
const MAX_TRIES = 3;
const NAME = "any upstream";

const matchesName = (m: LoadedModel, name: string) => m.identifier === name || m.modelKey === name;
const matchesFolded = (m: LoadedModel, lower: string) =>
  m.identifier.toLowerCase() === lower || m.modelKey.toLowerCase() === lower;

export function createMultiUpstream(
  parts: Array<{ settings: MemberSettings; upstream: Upstream }>,
  opts: MultiUpstreamOptions,
): Upstream {
  const members = parts.map((p) => new Member(p.settings, p.upstream));
  const byName = new Map(members.map((m) => [m.name, m]));
  const health = new HealthChecks(members, {
    intervalMs: opts.checkIntervalMs,
    timeoutMs: opts.checkTimeoutMs,
    logger: opts.logger,
  });
  health.start();

  function member(name: string): Member {
    const m = byName.get(name);
    if (!m) {
      throw new ServiceError(
        404,
        "unknown_upstream",
        `No upstream is named "${name.slice(0, 64)}" (configured: ${members.map((x) => x.name).join(", ")})`,
      );
    }
    return m;
  }

  /** Lists every usable member; a member that fails is marked down and left out. */
  async function gather<T>(list: (m: Member) => Promise<T[]>, pinned?: string): Promise<T[]> {
    const targets = pinned !== undefined ? [member(pinned)] : members.filter((m) => m.usable);
    const results = await Promise.allSettled(targets.map(list));
    const failures: unknown[] = [];
    results.forEach((r, i) => {
      if (r.status === "rejected") {
        failures.push(r.reason);
        health.reportFailure(targets[i] as Member, r.reason);
      }
    });
    if (failures.length === targets.length) throw noneAnswered(failures[0]);
    return results.flatMap((r) => (r.status === "fulfilled" ? r.value : []));
  }

  function noneAnswered(first: unknown): ServiceError {
    if (first instanceof ServiceError && members.length === 1) return first;
    const states = members.map((m) => `${m.name}: ${m.lastError ?? m.state}`).join("; ");
    return new ServiceError(503, "upstream_unreachable", `No upstream answered (${states})`, {
      cause: first,
    });
  }

  /** Members that have `model` loaded (by identifier or key, then in any case), usable, not tried; unranked. */
  async function candidates(model: string, pinned: string | undefined, tried: Set<Member>) {
    if (pinned !== undefined && tried.size === 0) requireUsable(member(pinned));
    const pool = (pinned !== undefined ? [member(pinned)] : members).filter((m) => m.usable && !tried.has(m));
    const listed = await Promise.all(
      pool.map((m) =>
        m.listLoaded(LISTING_FRESH_MS).then(
          (loaded) => ({ m, loaded }),
          (error: unknown) => {
            health.reportFailure(m, error);
            return { m, loaded: [] as readonly LoadedModel[] };
          },
        ),
      ),
    );
    let found = listed.filter((x) => x.loaded.some((l) => matchesName(l, model)));
    if (found.length === 0) {
      const lower = model.toLowerCase();
      found = listed.filter((x) => x.loaded.some((l) => matchesFolded(l, lower)));
    }
    return found.map((x) => x.m);
  }

  /**
   * The candidates, least busy first. Ranked after every await, and the caller takes its pick in the
   * same turn: requests that waited on one listing together must not all see the same counts.
   */
  const ranked = (pool: Member[]) =>
    rankMembers(
      pool.map((m) => ({
        member: m,
        inflight: m.inflight,
        capacity: m.settings.capacity,
        weight: m.settings.weight,
      })),
    ).map((r) => r.member);

  const notLoaded = (model: string, pinned: string | undefined) =>
    new ServiceError(
      503,
      "model_not_loaded",
      `Chat service unavailable: Model "${model}" is not loaded${pinned !== undefined ? ` on ${pinned}` : ""}. Load it with POST /models/load`,
    );

  /**
   * Sends a request to the best candidate, and to the next when one fails before answering, at
   * most MAX_TRIES times. `send` resolves once the upstream's answer has started.
   */
  async function route<T>(
    model: string,
    pinned: string | undefined,
    signal: AbortSignal,
    send: (m: Member) => Promise<T>,
  ): Promise<{ member: Member; result: T }> {
    const tried = new Set<Member>();
    let lastError: unknown;
    for (let attempt = 0; attempt < MAX_TRIES; attempt++) {
      const [best] = ranked(await candidates(model, pinned, tried));
      if (!best) break;
      tried.add(best);
      best.inflight++;
      try {
        return { member: best, result: await send(best) };
      } catch (error) {
        best.inflight--;
        if (signal.aborted) throw error;
        const kind = classifyFailure(error);
        if (kind === "final") throw error;
        if (kind === "down") health.reportFailure(best, error);
        else if ((error as ServiceError).code === "model_not_loaded") best.forgetLoaded(model);
        opts.logger.warn(
          { upstream: best.name, code: (error as ServiceError).code, err: (error as Error).message },
          "upstream failed before answering: trying the next",
        );
        lastError = error;
      }
    }
    throw lastError ?? notLoaded(model, pinned);
  }

  async function* chatStream(request: ChatRequest): AsyncGenerator<ChatEvent> {
    let iterator: AsyncIterator<ChatEvent> | undefined;
    const { member: chosen, result: first } = await route(
      request.model,
      request.upstream,
      request.signal,
      async (m) => {
        const it = m.upstream.chat.stream(request)[Symbol.asyncIterator]();
        try {
          const step = await it.next();
          iterator = it;
          return step;
        } catch (error) {
          it.return?.().catch(() => {});
          throw error;
        }
      },
    );
    let finished = false;
    try {
      for (let step = first; !step.done; step = await (iterator as AsyncIterator<ChatEvent>).next()) {
        yield step.value;
      }
      finished = true;
    } finally {
      chosen.inflight--;
      // Bytes reached the client: nothing is retried; a consumer gone cancels upstream.
      if (!finished) await iterator?.return?.().catch(() => {});
    }
  }

  async function passthrough(request: RawRequest): Promise<RawResponse> {
    const { member: chosen, result } = await route(request.model, request.upstream, request.signal, (m) => {
      if (!m.upstream.passthrough) {
        return Promise.reject(
          new ServiceError(501, "not_supported", `${m.name} has no OpenAI-compatible API to forward to`),
        );
      }
      return m.upstream.passthrough(request);
    });
    return { ...result, body: countWhileRead(result.body, () => chosen.inflight--) };
  }

  /** Where a load goes: the pinned upstream, else the least busy LM Studio that has the model. */
  async function place(modelKey: string, pinned: string | undefined): Promise<Member> {
    if (pinned !== undefined) {
      const m = member(pinned);
      if (!m.canLoad) throw cannotManage(m);
      requireUsable(m);
      return m;
    }
    const lower = modelKey.toLowerCase();
    const loaders = members.filter((m) => m.usable && m.canLoad);
    const withModel = (
      await Promise.all(
        loaders.map(async (m) => {
          const downloaded = await m.listDownloadedForPlacement().catch(() => []);
          return downloaded.some((d) => d.modelKey.toLowerCase() === lower) ? m : undefined;
        }),
      )
    ).filter((m) => m !== undefined);
    const [best] = rankMembers(
      withModel.map((m) => ({
        member: m,
        inflight: m.inflight,
        capacity: m.settings.capacity,
        weight: m.settings.weight,
        loadedCount: m.loaded.length,
      })),
    );
    if (!best) {
      throw new ServiceError(
        404,
        "model_not_found",
        `No reachable LM Studio upstream has "${modelKey}" downloaded (GET /models/available lists them)`,
      );
    }
    return best.member;
  }

  const models: ModelManager = {
    async version() {
      await health.checkAll();
      const up = members.filter((m) => m.state === "up");
      if (up.length === 0) throw noneAnswered(undefined);
      return up.map((m) => `${m.name} ${m.version ?? "unknown"}`).join(", ");
    },

    compatibility() {
      const bad = members
        .map((m) => ({ m, c: m.upstream.models.compatibility?.() }))
        .filter((x) => x.c && !x.c.compatible);
      if (bad.length === 0) return { compatible: true };
      return { compatible: false, reason: bad.map((x) => `${x.m.name}: ${x.c?.reason}`).join("; ") };
    },

    listLoaded: () => gather((m) => m.listLoaded()),

    listDownloaded: () => gather<DownloadedModel>((m) => m.listDownloaded()),

    async place(modelKey, pinned) {
      return (await place(modelKey, pinned)).name;
    },

    async load(o: LoadOptions) {
      const m = await place(o.modelKey, o.upstream);
      const model = await loadOncePerHost(
        { load: (x) => m.upstream.models.load(x), listLoaded: () => m.upstream.models.listLoaded() },
        o,
        { pollMs: 100, retryMs: 2_000, timeoutMs: opts.loadTimeoutMs },
      );
      m.rememberLoaded(model);
      return { ...model, upstream: m.name };
    },

    async unload(model: { identifier: string; type: ModelType; upstream?: string }) {
      const targets =
        model.upstream !== undefined
          ? [member(model.upstream)]
          : members.filter((m) => m.loaded.some((l) => l.identifier === model.identifier));
      for (const m of targets) if (!m.canLoad) throw cannotManage(m);
      await Promise.all(
        targets.map(async (m) => {
          await m.upstream.models.unload(model);
          m.forgetLoaded(model.identifier);
        }),
      );
    },
  };

  return {
    name: NAME,
    capabilities: {
      listDownloaded: true,
      loadUnload: members.some((m) => m.canLoad),
      loadProgress: members.some((m) => m.upstream.capabilities.loadProgress),
    },
    models,
    chat: { stream: chatStream },
    passthrough,
    async probe() {
      const warnings = await Promise.all(
        members.map(async (m) => {
          const w = await m.upstream.probe?.().catch(() => undefined);
          return w ? `${m.name}: ${w}` : undefined;
        }),
      );
      const found = warnings.filter((w) => w !== undefined);
      return found.length > 0 ? found.join("\n") : undefined;
    },
    status(): UpstreamStatus[] {
      return members.map((m) => ({
        name: m.name,
        kind: m.settings.kind,
        url: m.settings.url,
        state: m.state,
        ...(m.version !== undefined && { version: m.version }),
        chatsInFlight: m.inflight,
        capacity: m.settings.capacity,
        weight: m.settings.weight,
        ...(m.state === "down" && m.lastError !== undefined && { lastError: m.lastError }),
      }));
    },
    async close() {
      health.close();
      await Promise.all(members.map((m) => m.upstream.close()));
    },
  };
}

/** A pinned upstream that is down: the client asked for that one, so no other will do. */
function requireUsable(m: Member): void {
  if (m.usable) return;
  throw new ServiceError(
    503,
    "upstream_unreachable",
    `${m.name} is down (${m.lastError ?? "not answering"}); retry later, or do not pin it`,
  );
}

function cannotManage(m: Member): ServiceError {
  return new ServiceError(
    409,
    "not_supported",
    `${m.name} is an OpenAI-compatible engine that manages its models itself: this service cannot load or unload models there`,
  );
}

/** The body as it streams, calling `done` once when it ends, fails, or is given up. */
function countWhileRead(body: AsyncIterable<Buffer>, done: () => void): AsyncIterable<Buffer> {
  const inner = body[Symbol.asyncIterator]();
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    done();
  };
  return {
    [Symbol.asyncIterator]: () => ({
      async next() {
        try {
          const step = await inner.next();
          if (step.done) end();
          return step;
        } catch (error) {
          end();
          throw error;
        }
      },
      async return(value?: unknown) {
        end();
        await inner.return?.(value);
        return { done: true as const, value: undefined };
      },
    }),
  };
}
