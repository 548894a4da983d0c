import { alertmanagerSinkPlugin } from './alertmanager-sink.js';
import { fileSinkPlugin } from './file-sink.js';
import { pagerdutySinkPlugin } from './pagerduty-sink.js';
import type { SinkPlugin } from './sink-plugin.js';
import { slackSinkPlugin } from './slack-sink.js';
import { stdoutSinkPlugin } from './stdout-sink.js';
import { webhookSinkPlugin } from './webhook-sink.js';

/** Every sink type, listed once. */
export const SINK_PLUGINS: readonly SinkPlugin[] = [
  stdoutSinkPlugin,
  fileSinkPlugin,
  webhookSinkPlugin,
  slackSinkPlugin,
  pagerdutySinkPlugin,
  alertmanagerSinkPlugin,
];

/** The plug-in for a type, or undefined. */
export function sinkPluginFor(type: string): SinkPlugin | undefined {
  return SINK_PLUGINS.find((p) => p.type === type);
}
