import type { Config } from '../config/load.js';
import { ConnectivityError } from '../errors.js';
import type { HostAddress, HostSession, Transport } from './transport.js';

/** Placeholder until the winrm transport lands: every host is reported unreachable, plainly. */
export async function createWinrmTransport(_config: Config): Promise<Transport> {
  return {
    name: 'winrm',
    async open(address: HostAddress): Promise<HostSession> {
      throw new ConnectivityError(address.server, 'the winrm transport is not available in this build');
    },
    async dispose() {},
  };
}
