#!/usr/bin/env node
// A Microsoft Teams notification plugin: robodev's notifications as Adaptive Cards posted to a
// Teams incoming webhook (a Workflows "post to a channel when a webhook request is received"
// URL, or a legacy connector URL). Built on @robodev/plugin-sdk.
//
// Configuration, from the plugin's environment (robodev-config.yaml's `env:`):
//   TEAMS_WEBHOOK_URL   the webhook URL (required)
//   TEAMS_TIMEOUT_MS    per request (default 10000)
import {
  InvalidArgument,
  log,
  NotificationChannel,
  type NotifyCompleteRequest__Output,
  type NotifyRequest__Output,
  type NotifyStartRequest__Output,
  PermissionDenied,
  serve,
  type Ticket__Output,
  Unavailable,
} from "@robodev/plugin-sdk";

interface Card {
  title: string;
  text: string;
  /** Teams' colour of the title: Good (green), Attention (red), Accent (blue). */
  colour: "Good" | "Attention" | "Accent";
  facts?: { title: string; value: string }[];
  link?: string;
}

class TeamsNotificationChannel extends NotificationChannel {
  name = "teams";
  version = "1.0.0";

  constructor(
    private readonly webhook: string,
    private readonly timeoutMs: number,
  ) {
    super();
  }

  async notify(request: NotifyRequest__Output) {
    await this.sendCard({
      title: `RoboDev: ${request.ticket?.title ?? "notice"}`,
      text: request.message,
      colour: "Accent",
      link: request.ticket?.externalUrl || undefined,
    });
    return {};
  }

  async notifyStart(request: NotifyStartRequest__Output) {
    await this.sendCard({
      title: `RoboDev started ${ticketName(request.ticket)}`,
      text: request.ticket?.title ?? "",
      colour: "Accent",
      facts: [
        { title: "Engine", value: request.engine },
        { title: "Task run", value: request.taskRunId },
      ],
      link: request.ticket?.externalUrl || undefined,
    });
    return {};
  }

  async notifyComplete(request: NotifyCompleteRequest__Output) {
    const result = request.result;
    const facts = [{ title: "Outcome", value: result?.success ? "succeeded" : "failed" }];
    if (result?.mergeRequestUrl) facts.push({ title: "Pull request", value: result.mergeRequestUrl });
    if (result?.branchName) facts.push({ title: "Branch", value: result.branchName });
    await this.sendCard({
      title: `${ticketName(request.ticket)}: ${request.ticket?.title ?? ""}`,
      text: result?.summary || (result?.success ? "done" : "failed"),
      colour: result?.success ? "Good" : "Attention",
      facts,
      link: request.ticket?.externalUrl || undefined,
    });
    return {};
  }

  /** Posts `card` as an Adaptive Card message; a refusal is an error robodev logs. */
  private async sendCard(card: Card): Promise<void> {
    const body = {
      type: "message",
      attachments: [
        {
          contentType: "application/vnd.microsoft.card.adaptive",
          content: {
            $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
            type: "AdaptiveCard",
            version: "1.4",
            body: [
              { type: "TextBlock", text: card.title, weight: "Bolder", size: "Medium", color: card.colour, wrap: true },
              { type: "TextBlock", text: card.text, wrap: true },
              ...(card.facts ? [{ type: "FactSet", facts: card.facts }] : []),
            ],
            ...(card.link ? { actions: [{ type: "Action.OpenUrl", title: "Open the ticket", url: card.link }] } : {}),
          },
        },
      ],
    };
    let response: Response;
    try {
      response = await fetch(this.webhook, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new Unavailable(`cannot reach the Teams webhook: ${err instanceof Error ? err.message : err}`);
    }
    if (!response.ok) {
      const detail = (await response.text()).slice(0, 300);
      const message = `the Teams webhook answered ${response.status}: ${detail}`;
      if (response.status === 400) throw new InvalidArgument(message);
      if (response.status === 401 || response.status === 403) throw new PermissionDenied(message);
      throw new Unavailable(message);
    }
    log.debug("card posted", { title: card.title });
  }
}

function ticketName(ticket: Ticket__Output | null | undefined): string {
  return ticket?.id ? `ticket ${ticket.id}` : "a ticket";
}

const webhook = process.env.TEAMS_WEBHOOK_URL;
if (!webhook) {
  process.stderr.write("robodev-plugin-teams: set TEAMS_WEBHOOK_URL in the plugin's env\n");
  process.exit(1);
}
const channel = new TeamsNotificationChannel(webhook, Number(process.env.TEAMS_TIMEOUT_MS ?? "10000"));
void serve(channel, { interface: "notifications" });
