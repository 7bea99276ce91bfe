/**
 * Core metrics: what chats and model loads report as they happen, whatever API surface started
 * them. The core calls these interfaces; app.ts injects the Prometheus implementation (or none).
 */
import type { ChatUsage } from "../../upstreams/types.ts";

/** How a chat ended. `rejected`: refused by us (429, unknown model, bad input the upstream saw). */
export type ChatOutcome = "ok" | "cancelled" | "timeout" | "upstream_error" | "rejected" | "error";

/** How an upstream model load ended. */
export type LoadOutcome = "ok" | "cancelled" | "timeout" | "error";

/** The label of a model that is neither downloaded nor loaded, or not known yet: bounded cardinality. */
export const OTHER_MODEL = "other";

/** The label of a chat whose surface did not say which it is. */
export const UNKNOWN_SURFACE = "unknown";

/**
 * One chat as it went, filled in by ChatService: for metrics when it ends, and for the access log
 * line of the request that carried it (the object is shared, so late fields still reach the line).
 */
export interface ChatReport {
  surface: string;
  /** The model's key once the gate resolved it; OTHER_MODEL until then (or forever). */
  model: string;
  outcome?: ChatOutcome;
  promptTokens?: number;
  completionTokens?: number;
}

export interface ChatEnd {
  report: ChatReport;
  usage?: ChatUsage;
  timeToFirstTokenMs?: number;
  generationMs?: number;
}

export interface ChatObserver {
  /** Time a chat waited for a slot (admitted ones only). */
  queued(seconds: number): void;
  /** A chat refused (429) or cancelled before it got a slot. */
  notAdmitted(report: ChatReport, code: string): void;
  /** A chat's model is resolved: it runs on it until `ended` (`inFlight` +1 / -1). */
  inFlight(model: string, delta: 1 | -1): void;
  ended(end: ChatEnd): void;
}

export interface ModelObserver {
  /** One upstream load (however many callers shared it), by model key. */
  loadEnded(model: string, outcome: LoadOutcome, seconds: number): void;
}

/** Observes nothing: metrics off, and unit tests that do not look. */
export const noObserver: ChatObserver & ModelObserver = {
  queued: () => {},
  notAdmitted: () => {},
  inFlight: () => {},
  ended: () => {},
  loadEnded: () => {},
};
