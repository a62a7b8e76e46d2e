#!/usr/bin/env node
// {{name}}: a robodev notification plugin, made by `robodev plugin new`.
//
// Replace the log lines with calls to your chat or mail service.
import {
  log,
  NotificationChannel,
  type NotifyCompleteRequest__Output,
  type NotifyRequest__Output,
  type NotifyStartRequest__Output,
  serve,
} from "@robodev/plugin-sdk";

class Plugin extends NotificationChannel {
  name = "{{name}}";
  version = "0.1.0";

  async notify(request: NotifyRequest__Output) {
    log.info("notice", { ticket: request.ticket?.id, message: request.message });
    return {};
  }

  async notifyStart(request: NotifyStartRequest__Output) {
    log.info("started", { ticket: request.ticket?.id, engine: request.engine });
    return {};
  }

  async notifyComplete(request: NotifyCompleteRequest__Output) {
    log.info(request.result?.success ? "succeeded" : "failed", {
      ticket: request.ticket?.id,
      summary: request.result?.summary,
    });
    return {};
  }
}

void serve(new Plugin(), { interface: "notifications" });
