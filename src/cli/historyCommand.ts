import { RefusalError } from '../errors.js';
import type { CliOptions } from './options.js';

export async function historyCommand(_options: CliOptions): Promise<number> {
  throw new RefusalError('this command is not available in this build yet');
}
