/**
 * The operator's stop request, in two levels. Once: start nothing new and let running installers
 * finish (an installer killed mid-way can leave an instance broken). Twice: stop waiting; the
 * installers go on on their targets and the steps are recorded as interrupted.
 */
export class Cancellation {
  private level = 0;
  private readonly abortController = new AbortController();
  private readonly listeners: ((level: number) => void)[] = [];

  /** Aborted at the second request: waits on installers give up. */
  get signal(): AbortSignal {
    return this.abortController.signal;
  }

  /** True once any stop was requested: no host, stage or installer is started after that. */
  get stopStarting(): boolean {
    return this.level >= 1;
  }

  get requested(): number {
    return this.level;
  }

  request(): number {
    this.level = Math.min(2, this.level + 1);
    if (this.level >= 2) this.abortController.abort();
    for (const listener of this.listeners) listener(this.level);
    return this.level;
  }

  /** Stops at once (the run lock was lost): nothing new starts and every wait gives up. */
  stopNow(): void {
    if (this.level >= 2) return;
    this.level = 2;
    this.abortController.abort();
    for (const listener of this.listeners) listener(this.level);
  }

  onRequest(listener: (level: number) => void): void {
    this.listeners.push(listener);
  }
}
