import type { Config } from '../config/load.js';
import { LabWorld } from '../lab/world.js';
import { SimulatedTransport } from './simulated.js';
import type { Transport, TransportName } from './transport.js';

/**
 * Builds each transport the first time a target needs it. The winrm and ssh transports are loaded
 * only then, so that planning offline or against the lab never loads SSH or PowerShell code.
 */
/** Facts a transport reports along the way (a host key recorded, a copy's rate, a build read from the registry). */
export type TransportNoteListener = (server: string, message: string) => void;

export class TransportProvider {
  private readonly made = new Map<TransportName, Promise<Transport>>();
  private world: LabWorld | null = null;
  private noteListener: TransportNoteListener = (server, message) => {
    process.stderr.write(`note: ${message.startsWith(server) ? message : `${server}: ${message}`}\n`);
  };

  constructor(
    private readonly config: Config,
    private readonly factories: Partial<Record<TransportName, (config: Config) => Promise<Transport>>> = {},
  ) {}

  /** Where transports' notes go from now on (the deployment's log once it has one). */
  onNote(listener: TransportNoteListener): void {
    this.noteListener = listener;
  }

  private readonly note: TransportNoteListener = (server, message) => this.noteListener(server, message);

  /** The lab world, opened on first use. */
  labWorld(): LabWorld {
    if (!this.world) {
      const simulated = this.config.targets.filter((t) => (t.transport ?? this.config.settings.transport) === 'simulated');
      this.world = LabWorld.open(LabWorld.pathFor(this.config.outputDir), simulated, {
        timeScale: this.config.lab?.timeScale ?? 0.01,
      });
    }
    return this.world;
  }

  get(name: TransportName): Promise<Transport> {
    let transport = this.made.get(name);
    if (!transport) {
      transport = this.create(name);
      this.made.set(name, transport);
    }
    return transport;
  }

  private async create(name: TransportName): Promise<Transport> {
    const factory = this.factories[name];
    if (factory) return factory(this.config);
    switch (name) {
      case 'simulated':
        return new SimulatedTransport(this.labWorld());
      case 'winrm': {
        const { createWinrmTransport } = await import('./winrmFactory.js');
        return createWinrmTransport(this.config, this.note);
      }
      case 'ssh': {
        const { createSshTransport } = await import('./sshFactory.js');
        return createSshTransport(this.config, this.note);
      }
      default: {
        const never: never = name;
        throw new Error(`unknown transport ${String(never)}`);
      }
    }
  }

  async dispose(): Promise<void> {
    for (const transport of this.made.values()) await (await transport).dispose();
    this.made.clear();
    this.world?.close();
    this.world = null;
  }
}
