import type { ServiceState } from '../remote/transport.js';

/**
 * What pre-flight says about an instance's services. Nothing here stops a host: SQL Server setup
 * patches an instance whose engine is stopped (and leaves it stopped), and patching needs nothing of
 * SQL Server Agent, which Express editions do not have. The notes go to the log and history.db so an
 * operator sees the state the instances were found in.
 */

/** SQLSERVERAGENT for the default instance, SQLAgent$NAME for a named one. */
export function isAgentService(name: string): boolean {
  return /^SQLSERVERAGENT$/i.test(name) || /^SQLAgent\$/i.test(name);
}

export interface ServiceNote {
  readonly level: 'info' | 'warn';
  readonly message: string;
}

export function serviceNotes(services: readonly ServiceState[]): ServiceNote[] {
  const notes: ServiceNote[] = [];
  for (const service of services) {
    const state = service.state.toLowerCase();
    if (state === 'running') continue;
    if (isAgentService(service.name)) {
      const what = state === 'notfound' ? 'is not installed (Express has no Agent)' : `is ${service.state}`;
      notes.push({ level: 'info', message: `SQL Server Agent ${service.name} ${what}; patching does not need it` });
    } else if (state === 'notfound') {
      notes.push({ level: 'warn', message: `database engine service ${service.name} was not found; setup patches what the registry lists` });
    } else {
      notes.push({
        level: 'warn',
        message: `database engine ${service.name} is ${service.state}: setup patches it as it is and leaves it ${service.state}; the post-check reads its build from the registry`,
      });
    }
  }
  return notes;
}
