import type { Priority } from '../event/index.js';
import type { SourcePos } from '../lang/index.js';
import type { SourceText } from './source-text.js';

export type OverrideMode = 'append' | 'replace';

/** A value read from YAML with where it was. */
export interface Located<T> {
  readonly value: T;
  readonly pos: SourcePos;
}

/** One entry of a rule's `exceptions`, as written. `values` are rows of strings or string lists. */
export interface ExceptionDef {
  readonly name: string;
  readonly fields?: string | readonly string[];
  readonly comps?: string | readonly string[];
  readonly values?: ReadonlyArray<string | ReadonlyArray<string | readonly string[]>>;
  readonly pos: SourcePos;
}

interface ItemBase {
  readonly name: string;
  readonly pos: SourcePos;
  /** Keys present in the YAML map (to check overrides against). */
  readonly keys: ReadonlySet<string>;
  readonly append: boolean;
  readonly override?: ReadonlyMap<string, OverrideMode>;
}

export interface ListItem extends ItemBase {
  readonly kind: 'list';
  readonly items?: ReadonlyArray<Located<string>>;
}

export interface MacroItem extends ItemBase {
  readonly kind: 'macro';
  readonly condition?: SourceText;
}

export interface RuleItem extends ItemBase {
  readonly kind: 'rule';
  readonly desc?: string;
  readonly condition?: SourceText;
  readonly output?: SourceText;
  readonly priority?: Located<Priority>;
  readonly tags?: readonly string[];
  readonly enabled?: boolean;
  readonly source?: string;
  readonly exceptions?: readonly ExceptionDef[];
  readonly warnEvttypes?: boolean;
  readonly skipIfUnknownFilter?: boolean;
}

export interface EngineVersionItem {
  readonly kind: 'required_engine_version';
  readonly version: string;
  readonly pos: SourcePos;
}

export interface PluginVersionsItem {
  readonly kind: 'required_plugin_versions';
  readonly plugins: ReadonlyArray<{ readonly name: string; readonly version: string }>;
  readonly pos: SourcePos;
}

/** Every item kind a rules file may hold, in file order. */
export type RuleFileItem = ListItem | MacroItem | RuleItem | EngineVersionItem | PluginVersionsItem;

/** A rules file read from disk (or memory): its items and its text for code frames. */
export interface RuleFile {
  readonly name: string;
  readonly text: string;
  readonly items: readonly RuleFileItem[];
}
