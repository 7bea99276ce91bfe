// surfaces/common: what every API surface does the same way, whatever its wire format.
import type { FastifyReply, FastifyRequest, preParsingHookHandler } from "fastify";
import type { AdmissionTicket, ChatService } from "../../core/chat/chat-service.ts";
import { setAccessLogFields } from "../../http/access-log-fields.ts";
import type { Lifecycle } from "../../http/lifecycle.ts";
import { requestSignal } from "../../http/request-signal.ts";

interface Admitted {
  ticket: AdmissionTicket;
  signal: AbortSignal;
}

const admitted = new WeakMap<FastifyRequest, Admitted>();

/**
 * A `preParsing` hook that waits for a chat slot before the body is read: queued requests (and
 * those refused with 429) hold no body in memory, however large the body they are sending. The
 * slot is freed when the response closes, even when validation refuses the body.
 *
 * `surface` labels the chats' metrics ("reference", "openai", "ollama"); the access line of the
 * request gets the chat's model, tokens and outcome.
 */
export function admitBeforeBody(
  chat: ChatService,
  lifecycle: Lifecycle,
  surface: string,
): preParsingHookHandler {
  const record = (
    request: FastifyRequest,
    reply: FastifyReply,
    ticket: AdmissionTicket,
    signal: AbortSignal,
  ) => {
    const report = ticket.report;
    setAccessLogFields(request, () => ({
      model: report.model,
      ...(report.outcome !== undefined && { outcome: report.outcome }),
      ...(report.promptTokens !== undefined && { prompt_tokens: report.promptTokens }),
      ...(report.completionTokens !== undefined && { completion_tokens: report.completionTokens }),
    }));
    reply.raw.once("close", ticket.release);
    admitted.set(request, { ticket, signal });
  };
  // A callback hook: a free slot (the common case) is taken without a promise.
  return (request, reply, payload, done) => {
    const signal = requestSignal(reply, lifecycle);
    const now = chat.tryAdmit(surface);
    if (now) {
      record(request, reply, now, signal);
      done(null, payload);
      return;
    }
    chat.admit(signal, surface).then(
      (ticket) => {
        record(request, reply, ticket, signal);
        done(null, payload);
      },
      (error: Error) => done(error),
    );
  };
}

/** The ticket and the request's abort signal that `admitBeforeBody` got for this request. */
export function admission(request: FastifyRequest, _reply: FastifyReply): Admitted {
  const a = admitted.get(request);
  if (!a) throw new Error("chat route registered without the admitBeforeBody hook");
  return a;
}
