const GB = 1024 ** 3;

/** Drops a leading `SERVER: ` from a message that is about to be prefixed with the server again. */
export function stripServer(server: string, message: string): string {
  return message.startsWith(`${server}: `) ? message.slice(server.length + 2) : message;
}

export function formatGb(bytes: number): string {
  return `${(bytes / GB).toFixed(1)} GB`;
}

export function formatMinutes(minutes: number): string {
  if (minutes >= 1) return `${Number(minutes.toFixed(2))} min`;
  return `${Number((minutes * 60).toFixed(1))} s`;
}
