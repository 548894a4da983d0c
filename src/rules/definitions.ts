import type { Priority } from '../event/index.js';
import type { SourcePos } from '../lang/index.js';
import type { ExceptionDef, Located } from './rule-items.js';
import type { SourceText } from './source-text.js';

/** A list after append/override; `visibility` = how many lists existed at its last definition. */
export interface ListDef {
  readonly name: string;
  items: Array<Located<string>>;
  pos: SourcePos;
  index: number;
  visibility: number;
}

export interface MacroDef {
  readonly name: string;
  condition: SourceText;
  pos: SourcePos;
  index: number;
}

export interface RuleDef {
  readonly name: string;
  pos: SourcePos;
  desc: string;
  condition: SourceText;
  output: SourceText;
  priority: Priority;
  tags: string[];
  enabled: boolean;
  source: string;
  exceptions: ExceptionDef[];
  warnEvttypes: boolean;
  skipIfUnknownFilter: boolean;
}

/** Everything the loaded files define, with later definitions, appends and overrides applied. */
export interface Definitions {
  readonly lists: Map<string, ListDef>;
  readonly macros: Map<string, MacroDef>;
  /** Rules in load order (a redefinition keeps the original position). */
  readonly rules: Map<string, RuleDef>;
  readonly requiredEngineVersions: Array<Located<string>>;
  readonly requiredPlugins: Array<Located<{ name: string; version: string }>>;
}
