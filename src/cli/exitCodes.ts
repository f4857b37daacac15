/** The process exit codes, as the specification fixes them (plus 4 for a defect in the tool itself). */
export const EXIT = {
  /** Every target succeeded or was already up to date. */
  ok: 0,
  /** One or more targets failed, ended partial, or were skipped for a problem. */
  targetsFailed: 1,
  /** Configuration error, or a refusal (no confirmation, run lock held). */
  config: 2,
  /** No target could be reached at all. */
  connectivity: 3,
  /** An unexpected internal error: the message and stack trace are printed. */
  internal: 4,
  /**
   * This process lost the run lock while deploying (it was paused past the heartbeat's staleness and
   * another process took over): it stopped without recording more; the new owner settles the run.
   */
  lockLost: 5,
  /** Cancelled by the operator (Ctrl+C, SIGTERM, SIGHUP, SIGQUIT). */
  cancelled: 130,
} as const;
