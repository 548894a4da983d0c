import type { Priority, SyscallEvent } from '../event/index.js';
import type { ResponseAction } from './response-action.js';

/** How a policy compares an alert's priority (`>= Warning`). */
export interface PriorityMatch {
  readonly op: '>=' | '>' | '<=' | '<' | '==';
  readonly priority: Priority;
}

/** One action of a policy, its parameters validated against the action's schema. */
export interface PolicyAction {
  readonly action: ResponseAction;
  readonly params: unknown;
  readonly line: number;
}

/**
 * A loaded response policy: when an alert matches (every given criterion must hold: any of
 * `rules`, the `priority` comparison, any of `tags`, the `condition`), its actions run in order.
 */
export interface ResponsePolicy {
  readonly name: string;
  readonly file: string;
  readonly line: number;
  readonly rules?: ReadonlySet<string>;
  readonly priority?: PriorityMatch;
  readonly tags?: readonly string[];
  /** The condition text and its compiled predicate over the alert's event. */
  readonly condition?: { readonly text: string; readonly pred: (e: SyscallEvent) => boolean };
  readonly actions: readonly PolicyAction[];
  readonly dryRun: boolean;
  /** Later policies may match the same alert too. */
  readonly continue: boolean;
  /** Owners the policy may act on (`unknown`: the API could not be asked). */
  readonly ownerKinds: ReadonlySet<string>;
}

/** The owners a policy may act on unless it says otherwise. */
export const DEFAULT_OWNER_KINDS: readonly string[] = [
  'Deployment',
  'ReplicaSet',
  'StatefulSet',
  'Job',
  'CronJob',
  'unknown',
];
