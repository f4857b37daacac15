/**
 * The synchronization state in which a replica is back in service, by its availability mode. A
 * synchronous-commit secondary that has caught up is SYNCHRONIZED. An asynchronous-commit secondary
 * never is: its databases report SYNCHRONIZING however far they have caught up, and that is their
 * healthy state (sys.dm_hadr_database_replica_states; NOT SYNCHRONIZING is the unhealthy one). Waiting
 * for SYNCHRONIZED on such a replica would wait forever, so its gate is SYNCHRONIZING and connected.
 * Only a SYNCHRONIZED synchronous-commit secondary is ever a failover target. Pure.
 */
export type SyncState = 'SYNCHRONIZED' | 'SYNCHRONIZING' | 'NOT SYNCHRONIZING';

export function inServiceSyncState(availabilityMode: string | null | undefined): SyncState {
  return availabilityMode?.toLowerCase() === 'asynchronous_commit' ? 'SYNCHRONIZING' : 'SYNCHRONIZED';
}

/** Whether a replica reporting `state` (and, where known, whether it is connected) is back in service. */
export function isInService(availabilityMode: string | null | undefined, state: string | null | undefined, connected: boolean | null | undefined = null): boolean {
  return connected !== false && state?.toUpperCase() === inServiceSyncState(availabilityMode);
}
