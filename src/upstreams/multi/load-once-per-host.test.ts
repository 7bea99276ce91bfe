import { describe, expect, it } from "vitest";
import { ServiceError } from "../../errors.ts";
import type { LoadedModel, LoadOptions } from "../types.ts";
import { loadOncePerHost } from "./load-once-per-host.ts";

const model = (modelKey: string, identifier = modelKey): LoadedModel => ({
  modelKey,
  identifier,
  type: "llm",
  displayName: modelKey,
  vision: false,
  trainedForToolUse: false,
  maxContextLength: 8192,
  contextLength: 4096,
  sizeBytes: 1,
});
const taken = () => new ServiceError(409, "identifier_taken", "taken");
const timing = { pollMs: 5, retryMs: 1_000, timeoutMs: 1_000 };

describe("loadOncePerHost", () => {
  it("loads under the model key as identifier", async () => {
    const asked: LoadOptions[] = [];
    const loaded = await loadOncePerHost(
      {
        load: async (o) => {
          asked.push(o);
          return model(o.modelKey, o.identifier);
        },
        listLoaded: async () => [],
      },
      { modelKey: "m" },
      timing,
    );
    expect(asked.map((o) => o.identifier)).toEqual(["m"]);
    expect(loaded.identifier).toBe("m");
  });

  it("waits for another instance's load of the same model instead of loading a second copy", async () => {
    let listings = 0;
    let loads = 0;
    const loaded = await loadOncePerHost(
      {
        load: async () => {
          loads++;
          throw taken();
        },
        listLoaded: async () => (++listings >= 3 ? [model("M", "m")] : []),
      },
      { modelKey: "m" },
      timing,
    );
    expect(loaded.modelKey).toBe("M");
    expect(loads).toBe(1);
  });

  it("reports an identifier taken by another model as it is", async () => {
    const error = taken();
    await expect(
      loadOncePerHost(
        {
          load: async () => {
            throw error;
          },
          listLoaded: async () => [model("other", "x")],
        },
        { modelKey: "m", identifier: "x" },
        timing,
      ),
    ).rejects.toBe(error);
  });

  it("loads itself when the other instance's load failed and freed the identifier", async () => {
    let loads = 0;
    const loaded = await loadOncePerHost(
      {
        load: async (o) => {
          if (++loads === 1) throw taken();
          return model(o.modelKey, o.identifier);
        },
        listLoaded: async () => [],
      },
      { modelKey: "m" },
      { ...timing, retryMs: 20 },
    );
    expect(loaded.identifier).toBe("m");
    expect(loads).toBe(2);
  });

  it("stops waiting when the caller goes away", async () => {
    const controller = new AbortController();
    const waiting = loadOncePerHost(
      {
        load: async () => {
          throw taken();
        },
        listLoaded: async () => {
          controller.abort();
          return [];
        },
      },
      { modelKey: "m", signal: controller.signal },
      timing,
    );
    await expect(waiting).rejects.toMatchObject({ code: "cancelled" });
  });
});
