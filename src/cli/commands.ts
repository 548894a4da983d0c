import type { Command } from './cli-error.js';
import { configDefaultsCommand, configValidateCommand } from './config-command.js';
import { alertsTestCommand } from './alerts-test-command.js';
import { fieldsCommand } from './fields-command.js';
import { replayCommand } from './replay-command.js';
import { rulesExplainCommand } from './rules-explain-command.js';
import { rulesLintCommand } from './rules-lint-command.js';
import { rulesListCommand } from './rules-list-command.js';
import { rulesTestCommand } from './rules-test-command.js';
import { rulesValidateCommand } from './rules-validate-command.js';
import { runCommand } from './run-command.js';
import { sensorCommand } from './sensor-command.js';

/** Every command, once. Adding one: its file and one line here. */
export const COMMANDS: readonly Command[] = [runCommand, sensorCommand, replayCommand, rulesValidateCommand, rulesListCommand, rulesTestCommand, rulesLintCommand, rulesExplainCommand, configValidateCommand, configDefaultsCommand, alertsTestCommand, fieldsCommand];
