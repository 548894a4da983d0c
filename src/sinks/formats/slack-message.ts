import type { Alert, Priority } from '../../event/index.js';
import { alertFacts } from './alert-facts.js';

const STYLE: Readonly<Record<Priority, { emoji: string; color: string }>> = {
  Emergency: { emoji: ':rotating_light:', color: '#8B0000' },
  Alert: { emoji: ':rotating_light:', color: '#B22222' },
  Critical: { emoji: ':red_circle:', color: '#E01E5A' },
  Error: { emoji: ':large_orange_circle:', color: '#FF8C00' },
  Warning: { emoji: ':warning:', color: '#ECB22E' },
  Notice: { emoji: ':large_blue_circle:', color: '#36C5F0' },
  Informational: { emoji: ':information_source:', color: '#808080' },
  Debug: { emoji: ':mag:', color: '#C0C0C0' },
};

/**
 * A Slack incoming-webhook message (Block Kit) for an alert: priority with emoji and colour, the
 * rule, where (pod/namespace/workload, node), the key output fields, and a plain-text fallback.
 * Pure: same alert, same message (golden-tested). `repeats` describes folded repeats.
 */
export function slackMessage(
  a: Alert,
  repeats?: { count: number; firstSeen: string; lastSeen: string },
): Record<string, unknown> {
  const s = STYLE[a.priority];
  const x = alertFacts(a);
  const where = [
    x.namespace && `ns \`${x.namespace}\``,
    x.pod && `pod \`${x.pod}\``,
    x.workload && `workload \`${x.workload}\``,
    `node \`${x.node}\``,
  ]
    .filter(Boolean)
    .join(' · ');
  const fallback = `${a.priority}: ${a.rule}${x.pod ? ` (${x.namespace}/${x.pod})` : ''} on ${x.node}${repeats ? ` — ${repeats.count} more since ${repeats.firstSeen}` : ''}`;
  const blocks: Array<Record<string, unknown>> = [
    { type: 'header', text: { type: 'plain_text', text: `${a.priority}: ${a.rule}`.slice(0, 150), emoji: true } },
    { type: 'section', text: { type: 'mrkdwn', text: `${s.emoji} *${a.priority}* · ${where}` } },
  ];
  if (repeats)
    blocks.push({
      type: 'context',
      elements: [
        {
          type: 'mrkdwn',
          text: `Repeated ${repeats.count} times between ${repeats.firstSeen} and ${repeats.lastSeen}`,
        },
      ],
    });
  if (x.fields.length) {
    blocks.push({
      type: 'section',
      fields: x.fields.slice(0, 10).map(([k, v]) => ({ type: 'mrkdwn', text: `*${k}*\n\`${v.slice(0, 200)}\`` })),
    });
  }
  blocks.push({
    type: 'context',
    elements: [
      { type: 'mrkdwn', text: `${a.time} · source ${a.source}${a.tags.length ? ` · ${a.tags.join(', ')}` : ''}` },
    ],
  });
  return { text: fallback, blocks, attachments: [{ color: s.color, fallback }] };
}
