import type { EventLevel } from '../store/states.js';

/** What the engine tells the operator's screen and the log file as it goes. */
export interface DeployObserver {
  hostStarted(server: string, totalSteps: number): void;
  stepStarted(server: string, index: number, total: number, installer: string): void;
  hostFinished(server: string, summary: string): void;
  /** A line for the log (and the screen, by level); `error` carries the stack for the log file. */
  log(level: EventLevel, message: string, error?: unknown): void;
  /** The expected end of the run and of its current wave, updated as installers finish. */
  eta?(summary: string): void;
}

export const silentObserver: DeployObserver = {
  hostStarted() {},
  stepStarted() {},
  hostFinished() {},
  log() {},
};
