import { createHash } from "node:crypto";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { DownloadEvent, ModelDownloads } from "../../core/models/model-downloads.ts";
import { ServiceError, toServiceError } from "../../errors.ts";
import type { Lifecycle } from "../../http/lifecycle.ts";
import { beginNdjson, writeLine } from "../../http/ndjson.ts";
import { requestSignal } from "../../http/request-signal.ts";
import { logServiceError } from "../common/log-service-error.ts";
import { errorBody } from "./map-error.ts";
import { localName } from "./model-name.ts";
import { pullRequestSchema } from "./schemas.ts";

export interface PullRouteDeps {
  downloads: ModelDownloads;
  lifecycle: Lifecycle;
}

/** Ollama's progress lines for one download: LM Studio's file stands for Ollama's one layer. */
export function progressLine(name: string, e: DownloadEvent): Array<Record<string, unknown>> {
  if (e.type === "finalizing") return [{ status: "verifying sha256 digest" }, { status: "writing manifest" }];
  const digest = `sha256:${createHash("sha256").update(name).digest("hex")}`;
  return [
    { status: `pulling ${digest.slice(7, 19)}`, digest, total: e.totalBytes, completed: e.downloadedBytes },
  ];
}

/**
 * /api/pull through LM Studio's own downloader. Headers wait for the first progress (or the end),
 * so that a model missing from LM Studio's catalogue is a real 404.
 */
export function registerPullRoute(app: FastifyInstance, deps: PullRouteDeps): void {
  app.withTypeProvider<ZodTypeProvider>().post(
    "/pull",
    {
      schema: {
        summary: "Ollama: download a model through LM Studio's downloader (NDJSON progress by default)",
        tags: ["ollama"],
        body: pullRequestSchema,
      },
    },
    async (request, reply) => {
      const name = localName(request.body.model ?? request.body.name ?? "");
      const signal = requestSignal(reply, deps.lifecycle);
      const pending: DownloadEvent[] = [];
      let wake: (() => void) | undefined;
      let settled = false;
      let failure: unknown;
      const pull = deps.downloads.pull(
        name,
        (e) => {
          pending.push(e);
          wake?.();
        },
        signal,
      );
      pull.then(
        () => {
          settled = true;
          wake?.();
        },
        (error: unknown) => {
          failure = error;
          settled = true;
          wake?.();
        },
      );
      const next = () =>
        new Promise<void>((r) => {
          if (pending.length > 0 || settled) r();
          else wake = r;
        }).then(() => {
          wake = undefined;
        });

      if (!request.body.stream) {
        await pull;
        return { status: "success" };
      }
      await next();
      if (failure !== undefined && pending.length === 0) throw failure;
      const res = beginNdjson(reply);
      writeLine(res, { status: "pulling manifest" });
      try {
        for (;;) {
          for (const e of pending.splice(0))
            for (const line of progressLine(name, e)) await writeLine(res, line);
          if (settled) break;
          await next();
          if (signal.aborted) return reply;
        }
        if (failure !== undefined) throw failure;
        writeLine(res, { status: "success" });
      } catch (error) {
        const e = deps.lifecycle.shutdownSignal.aborted
          ? new ServiceError(503, "shutting_down", "The service is shutting down; retry")
          : toServiceError(error);
        logServiceError(request, e);
        writeLine(res, errorBody(e));
      } finally {
        res.end();
      }
      return reply;
    },
  );
}
