import type { Config } from '../config/load.js';
import { ConnectivityError } from '../errors.js';
import type { HostAddress, HostSession, Transport } from './transport.js';

/** Placeholder until the ssh transport lands: every host is reported unreachable, plainly. */
export async function createSshTransport(_config: Config): Promise<Transport> {
  return {
    name: 'ssh',
    async open(address: HostAddress): Promise<HostSession> {
      throw new ConnectivityError(address.server, 'the ssh transport is not available in this build');
    },
    async dispose() {},
  };
}
