import type { Envelope } from "./catalogue";
import { describeEvent, type Message } from "./messages";

/** The JSON body each chat service's incoming webhook takes, made from the event in words. */
export type ChatKind = "slack" | "discord" | "teams";

// Slack's mrkdwn treats these three as control characters; everything else is shown as typed.
const slackEscape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const cut = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

function slack(m: Message, e: Envelope) {
  const icon = { good: ":white_check_mark:", bad: ":x:", warning: ":warning:" }[m.tone];
  return {
    // The notification's plain text, read as mrkdwn too: escaped, or a name like <!channel> pings everyone.
    text: slackEscape(m.title),
    blocks: [
      { type: "section", text: { type: "mrkdwn", text: `${icon} *<${m.url}|${slackEscape(m.title)}>*` } },
      {
        type: "section",
        fields: m.facts.slice(0, 10).map(([label, value]) => ({
          type: "mrkdwn",
          text: `*${slackEscape(label)}*\n${slackEscape(cut(value, 500))}`,
        })),
      },
      ...(m.error
        ? [{ type: "section", text: { type: "mrkdwn", text: `*Error*\n${slackEscape(cut(m.error, 2800))}` } }]
        : []),
      { type: "context", elements: [{ type: "mrkdwn", text: `Coffer · ${slackEscape(e.team.name)}` }] },
    ],
  };
}

function discord(m: Message, e: Envelope) {
  return {
    username: "Coffer",
    // Names are shown, never turned into @everyone or role pings.
    allowed_mentions: { parse: [] },
    embeds: [
      {
        title: cut(m.title, 256),
        url: m.url,
        color: { good: 0x16a34a, bad: 0xdc2626, warning: 0xd97706 }[m.tone],
        fields: m.facts
          .slice(0, 25)
          .map(([name, value]) => ({ name: cut(name, 256), value: cut(value, 1024), inline: true })),
        ...(m.error ? { description: cut(m.error, 4000) } : {}),
        timestamp: e.timestamp,
        footer: { text: cut(`Coffer · ${e.team.name}`, 2048) },
      },
    ],
  };
}

function teams(m: Message, e: Envelope) {
  return {
    type: "message",
    attachments: [
      {
        contentType: "application/vnd.microsoft.card.adaptive",
        contentUrl: null,
        content: {
          $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
          type: "AdaptiveCard",
          version: "1.4",
          body: [
            {
              type: "TextBlock",
              size: "Medium",
              weight: "Bolder",
              wrap: true,
              color: { good: "Good", bad: "Attention", warning: "Warning" }[m.tone],
              text: m.title,
            },
            { type: "FactSet", facts: m.facts.map(([title, value]) => ({ title, value })) },
            ...(m.error ? [{ type: "TextBlock", wrap: true, color: "Attention", text: cut(m.error, 2000) }] : []),
            { type: "TextBlock", wrap: true, isSubtle: true, size: "Small", text: `Coffer · ${e.team.name}` },
          ],
          actions: [{ type: "Action.OpenUrl", title: "Open in Coffer", url: m.url }],
        },
      },
    ],
  };
}

export function chatBody(kind: ChatKind, e: Envelope): string {
  const m = describeEvent(e);
  return JSON.stringify({ slack, discord, teams }[kind](m, e));
}
