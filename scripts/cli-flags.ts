// Command-line flags for the project's scripts (npm run bench, npm run plan): node:util's
// parseArgs, strict, with its three-sentence errors cut to the flag's name, as a UsageError the
// script prints on one line before exiting 2.
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A command-line mistake: printed on one line, exit 2. */
export class UsageError extends Error {}

export function readFlags<O extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    const e = err as Error & { code?: string };
    const named = /'([^']+)'/.exec(e.message)?.[1]?.split(' ')[0];
    if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new UsageError(`unknown flag ${named ?? e.message}`);
    if (e.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') throw new UsageError(`unexpected argument ${named ?? e.message}`);
    if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') throw new UsageError(`${named ?? 'a flag'} ${/does not take/.test(e.message) ? 'takes no value' : 'needs a value (a negative one as --flag=-N)'}`);
    throw err;
  }
}
